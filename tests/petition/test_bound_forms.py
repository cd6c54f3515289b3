"""Issue 21, S3: an old browser sends none of Sec-Fetch-Site, Origin and Referer, so
another site can make it post. Every public POST that acts on something the browser
holds carries a token bound to it; every other one is listed, with the reason a
forged post gains nothing, in docs/SECURITY.md. Routes come from the URL map."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from campaign.extensions import csrf, db
from campaign.models import OutboxMessage, Signature
from campaign.petition import bound_forms
from campaign.services.signatures import inbox
from campaign.web.signer_links import SignerToken
from tests.helpers import ROOT, SLUG, deliver, hidden_fields, sign

FORGED = "1-" + "0" * 40


def outbox_rows() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def post_rules(app) -> list:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if "POST" in rule.methods),
        key=lambda rule: rule.rule,
    )


def example_url(rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = (
            FORGED if isinstance(converter, SignerToken) else SLUG if name == "slug" else "1"
        )
    return rule.build(values)[1]


def exempt_from_session_csrf(app, url: str) -> bool:
    with app.test_request_context(url, method="POST"):
        return csrf._is_exempt()


def documented(rule) -> bool:
    """docs/SECURITY.md names the route (`/<slug>/confirm/<token>`, converters dropped)."""
    text = (ROOT / "docs" / "SECURITY.md").read_text(encoding="utf-8")
    shown = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
    section = text.partition("## Forged posts from old browsers")[2].partition("\n## ")[0]
    return f"`{shown}`" in section


def test_s3_a_forged_resend_from_an_old_browser_does_nothing(client, app):
    """Before, a page on another site could make an old browser (no Sec-Fetch-Site,
    Origin or Referer) post "send it again" to the address its note holds, again
    and again: the mail a signer never asked for, from our server."""
    assert sign(client, email="victim@example.org").status_code == 303
    deliver(app)
    before = outbox_rows()
    forged = client.post(f"/{SLUG}/resend")  # the note cookie goes along; no headers
    assert forged.status_code == 403
    fixed = client.post(f"/{SLUG}/correct-email", data={"email": "attacker@example.net"})
    assert fixed.status_code == 403
    assert outbox_rows() == before
    signature = db.session.scalars(select(Signature)).one()
    assert signature.status == "pending"

    # The page's own form carries the token, so the signer's resend works.
    form = hidden_fields(client.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    assert form[bound_forms.FIELD]
    assert client.post(f"/{SLUG}/resend", data=form).status_code == 303


def test_the_token_is_bound_to_this_browsers_note(client, app):
    """Another browser's token, or one from before the note changed, is refused."""
    sign(client, email="first@example.org")
    old = hidden_fields(client.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    sign(client, email="second@example.org")  # a new note
    assert client.post(f"/{SLUG}/resend", data=old).status_code == 403
    other = app.test_client()
    sign(other, email="other@example.org")
    theirs = hidden_fields(other.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    assert client.post(f"/{SLUG}/resend", data=theirs).status_code == 403
    mine = hidden_fields(client.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    assert client.post(f"/{SLUG}/resend", data=mine).status_code == 303


def test_every_public_post_is_bound_or_documented(client, app):
    """From the URL map: each POST route is guarded by the admin's session token, or
    requires the token bound to the cookie it acts on, or is on the documented list
    of posts a forger gains nothing by. A new POST route fails until classified."""
    classified = set(bound_forms.BOUND) | set(bound_forms.UNBOUND)
    assert not set(bound_forms.BOUND) & set(bound_forms.UNBOUND)
    public = []
    for rule in post_rules(app):
        url = example_url(rule)
        if not exempt_from_session_csrf(app, url):
            # Flask-WTF's session token: refused before the view without it.
            response = client.post(url)
            assert response.status_code == 400, (rule.rule, response.status_code)
            continue
        public.append(rule.endpoint)
        assert rule.endpoint in classified, f"{rule.rule}: bound or documented?"
        if rule.endpoint in bound_forms.UNBOUND:
            assert documented(rule), f"docs/SECURITY.md must say why {rule.rule} is safe"
            continue
        cookie = bound_forms.BOUND[rule.endpoint]
        client.set_cookie(cookie, inbox.make_note(SLUG, "held@example.org", None))
        for data in ({}, {bound_forms.FIELD: ""}, {bound_forms.FIELD: "x" * 24}):
            response = client.post(url, data={**data, "email": "x@example.org"})
            assert response.status_code == 403, (rule.rule, data)
        client.delete_cookie(cookie)
    assert set(public) == classified  # no stale entry either
