"""Export presets: the columns each one exports, and which signatures it takes (its
own rule ANDed with the signers table's filters)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from ..extensions import db
from ..models import Signature
from .signers import SignerFilter, apply_filter


@dataclass(frozen=True)
class Preset:
    """The columns a preset exports; which rows it takes is in `preset_query`, and its
    label is the export form's (`admin/forms.py`)."""

    columns: tuple[str, ...]


PRESETS = {
    # Confirmed signers who consented to contact.
    "mailing": Preset(
        ("email", "name", "given_name", "family_name", "country", "language", "action_date"),
    ),
    # Names and countries of confirmed signers who agreed to be named in the delivery.
    "delivery": Preset(("name", "country", "action_date")),
    # Every field of every matching signature.
    "full": Preset(
        (
            "id",
            "name",
            "email",
            "country",
            "language",
            "status",
            "flagged",
            "comment",
            "public_consent",
            "contact_consent",
            "source",
            "referrer_code",
            "created_at",
            "confirmed_at",
        ),
    ),
}


class ExportError(ValueError):
    pass


def preset_query(campaign_id: int, preset: str, filters: SignerFilter) -> Select:
    """The preset's own rule, ANDed with the table's filters."""
    if preset not in PRESETS:
        raise ExportError(_("Unknown preset %(preset)r.", preset=preset))
    query = apply_filter(select(Signature), campaign_id, filters)
    if preset in ("mailing", "delivery"):
        query = query.where(
            Signature.counted,
            Signature.erased_at.is_(None),
        )
    if preset == "mailing":
        query = query.where(Signature.contact_consent.is_(True), Signature.email_enc.is_not(None))
    if preset == "delivery":  # names go to the addressee only with that consent
        query = query.where(Signature.delivery_consent.is_(True))
    return query.order_by(Signature.id)


def count_rows(campaign_id: int, preset: str, filters: SignerFilter) -> int:
    query = preset_query(campaign_id, preset, filters).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))
