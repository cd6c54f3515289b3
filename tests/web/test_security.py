"""Response headers (campaign/web/security.py), ProxyFix, and shadow-limited signing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from campaign import create_app
from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.petition.forms import seconds_since_started, stamp_started
from campaign.services.intake import links
from campaign.services.pages import counting
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from tests.helpers import SLUG, deliver, hidden_fields, sign
from tests.helpers import test_config as make_config


def test_strict_csp_and_hardening_headers(client):
    response = client.get(f"/{SLUG}/")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "http" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "camera=()" in response.headers["Permissions-Policy"]
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


def test_pages_have_no_inline_script_or_style(client):
    for path in ("/", f"/{SLUG}/", f"/fa/{SLUG}/", f"/{SLUG}/check-inbox", "/privacy"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "style=" not in html and "<style" not in html, path


def test_hsts_over_https(client):
    response = client.get(f"/{SLUG}/", base_url="https://petition.test")
    assert "max-age=" in response.headers["Strict-Transport-Security"]


def test_proxyfix_trusts_only_the_configured_hops(database_url):
    app = create_app(make_config(database_url, TRUSTED_PROXIES=1))
    seen = {}

    @app.get("/_ip")
    def _ip():
        from flask import request

        seen["ip"], seen["secure"] = request.remote_addr, request.is_secure
        return "ok"

    client = app.test_client()
    headers = {"X-Forwarded-For": "1.1.1.1, 203.0.113.9", "X-Forwarded-Proto": "https"}
    client.get("/_ip", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert seen == {"ip": "203.0.113.9", "secure": True}  # one hop: the proxy's view

    plain = create_app(make_config(database_url, TRUSTED_PROXIES=0))
    plain.add_url_rule("/_ip", view_func=_ip)
    plain.test_client().get("/_ip", headers=headers, environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert seen == {"ip": "10.0.0.1", "secure": False}  # no proxy: headers are ignored
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def sign_limit(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_SIGN="2 per minute"
    )


def test_over_the_limit_signing_is_shadow_flagged_not_counted(sign_limit, client, app):
    for n in range(3):
        assert sign(client, email=f"burst{n}@example.org").status_code == 303
    rows = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    assert [s.flagged for s in rows] == [False, False, True]
    assert rows[2].flag_reason == "rate limit (ip)"
    # It looks the same to the signer and gets mail, but confirming doesn't count it.
    assert db.session.scalar(select(db.func.count(OutboxMessage.id))) == 3
    for signature in rows:
        client.post(f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}")
    assert counting.confirmed_count(rows[0].campaign_id, fresh=True) == 2


def test_honeypot_is_never_mailed_and_too_fast_is_mailed_flagged(client, app):
    app.config["MIN_FORM_SECONDS"] = 3
    page = client.get(f"/{SLUG}/")
    data = hidden_fields(page.get_data(as_text=True))
    data.update(name="Quick Hands", email="fast@example.org", country="DE")
    assert client.post(f"/{SLUG}/sign", data=data).status_code == 303  # too fast
    app.config["MIN_FORM_SECONDS"] = 0
    assert sign(client, email="trap@example.org", website="x").status_code == 303
    rows = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    assert [s.flag_reason for s in rows] == ["too fast", "honeypot"]
    # Autofill can be that fast (issue 9.17): the fast one gets its mail; the bot's doesn't.
    mailed = db.session.scalars(select(OutboxMessage.signature_id)).all()
    assert mailed == [rows[0].id]


def test_form_stamp_reads_only_its_own_signature(app):
    """The sign form's `started` stamp: a fresh one reads as seconds ago; anything
    forged, altered, from another key or malformed reads as missing (None)."""
    stamp = stamp_started()
    assert 0 <= seconds_since_started(stamp) < 5
    seconds, _, mac = stamp.partition(".")
    earlier = str(int(seconds) - 3600)  # claiming the form was open an hour
    altered = stamp[:-1] + ("1" if stamp.endswith("0") else "0")
    forged = [
        None,
        "",
        "x",
        seconds,
        f"{seconds}.",
        f"{earlier}.{mac}",
        altered,
        f"{seconds}.{mac}é",
        "²" + stamp[1:],
        "9" * 5000 + "." + mac,
    ]
    for bad in forged:
        assert seconds_since_started(bad) is None, bad
    app.config["SECRET_KEY"] = "another key"
    assert seconds_since_started(stamp) is None


def test_autofill_fast_signer_counts_after_confirming(client, app, mailbox):
    """Issue 9.17: a browser's autofill sent the form within MIN_FORM_SECONDS. The mailbox
    owner still gets the link, and confirming it counts; other flags still hold."""
    app.config["MIN_FORM_SECONDS"] = 3
    data = hidden_fields(client.get(f"/{SLUG}/").get_data(as_text=True))
    data.update(name="Autofill Person", email="autofill@example.org", country="DE")
    assert client.post(f"/{SLUG}/sign", data=data).status_code == 303
    deliver(app)
    [message] = mailbox.to("autofill@example.org")
    fast = db.session.scalar(select(Signature))
    assert fast.flagged and fast.flag_reason == "too fast"
    link = mailbox.links(message, "confirm")[0].replace("http://petition.test", "")
    assert client.get(link).status_code == 200
    assert client.post(link).status_code == 303
    db.session.expire_all()
    assert db.session.get(Signature, fast.id).counted
    assert counting.confirmed_count(fast.campaign_id, fresh=True) == 1
    # A rate-limit flag is another signal: confirming doesn't clear it.
    other = signing.sign(
        library().get(SLUG),
        signing.SignatureInput.from_raw(
            name="Burst Sender", email="burst@example.org", country="DE"
        ),
        flag_reason="rate limit (ip)",
    )
    held = db.session.get(Signature, other.signature_id)
    confirmation.confirm(library().get(SLUG), links.make_token(held, "confirm"))
    db.session.expire_all()
    assert not db.session.get(Signature, other.signature_id).counted
    assert counting.confirmed_count(fast.campaign_id, fresh=True) == 1


@pytest.fixture
def redis_down(app_config):
    from tests.helpers import free_port

    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{free_port()}/0"
    )


def test_limits_fail_open_when_redis_is_down(redis_down, client, app):
    """Signing must not stop because the rate-limit store did; it is logged instead."""
    assert sign(client, email="noredis@example.org").status_code == 303
    signature = db.session.scalars(select(Signature)).one()
    assert not signature.flagged
    confirm = f"/{SLUG}/confirm/{links.make_token(signature, 'confirm')}"
    assert client.get(confirm).status_code == 200
