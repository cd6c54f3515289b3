"""Helpers for the screen tests: confirmed signers made through the services."""

from __future__ import annotations

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from campaign.services.signer_data import consents
from tests.helpers import SLUG

NAMES = ["Shirin Rahimi", "Dariush Karimi", "Marie Dupont", "Leila Ahmadi", "Reza Tehrani"]


def confirmed_signers(
    app, n: int, *, public: bool = False, referrer: str | None = None, start: int = 0
) -> list[Signature]:
    """`n` confirmed signatures (emails s<i>@example.org), as if each clicked their link."""
    content = library().get(SLUG)
    made = []
    for i in range(start, start + n):
        outcome = signing.sign(
            content,
            signing.SignatureInput.from_raw(
                name=NAMES[i % len(NAMES)],
                email=f"s{i}@example.org",
                country="DE",
                public_consent=public,
                referrer_code=referrer,
                ip="127.0.0.1",
            ),
        )
        signature = db.session.get(Signature, outcome.signature_id)
        confirmation.confirm(
            content, links.make_token(signature, "confirm"), submitted(signature.id)
        )
        made.append(db.session.get(Signature, outcome.signature_id))
    return made


def submitted(signature_id: int) -> frozenset[str]:
    """The consents the submission ticked: its owner leaves them ticked on confirming."""
    return frozenset(key for key, given in consents.granted(signature_id).items() if given)
