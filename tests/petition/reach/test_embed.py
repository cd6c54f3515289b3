"""The embeddable sign form: framing rules and its cookie-free, single-use token."""

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from tests.helpers import SLUG, hidden_fields


def embed_form(client, path: str = f"/{SLUG}/embed", **fields) -> dict:
    page = client.get(path)
    assert page.status_code == 200
    data = hidden_fields(page.get_data(as_text=True))
    data.update({"name": "Parisa Karimi", "email": "parisa@example.org", "country": "FR"})
    data.update(fields)
    return data


def signatures() -> list[Signature]:
    return db.session.scalars(select(Signature)).all()


def test_embed_page_may_be_framed_and_main_pages_may_not(client, app):
    app.config["EMBED_ALLOWED_ORIGINS"] = ["https://partner.example", "https://ngo.example"]
    embed = client.get(f"/{SLUG}/embed")
    csp = embed.headers["Content-Security-Policy"]
    assert "frame-ancestors https://partner.example https://ngo.example" in csp
    assert "X-Frame-Options" not in embed.headers
    html = embed.get_data(as_text=True)
    assert 'name="embed_token"' in html and 'name="csrf_token"' not in html
    assert 'class="site-header"' not in html
    assert "Set-Cookie" not in embed.headers or "session=" not in embed.headers["Set-Cookie"]
    for path in (f"/{SLUG}/", f"/{SLUG}/share", f"/{SLUG}/flyer", "/api"):
        response = client.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_embed_signs_without_any_cookie(app):
    # Two clients: the POST carries none of the cookies the GET may have set, as in a
    # cross-site iframe where SameSite=Lax cookies are withheld.
    data = embed_form(app.test_client(), source="partner-site")
    poster = app.test_client(use_cookies=False)
    inbox = poster.post(f"/{SLUG}/sign", data=data)
    # Answered in the iframe (no cookie to redirect with): check-inbox, framable.
    assert inbox.status_code == 200
    assert "Check your inbox" in inbox.get_data(as_text=True)
    assert "frame-ancestors *" in inbox.headers["Content-Security-Policy"]
    assert "Set-Cookie" not in inbox.headers
    [signature] = signatures()
    assert signature.source == "partner-site"


def test_embed_keeps_its_language(app):
    data = embed_form(app.test_client(), path=f"/fa/{SLUG}/embed")
    response = app.test_client(use_cookies=False).post(f"/fa/{SLUG}/sign", data=data)
    assert response.status_code == 200 and 'lang="fa"' in response.get_data(as_text=True)
    assert signatures()[0].language == "fa"
    assert signatures()[0].source == "embed"  # the default channel of the embed form


def test_forged_posts_are_refused(app):
    client = app.test_client(use_cookies=False)
    data = embed_form(app.test_client())
    # Sent from another site, with or without a token: refused by the origin check.
    without = {k: v for k, v in data.items() if k != "embed_token"}
    for sent in (without, data):
        refused = client.post(f"/{SLUG}/sign", data=sent, headers={"Sec-Fetch-Site": "cross-site"})
        assert refused.status_code == 403
    # A tampered token, a token bound to another form, and one for another campaign.
    token = data["embed_token"]
    bad_tokens = [token[:-2] + ("AA" if not token.endswith("AA") else "BB")]
    for bad in bad_tokens:
        assert client.post(f"/{SLUG}/sign", data={**data, "embed_token": bad}).status_code == 400
    other_form = embed_form(app.test_client())
    mixed = {**data, "embed_token": other_form["embed_token"]}
    if other_form["started"] != data["started"]:
        assert client.post(f"/{SLUG}/sign", data=mixed).status_code == 400
    from campaign.petition.reach import embedding

    with app.test_request_context():
        foreign = embedding.make_token("another-campaign", data["started"])
    refused = client.post(f"/{SLUG}/sign", data={**data, "embed_token": foreign})
    assert refused.status_code == 400
    assert "expired or came from another site" in refused.get_data(as_text=True)
    assert "frame-ancestors" in refused.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in refused.headers  # the message shows inside the iframe
    assert signatures() == []


def test_expired_embed_token_is_refused(app):
    app.config["EMBED_TOKEN_SECONDS"] = -1
    data = embed_form(app.test_client())
    response = app.test_client(use_cookies=False).post(f"/{SLUG}/sign", data=data)
    assert response.status_code == 400
    assert signatures() == []


def test_embed_form_errors_stay_in_the_embed(app):
    data = embed_form(app.test_client(), email="not-an-address")
    response = app.test_client(use_cookies=False).post(f"/{SLUG}/sign", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'class="embed"' in html and "error-summary" in html
    assert 'name="embed_token"' in html  # a fresh token for the corrected post
    assert "X-Frame-Options" not in response.headers
    fixed = {
        **hidden_fields(html),
        **{k: data[k] for k in ("name", "country")},
        "email": "fixed@example.org",
    }
    again = app.test_client(use_cookies=False).post(f"/{SLUG}/sign", data=fixed)
    assert again.status_code == 200  # check-inbox, in the iframe


def test_replayed_embed_token_is_refused(app):
    """The embed token was a reusable two-hour bearer token; now a post spends it."""
    data = embed_form(app.test_client(), email="once@example.org")
    poster = app.test_client(use_cookies=False)
    assert poster.post(f"/{SLUG}/sign", data=data).status_code == 200  # check-inbox, in the iframe
    replay = poster.post(f"/{SLUG}/sign", data={**data, "email": "twice@example.org"})
    assert replay.status_code == 400
    assert "expired or came from another site" in replay.get_data(as_text=True)
    assert [s.id for s in signatures()] and len(signatures()) == 1
    assert app.config["EMBED_TOKEN_SECONDS"] <= 30 * 60  # short-lived by default


def test_replayed_embed_token_is_refused_through_the_shared_limit_storage(app_config):
    """With rate limits on, the spent token is kept in their storage (Redis when set),
    which every instance shares."""
    import os

    from campaign import create_app
    from tests.helpers import TEST_REDIS_URL, require

    require(bool(TEST_REDIS_URL), "TEST_REDIS_URL is not set")
    app_config.update(
        RATELIMIT_ENABLED=True,
        RATELIMIT_SIGN="1000 per minute",
        RATELIMIT_STORAGE_URI=TEST_REDIS_URL,
        RATELIMIT_KEY_PREFIX=f"test-embed-{os.getpid()}-{id(app_config)}",
    )
    one, two = create_app(app_config), create_app(app_config)  # two instances
    with one.app_context():
        data = embed_form(one.test_client(), email="shared@example.org")
        assert (
            one.test_client().post(f"/{SLUG}/sign", data=data).status_code == 200
        )  # check-inbox, in the iframe
    with two.app_context():
        replay = two.test_client().post(f"/{SLUG}/sign", data=data)
    assert replay.status_code == 400


def test_the_normal_form_needs_no_session_token_but_a_same_site_post(client, app):
    from tests.helpers import sign_data

    data = sign_data(client)
    assert "embed_token" not in data and "csrf_token" not in data
    evil = client.post(f"/{SLUG}/sign", data=data, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    assert signatures() == []
    ours = client.post(f"/{SLUG}/sign", data=data, headers={"Origin": "http://localhost"})
    assert ours.status_code == 303


def test_csrf_switched_off_still_signs(app):
    app.config["WTF_CSRF_ENABLED"] = False
    from tests.helpers import sign

    assert sign(app.test_client(), email="nocsrf@example.org").status_code == 303
    data = embed_form(app.test_client(), email="nocsrf-embed@example.org")
    assert (
        app.test_client().post(f"/{SLUG}/sign", data=data).status_code == 200
    )  # check-inbox, in the iframe


def test_a_refused_token_gets_a_fresh_embed_form_and_an_unknown_campaign_a_404(app):
    client = app.test_client(use_cookies=False)
    data = embed_form(app.test_client())
    assert client.post(f"/{SLUG}/sign", data=data).status_code == 200  # check-inbox, in the iframe
    # The blueprint's handler answers the replay in the iframe, with a new form to send.
    replay = client.post(f"/{SLUG}/sign", data=data)
    assert replay.status_code == 400
    fresh = hidden_fields(replay.get_data(as_text=True))
    assert fresh["embed_token"] and fresh["embed_token"] != data["embed_token"]
    assert 'class="site-header"' not in replay.get_data(as_text=True)  # the embed page
    # A token sent to a campaign that doesn't exist: the 404 every unknown slug gets.
    assert client.post("/no-such-campaign/sign", data=data).status_code == 404


def form_fields(html: str, action: str) -> dict:
    """The hidden fields of the form posting to `action` on the page."""
    start = html.index(f'action="{action}"')
    return hidden_fields(html[start : html.index("</form>", start)])


def test_embed_check_inbox_resends_and_corrects_without_any_cookie(app):
    """Issue 24, item 9: the embed's check-inbox page has the site's resend and
    correct-address forms; the sealed note travels in them, as no cookie reaches a
    partner's iframe, and their bound token is bound to it."""
    poster = app.test_client(use_cookies=False)
    page = poster.post(
        f"/{SLUG}/sign", data=embed_form(app.test_client(), email="typo@example.net")
    )
    html = page.get_data(as_text=True)
    assert "ty•" in html or "example.net" in html  # the address, masked
    resend = form_fields(html, f"/{SLUG}/resend")
    assert resend["note"] and resend["embed"] == "1" and resend["bound"]
    again = poster.post(f"/{SLUG}/resend", data=resend)
    assert again.status_code == 200 and "we have sent the email again" in again.get_data(
        as_text=True
    )
    assert "frame-ancestors *" in again.headers["Content-Security-Policy"]
    # Another note (say, the forger's own) with this token: refused before the view.
    forged = {**resend, "note": resend["note"][:-4] + "AAA="}
    assert poster.post(f"/{SLUG}/resend", data=forged).status_code == 403

    correct = form_fields(html, f"/{SLUG}/correct-email")
    wrong = poster.post(
        f"/{SLUG}/correct-email",
        data={**correct, "typed": "someone@example.net", "email": "fixed@example.org"},
    )
    assert wrong.status_code == 422  # L7: the noted address must be retyped
    fixed = poster.post(
        f"/{SLUG}/correct-email",
        data={**correct, "typed": "typo@example.net", "email": "fixed@example.org"},
    )
    assert fixed.status_code == 200
    assert "sent the email to the corrected address" in fixed.get_data(as_text=True)
    assert "Set-Cookie" not in fixed.headers
