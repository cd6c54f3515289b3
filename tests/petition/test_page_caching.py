"""The cached campaign page: per-session tokens, fresh counts, ETag/304, static caching."""

import re

import pytest
from flask import g

from campaign.services import page_cache
from tests.conftest import SLUG, hidden_fields, sign_data


def visit(client, url: str, **kwargs):
    """GET as a separate request would in production.

    The `app` fixture holds one app context for the whole test, and Flask-WTF
    keeps the request's CSRF token in `g`, which lives in that context: drop it,
    so each visitor gets the token of their own session.
    """
    g.pop("csrf_token", None)
    return client.get(url, **kwargs)


@pytest.fixture
def app_config(app_config):
    app_config["COUNT_CACHE_SECONDS"] = 0  # counts are read fresh, so changes show at once
    return app_config


def test_second_visitor_is_served_from_cache_with_own_token(app):
    first, second = app.test_client(), app.test_client()
    page_one = visit(first, f"/{SLUG}/").get_data(as_text=True)
    page_two = visit(second, f"/{SLUG}/").get_data(as_text=True)
    assert len(app.extensions["campaign.page_cache"]) == 1
    token_one = hidden_fields(page_one)["csrf_token"]
    token_two = hidden_fields(page_two)["csrf_token"]
    assert token_one != token_two
    assert "\x00" not in page_two
    # The cached page's token works for its own session, and not for another's.
    data = hidden_fields(page_two) | {"name": "Sara K", "email": "sara@example.org",
                                      "country": "DE"}  # fmt: skip
    assert second.post(f"/{SLUG}/sign", data=data).status_code == 303
    stolen = hidden_fields(page_one) | {"name": "Eve", "email": "eve@example.org", "country": "DE"}
    assert app.test_client().post(f"/{SLUG}/sign", data=stolen).status_code == 400


def test_cached_page_has_a_fresh_started_stamp(app):
    from campaign.petition.forms import seconds_since_started

    client = app.test_client()
    visit(client, f"/{SLUG}/")  # fills the cache
    hit = hidden_fields(visit(client, f"/{SLUG}/").get_data(as_text=True))["started"]
    assert "page-cache" not in hit
    elapsed = seconds_since_started(hit)  # a valid signed stamp, made just now
    assert elapsed is not None and 0 <= elapsed < 60


def test_count_change_shows_on_the_page(app, client, mailbox):
    from tests.conftest import deliver

    assert '<progress class="progress" max="10000" value="0"' in visit(client, f"/{SLUG}/").text
    client.post(f"/{SLUG}/sign", data=sign_data(client))
    deliver(app)
    link = mailbox.links(mailbox.messages[-1], "confirm")[0]
    path = re.sub(r"^https?://[^/]+", "", link)
    page = visit(client, path)
    confirm = client.post(path, data=hidden_fields(page.get_data(as_text=True)))
    assert confirm.status_code == 303
    assert '<progress class="progress" max="10000" value="1"' in visit(client, f"/{SLUG}/").text


def test_languages_and_query_strings_are_cached_apart(app, client):
    french = visit(client, f"/fr/{SLUG}/").get_data(as_text=True)
    english = visit(client, f"/en/{SLUG}/").get_data(as_text=True)
    assert '<option value="DE">Allemagne</option>' in french
    assert '<option value="DE">Germany</option>' in english
    shared = visit(client, f"/en/{SLUG}/?ref=abc123").get_data(as_text=True)
    assert hidden_fields(shared)["ref"] == "abc123"
    assert hidden_fields(visit(client, f"/en/{SLUG}/").get_data(as_text=True))["ref"] == ""


def test_cache_headers_etag_and_304(app, client):
    response = visit(client, f"/{SLUG}/")
    assert response.status_code == 200
    cache_control = response.headers["Cache-Control"]
    assert "private" in cache_control and "stale-while-revalidate=" in cache_control
    etag = response.headers["ETag"]
    assert etag.startswith('W/"')
    assert response.headers["Last-Modified"]
    assert "Cookie" in response.headers["Vary"]

    again = visit(client, f"/{SLUG}/", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.get_data() == b""
    assert again.headers["ETag"] == etag

    # Another session's copy holds another token: never "not modified".
    stranger = visit(app.test_client(), f"/{SLUG}/", headers={"If-None-Match": etag})
    assert stranger.status_code == 200
    assert 'name="csrf_token"' in stranger.get_data(as_text=True)


def test_if_modified_since_needs_the_same_session(app, client):
    response = visit(client, f"/{SLUG}/")
    since = response.headers["Last-Modified"]
    assert visit(client, f"/{SLUG}/", headers={"If-Modified-Since": since}).status_code == 304
    fresh = visit(app.test_client(), f"/{SLUG}/", headers={"If-Modified-Since": since})
    assert fresh.status_code == 200


def test_etag_changes_when_the_count_changes(app, client):
    from campaign.services import counting
    from campaign.services.campaigns import campaign_ref
    from campaign.services.content import library

    etag = visit(client, f"/{SLUG}/").headers["ETag"]
    counting.adjust(campaign_ref(library().get(SLUG)).id, +1)
    from campaign.extensions import db

    db.session.commit()
    response = visit(client, f"/{SLUG}/", headers={"If-None-Match": etag})
    assert response.status_code == 200
    assert response.headers["ETag"] != etag


def test_form_errors_are_never_cached(app, client):
    data = sign_data(client, email="not-an-address")
    response = client.post(f"/{SLUG}/sign", data=data)
    assert response.status_code == 422
    assert "ETag" not in response.headers
    page = visit(client, f"/{SLUG}/").get_data(as_text=True)
    assert "not-an-address" not in page


def test_cache_can_be_turned_off(app, client):
    app.config["PAGE_CACHE_SECONDS"] = 0
    response = visit(client, f"/{SLUG}/")
    assert response.status_code == 200
    assert not app.extensions.get("campaign.page_cache")
    assert page_cache.enabled() is False


def test_static_assets_are_fingerprinted_with_far_future_caching(client):
    page = visit(client, f"/{SLUG}/").get_data(as_text=True)
    url = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page).group(1)
    response = visit(client, url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
