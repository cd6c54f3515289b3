"""Public POSTs carry no session token: a cross-site request is refused by where the
browser says it came from (Sec-Fetch-Site, else Origin, else Referer), before the view
runs. The rule for a request with none of the three is in docs/SECURITY.md: accepted."""

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from tests.helpers import SLUG, sign, sign_data

SITE = "http://localhost"  # the test client's origin
CROSS_SITE = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is another origin
    {"Sec-Fetch-Site": "cross-site", "Origin": SITE},  # Sec-Fetch-Site decides first
    {"Origin": "https://evil.example"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "null"},  # a sandboxed frame or data: URL posting the sign form
    {"Referer": "https://evil.example/page"},
    {"Referer": "not a url"},
]
SAME_SITE = [
    {"Sec-Fetch-Site": "same-origin"},
    {"Sec-Fetch-Site": "none"},  # typed or bookmarked
    {"Origin": SITE},
    {"Origin": "http://petition.test"},  # BASE_URL's origin (behind a proxy)
    {"Referer": f"{SITE}/{SLUG}/"},
    {},  # none of the three: not a browser, so not CSRF (documented rule)
]


def count() -> int:
    return db.session.scalar(select(func.count(Signature.id)))


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_sign_post_is_refused_and_writes_nothing(client, app, headers):
    data = sign_data(client)
    response = client.post(f"/{SLUG}/sign", data=data, headers=headers)
    assert response.status_code == 403
    assert "sent from another website" in response.get_data(as_text=True)
    assert count() == 0


@pytest.mark.parametrize("headers", SAME_SITE)
def test_same_site_sign_post_is_accepted(client, app, headers):
    response = client.post(f"/{SLUG}/sign", data=sign_data(client), headers=headers)
    assert response.status_code == 303
    assert count() == 1


def test_every_public_post_is_guarded(client, app):
    sign(client, email="guarded@example.org")
    signature = db.session.scalars(select(Signature)).one()
    paths = [
        f"/{SLUG}/sign",
        f"/{SLUG}/resend",
        f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}",
        f"/{SLUG}/withdraw/{links.make_token(signature, 'withdraw')}",
        f"/{SLUG}/unsubscribe/{links.make_token(signature, 'unsubscribe')}",
    ]
    for path in paths:
        for headers in CROSS_SITE:
            if headers == {"Origin": "null"} and "/sign" not in path and "/resend" not in path:
                continue  # see test_mailed_link_pages_accept_origin_null
            assert client.post(path, headers=headers).status_code == 403, (path, headers)
    db.session.refresh(signature)
    assert signature.status == "pending" and signature.email_enc is not None


def test_mailed_link_pages_accept_origin_null(client, app):
    """Those pages send Referrer-Policy: no-referrer, so a browser without
    Sec-Fetch-Site posts their form with `Origin: null`; the URL's token is the secret."""
    sign(client, email="null@example.org")
    signature = db.session.scalars(select(Signature)).one()
    confirm = f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}"
    assert client.post(confirm, headers={"Origin": "null"}).status_code == 303
    assert client.post(f"/{SLUG}/resend", headers={"Origin": "null"}).status_code == 403


def test_admin_keeps_its_session_csrf_token(client, app):
    response = client.post(
        "/admin/login",
        data={"email": "a@example.org", "password": "x"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 400  # no CSRF token: refused by Flask-WTF
