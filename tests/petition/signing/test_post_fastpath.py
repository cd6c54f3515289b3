"""The fast path for the public POSTs (campaign/petition/signing/post_fastpath.py): a
valid sign POST or confirm POST is answered below Flask exactly as the view answers it,
and everything else is passed on to the view."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import Client

from campaign import i18n
from campaign.extensions import db
from campaign.models import Signature
from campaign.petition.signing import submit
from campaign.services.intake import links
from campaign.services.pages import counting
from campaign.web import signer_links
from tests.helpers import SLUG, sign_data


def spy_on(app, endpoint: str) -> list[str]:
    """Each call of a Flask view, by slug (the fast path never calls it)."""
    calls: list[str] = []
    view = app.view_functions[endpoint]

    def spy(slug: str, **kwargs):
        calls.append(slug)
        return view(slug=slug, **kwargs)

    app.view_functions[endpoint] = spy
    return calls


@pytest.fixture
def view_calls(app) -> list[str]:
    return spy_on(app, "petition.sign")


@pytest.fixture
def confirm_calls(app) -> list[str]:
    return spy_on(app, "petition.confirm")


def pending_token(client, email: str, prefix: str = "") -> str:
    client.post(f"{prefix}/{SLUG}/sign", data=sign_data(client, prefix=prefix, email=email))
    signature = db.session.scalars(select(Signature).order_by(Signature.id.desc())).first()
    return links.make_token(signature, "confirm")


def view_only_client(app) -> Client:
    """A client of the Flask app without either fast path (language prefix and the
    signer-link headers, the layers outside them, kept)."""
    flask_app = i18n.LanguagePrefixMiddleware(
        lambda environ, start: Flask.wsgi_app(app, environ, start), app.config["LANGUAGES"]
    )
    return Client(signer_links.SignerLinkHeaders(flask_app, app))


def cookie_attributes(response) -> dict[str, list[str]]:
    """Each Set-Cookie by name: its attributes (and the value, except the sealed note's,
    which differs on every request)."""
    cookies = {}
    for header in response.headers.getlist("Set-Cookie"):
        pair, *attributes = [part.strip() for part in header.split(";")]
        name, value = pair.split("=", 1)
        kept = [a for a in attributes if not a.startswith("Expires=")]  # a second apart
        cookies[name] = sorted(kept) + ([] if name == "inbox" else [value])
    return cookies


CASES = {  # prefix, cookies, headers
    "plain": ("", {}, {}),
    "persian prefix": ("/fa", {}, {}),
    "accept-language": ("", {}, {"Accept-Language": "fr-FR,fr;q=0.9"}),
    "language cookie": ("", {"lang": "fa"}, {}),
    "prefix over cookie": ("/fr", {"lang": "fa"}, {}),
    "same origin": ("", {}, {"Sec-Fetch-Site": "same-origin", "Origin": "http://localhost"}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_valid_signature_gets_the_views_answer_without_the_view(app, view_calls, case):
    prefix, cookies, headers = CASES[case]
    fast, slow = app.test_client(), view_only_client(app)
    for client in (fast, slow):
        for name, value in cookies.items():
            client.set_cookie(name, value)
    data = sign_data(fast, prefix=prefix)
    answers = [
        client.post(f"{prefix}/{SLUG}/sign", data=data | {"email": email}, headers=headers)
        for client, email in ((fast, "fast@example.org"), (slow, "slow@example.org"))
    ]
    assert view_calls == [SLUG]  # the second request only: the first never reached it
    quick, viewed = answers
    assert quick.status_code == viewed.status_code == 303
    assert quick.get_data() == viewed.get_data()
    plain = {k: v for k, v in viewed.headers.items() if k != "Set-Cookie"}
    assert {k: v for k, v in quick.headers.items() if k != "Set-Cookie"} == plain
    assert cookie_attributes(quick) == cookie_attributes(viewed)
    rows = db.session.execute(
        select(Signature.language, Signature.consent_wording_id).order_by(Signature.id)
    ).all()
    assert len(rows) == 2 and rows[0] == rows[1]  # same language, same consent wording


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},  # a refused field: the view shows the form with its message
        {"email": "not-an-address"},
        {"country": "XX"},
    ],
)
def test_a_refused_form_is_passed_on_to_the_view(client, app, view_calls, change):
    response = client.post(f"/{SLUG}/sign", data=sign_data(client) | change)
    assert response.status_code == 422 and view_calls == [SLUG]
    assert db.session.scalar(select(Signature.id)) is None


def test_anything_unusual_is_passed_on_to_the_view(client, app, view_calls):
    data = sign_data(client)
    client.post(f"/{SLUG}/sign?source=newsletter", data=data)  # a query string
    client.post(f"/{SLUG}/sign", data=data, content_type="multipart/form-data")
    client.post(f"/{SLUG}/sign", data=data | {"embed_token": "forged"})  # the embed form
    client.post(f"/{SLUG}/sign", data=b"name=%FF", content_type="application/x-www-form-urlencoded")
    assert view_calls == [SLUG] * 4


def test_a_cross_site_post_is_refused_by_the_view_hook_and_writes_nothing(client, app):
    data = sign_data(client)
    response = client.post(f"/{SLUG}/sign", data=data, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert db.session.scalar(select(Signature.id)) is None


def test_an_error_while_recording_is_answered_by_the_view(client, app, view_calls, monkeypatch):
    """The fast path passes a failed submission on; the view then answers it (here it
    records it, as the failure was the fast path's alone)."""
    real, failures = submit.accept, []

    def accept_failing_once(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(submit, "accept", accept_failing_once)
    response = client.post(f"/{SLUG}/sign", data=sign_data(client))
    assert response.status_code == 303 and view_calls == [SLUG]
    assert len(db.session.scalars(select(Signature.id)).all()) == 1


@pytest.mark.parametrize("prefix", ["", "/fa"])
def test_a_confirm_gets_the_views_answer_without_the_view(app, confirm_calls, prefix):
    fast, slow = app.test_client(), view_only_client(app)
    tokens = [pending_token(fast, f"{name}@example.org", prefix) for name in ("fast", "slow")]
    answers = [
        client.post(f"{prefix}/{SLUG}/confirm/{token}")
        for client, token in zip((fast, slow), tokens, strict=True)
    ]
    assert confirm_calls == [SLUG]  # the view-only client's request alone
    quick, viewed = answers
    assert quick.status_code == viewed.status_code == 303
    assert quick.headers["Location"].endswith(f"{prefix}/{SLUG}/confirm/{tokens[0]}")
    assert quick.headers["Cache-Control"] == "no-store"  # the link is the signer's key
    assert quick.headers["Referrer-Policy"] == "no-referrer"
    same = {k: v for k, v in viewed.headers.items() if k not in ("Set-Cookie", "Location")}
    assert {k: v for k, v in quick.headers.items() if k not in ("Set-Cookie", "Location")} == same
    assert cookie_attributes(quick) == cookie_attributes(viewed)
    campaign_id = db.session.scalars(select(Signature.campaign_id)).first()
    assert counting.confirmed_count(campaign_id, fresh=True) == 2


def test_a_confirm_that_does_not_confirm_is_shown_by_the_view(client, app, confirm_calls):
    """Confirming again: the fast path ran the confirm ("already") and hands the result
    to the view, which shows it without running it again."""
    token = pending_token(client, "twice@example.org")
    assert client.post(f"/{SLUG}/confirm/{token}").status_code == 303
    assert confirm_calls == []
    again = client.post(f"/{SLUG}/confirm/{token}")
    assert again.status_code == 200 and confirm_calls == [SLUG]
    assert "Thank you for signing" in again.get_data(as_text=True)
    assert client.post(f"/{SLUG}/confirm/1-{'0' * 40}").status_code == 404
    assert confirm_calls == [SLUG, SLUG]


@pytest.fixture
def limited(app_config):
    app_config.update(
        RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://", RATELIMIT_CONFIRM="3 per minute"
    )
    return app_config


def test_the_confirm_limit_counts_each_request_once(limited, client, app):
    token = pending_token(client, "limited@example.org")
    assert client.get(f"/{SLUG}/confirm/{token}").status_code == 200  # 1: the page
    assert client.post(f"/{SLUG}/confirm/{token}").status_code == 303  # 2: the fast path
    assert client.post(f"/{SLUG}/confirm/{token}").status_code == 200  # 3: "already", shown
    refused = client.post(f"/{SLUG}/confirm/{token}")
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    other_ip = client.post(f"/{SLUG}/confirm/{token}", environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert other_ip.status_code == 200


def test_a_cross_site_confirm_is_refused_by_the_view_hook(client, app):
    token = pending_token(client, "forged@example.org")
    response = client.post(f"/{SLUG}/confirm/{token}", headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert db.session.scalar(select(Signature.confirmed_at)) is None
