"""Admin test helpers: accounts for each role, signing in, and signatures made directly."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import g

from campaign.extensions import db
from campaign.models import Signature, SignatureStatus, utcnow
from campaign.services.pages import cache, counting
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.sealing import crypto
from campaign.services.signatures import signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG

PASSWORD = "correct horse battery staple"
EMAILS = {
    "owner": "owner@admin.test",
    "organizer": "organizer@admin.test",
    "viewer": "viewer@admin.test",
}


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def forget_cached_csrf() -> None:
    """The tests' app context outlives requests, and Flask-WTF caches the token in `g`:
    drop it so a second test client gets a token for its own session."""
    g.pop("csrf_token", None)


def login(client, email: str, password: str = PASSWORD):
    forget_cached_csrf()
    page = client.get("/admin/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post(
        "/admin/login", data={"csrf_token": token, "email": email, "password": password}
    )


def token_for(client, path: str = "/admin/account") -> str:
    forget_cached_csrf()
    return csrf_from(client.get(path).get_data(as_text=True))


def fresh_g_per_request(app) -> None:
    """In production each request gets its own app context (and `g`). The test app's
    context spans the whole test, so Flask-Login's cached user and Flask-WTF's cached
    token would leak from one client's request into another's: clear them per request."""

    def clear_request_caches() -> None:
        g.pop("_login_user", None)
        g.pop("csrf_token", None)

    app.before_request_funcs.setdefault(None, []).insert(0, clear_request_caches)


def campaign_content():
    return library().get(SLUG)


def make_signature(
    name: str = "Maryam Ahmadi",
    email: str = "maryam@example.org",
    country: str = "DE",
    *,
    status: str = SignatureStatus.CONFIRMED,
    contact: bool = True,
    comment: str | None = None,
    source: str | None = None,
    language: str = "en",
    ip: str | None = "203.0.113.9",
    ago: timedelta | None = None,
    raw_name: str | None = None,
    raw_comment: str | None = None,
) -> Signature:
    """A signature recorded through the signing service, then moved to `status`.

    `raw_name` / `raw_comment` bypass validation (as data imported from elsewhere
    would), for the CSV injection tests.
    """
    content = campaign_content()
    outcome = signing.sign(
        content,
        SignatureInput.from_raw(
            name=name,
            email=email,
            country=country,
            comment=comment,
            contact_consent=contact,
            public_consent=False,
            language=language,
            source=source,
            ip=ip,
        ),
        send_mail=False,
    )
    signature = db.session.get(Signature, outcome.signature_id)
    if raw_name is not None:
        signature.name_enc = crypto.seal_signer(raw_name, "name_enc", signature.row_key)
    if raw_comment is not None:
        signature.comment_enc = crypto.seal_signer(raw_comment, "comment_enc", signature.row_key)
    if ago is not None:
        signature.created_at = utcnow() - ago
    if status != SignatureStatus.PENDING:
        signature.status = status
        if status in (SignatureStatus.CONFIRMED, SignatureStatus.WITHDRAWN):
            signature.confirmed_at = signature.created_at + timedelta(minutes=5)
        if signature.counted:
            counting.adjust(signature.campaign_id, +1)
    db.session.commit()
    cache.signatures_changed()
    return signature


def campaign_row():
    return get_row(campaign_content())
