"""Test data for the reach features: confirmed signatures made through the services."""

from __future__ import annotations

import itertools

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.services.pages import cache
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from campaign.services.signatures.signing import SignatureInput
from campaign.services.signer_data import consents
from tests.helpers import SLUG

_serial = itertools.count()


def confirmed_signature(
    *,
    name: str = "Maryam Ahmadi",
    country: str = "DE",
    public_consent: bool = False,
    comment: str | None = None,
    slug: str = SLUG,
    language: str = "en",
    source: str | None = None,
    confirm: bool = True,
    comment_consent: bool = False,
) -> Signature:
    """A signature made by the signing service, then confirmed as the email link would."""
    content = library().get(slug)
    n = next(_serial)
    outcome = signing.sign(
        content,
        SignatureInput.from_raw(
            name=name,
            email=f"signer{n}@example.org",
            country=country,
            comment=comment,
            public_consent=public_consent,
            language=language,
            source=source,
            comment_consent=comment_consent,
        ),
    )
    signature = db.session.get(Signature, outcome.signature_id)
    if confirm:
        result = confirmation.confirm(
            content, links.make_token(signature, "confirm"), submitted(signature.id)
        )
        assert result.state == "confirmed"
    cache.signatures_changed()
    cache.forget(cache.PUBLIC_LISTS)
    return signature


def submitted(signature_id: int) -> frozenset[str]:
    """The consents the submission ticked: its owner leaves them ticked on confirming."""
    return frozenset(key for key, given in consents.granted(signature_id).items() if given)
