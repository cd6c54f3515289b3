"""Export presets: the columns each one exports, and which signatures it takes (its
own rule ANDed with the signers table's filters)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import Select, func, select

from ...extensions import db
from ...models import Signature
from ..signer_data import consents
from ..signer_data.signers import SignerFilter, apply_filter


@dataclass(frozen=True)
class Preset:
    """The columns a preset exports; which rows it takes is in `preset_query`, and its
    label is the export form's (`admin/forms.py`). `every_consent`: each consent of the
    registry (services/signer_data/consents.py) as a yes/no column after `head`."""

    head: tuple[str, ...]
    every_consent: bool = False
    tail: tuple[str, ...] = ()

    @property
    def columns(self) -> tuple[str, ...]:
        chosen = tuple(c.column for c in consents.all_consents()) if self.every_consent else ()
        return (*self.head, *chosen, *self.tail)


PRESETS = {
    # Confirmed signers who gave every consent to hear from the organizers (contact).
    "mailing": Preset(
        ("email", "name", "given_name", "family_name", "country", "language", "action_date"),
    ),
    # Names and countries of confirmed signers who gave every consent naming them to the
    # addressees (delivery).
    "delivery": Preset(("name", "country", "action_date")),
    # Every field of every matching signature.
    "full": Preset(
        ("id", "name", "email", "country", "language", "status", "flagged", "comment"),
        every_consent=True,
        tail=("source", "referrer_code", "created_at", "confirmed_at"),
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
        query = query.where(
            *consents.given(consents.ORGANIZERS),
            Signature.email_enc.is_not(None),
            Signature.mailbox_confirmed,  # a paper row's address once its owner confirmed
        )
    if preset == "delivery":  # names go to the addressees only with that consent
        query = query.where(*consents.given(consents.ADDRESSEES))
    return query.order_by(Signature.id)


def count_rows(campaign_id: int, preset: str, filters: SignerFilter) -> int:
    query = preset_query(campaign_id, preset, filters).order_by(None)
    return db.session.scalar(select(func.count()).select_from(query.subquery()))
