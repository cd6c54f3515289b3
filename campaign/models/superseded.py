"""What is left of a submission another one of its address replaced when confirmed.

Confirming one submission deletes the address's other pending ones (their data and
mail go). Their links were mailed to the same address, and docs/routes.md promises
that such a link, clicked later, answers "already confirmed" rather than "invalid".
A link names its row and carries an HMAC of the row's nonce (services/intake/links.py), so
the check needs the nonce: this row keeps it, with the confirmed signature it points
to, and nothing personal. Purged with the pending rows, at CONFIRM_EXPIRY_DAYS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .common import BigId


class SupersededLink(db.Model):
    __tablename__ = "superseded_links"

    # The deleted submission's id: the id its links carry.
    signature_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    # The address's confirmed signature that replaced it.
    held_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("signatures.id", ondelete="CASCADE"), index=True
    )
    link_nonce: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime, index=True)
