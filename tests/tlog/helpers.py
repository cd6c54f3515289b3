"""Signing and confirming through the real routes, for the transparency-log tests."""

from __future__ import annotations

import re

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services import links
from tests.helpers import SLUG, sign


def sign_and_confirm(client, email: str, name: str = "Maryam Ahmadi") -> tuple[Signature, str]:
    """Returns the signature and the thank-you page's HTML."""
    assert sign(client, email=email, name=name).status_code == 303
    signature = db.session.scalars(select(Signature).order_by(Signature.id.desc()).limit(1)).one()
    token = links.make_token(signature, "confirm")
    assert client.get(f"/{SLUG}/confirm/{token}").status_code == 200
    response = client.post(f"/{SLUG}/confirm/{token}", follow_redirects=True)
    assert response.status_code == 200
    db.session.expire_all()
    return db.session.get(Signature, signature.id), response.get_data(as_text=True)


def receipt_from(html: str) -> str:
    return re.search(r'<code class="receipt-text" dir="ltr">([^<]+)</code>', html).group(1)
