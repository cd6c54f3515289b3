"""The public campaign page: the same bytes for everyone, cacheable, cookie-free,
answered from memory before Flask runs; counts still change; static files cached."""

import re

import pytest

from campaign.services.pages import cache, page_cache
from tests.helpers import SLUG, hidden_fields, sign_data


@pytest.fixture
def app_config(app_config):
    app_config["COUNT_CACHE_SECONDS"] = 60  # long enough to see the fast path serve
    app_config["PAGE_STALE_SECONDS"] = 30
    return app_config


def flask_calls(app) -> list:
    """Requests that reached Flask's request handling (the fast path skips it)."""
    calls: list = []
    app.before_request_funcs.setdefault(None, []).insert(0, lambda: calls.append(1))
    return calls


def test_plain_get_sets_no_cookie(app):
    for path in (f"/{SLUG}/", f"/fa/{SLUG}/", f"/fr/{SLUG}/", "/", f"/{SLUG}/?lang=fr"):
        for _ in range(2):  # the miss and the hit
            response = app.test_client().get(path)
            assert response.status_code == 200, path
            assert "Set-Cookie" not in response.headers, path


def test_page_is_the_same_bytes_for_every_visitor(app):
    one = app.test_client().get(f"/fa/{SLUG}/")
    other = app.test_client()
    other.set_cookie("session", "someone-else")
    two = other.get(f"/fa/{SLUG}/")
    assert one.get_data() == two.get_data()
    assert one.headers["ETag"] == two.headers["ETag"]
    assert not one.headers["ETag"].startswith("W/")  # strong: byte-identical
    assert one.headers["Cache-Control"] == "public, max-age=60, stale-while-revalidate=30"
    assert "Cookie" not in one.headers.get("Vary", "")  # the URL prefix decides the language
    html = one.get_data(as_text=True)
    assert 'name="csrf_token"' not in html and hidden_fields(html)["started"]


def test_unprefixed_page_varies_by_the_language_inputs(app):
    english = app.test_client().get(f"/{SLUG}/", headers={"Accept-Language": "en"})
    french = app.test_client().get(f"/{SLUG}/", headers={"Accept-Language": "fr"})
    assert '<option value="DE">Germany</option>' in english.get_data(as_text=True)
    assert '<option value="DE">Allemagne</option>' in french.get_data(as_text=True)
    assert {"Accept-Language", "Cookie"} <= {v.strip() for v in french.headers["Vary"].split(",")}
    cookie_client = app.test_client()
    cookie_client.set_cookie("lang", "fr")
    by_cookie = cookie_client.get(f"/{SLUG}/")
    assert '<option value="DE">Allemagne</option>' in by_cookie.get_data(as_text=True)


def test_repeat_gets_are_answered_before_flask(app):
    calls = flask_calls(app)
    first = app.test_client().get(f"/en/{SLUG}/")
    assert len(calls) == 1
    for _ in range(3):
        again = app.test_client().get(f"/en/{SLUG}/")
        assert again.get_data() == first.get_data()
        assert again.headers["ETag"] == first.headers["ETag"]
        assert again.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]
    assert len(calls) == 1  # the hits never reached Flask
    head = app.test_client().head(f"/en/{SLUG}/")
    assert head.status_code == 200 and head.get_data() == b"" and len(calls) == 1
    app.test_client().get(f"/en/{SLUG}/?ref=abc")  # another URL: its own entry
    assert len(calls) == 2


def test_etag_304_from_flask_and_from_the_fast_path(app):
    calls = flask_calls(app)
    etag = app.test_client().get(f"/{SLUG}/").headers["ETag"]
    page_cache.responses(app).clear()  # the next one is answered by Flask
    again = app.test_client().get(f"/{SLUG}/", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b"" and len(calls) == 2
    fast = app.test_client().get(f"/{SLUG}/")
    assert fast.status_code == 200 and len(calls) == 3  # Flask's 304 was not kept
    hit = app.test_client().get(f"/{SLUG}/", headers={"If-None-Match": etag})
    assert hit.status_code == 304 and hit.headers["ETag"] == etag and len(calls) == 3
    other = app.test_client().get(f"/{SLUG}/", headers={"If-None-Match": '"other"'})
    assert other.status_code == 200


def test_count_change_shows_once_counts_are_forgotten(app, client, mailbox):
    from tests.helpers import deliver

    assert '<progress class="progress" max="10000" value="0"' in client.get(f"/{SLUG}/").text
    client.post(f"/{SLUG}/sign", data=sign_data(client))
    deliver(app)
    link = mailbox.links(mailbox.messages[-1], "confirm")[0]
    assert client.post(re.sub(r"^https?://[^/]+", "", link)).status_code == 303
    app.config["COUNT_CACHE_SECONDS"] = 0  # (or wait COUNT_CACHE_SECONDS)
    cache.signatures_changed()
    assert '<progress class="progress" max="10000" value="1"' in client.get(f"/{SLUG}/").text


def test_page_says_the_count_may_lag(client):
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "updated every" in html


def test_languages_and_query_strings_are_cached_apart(app, client):
    french = client.get(f"/fr/{SLUG}/").get_data(as_text=True)
    english = client.get(f"/en/{SLUG}/").get_data(as_text=True)
    assert '<option value="DE">Allemagne</option>' in french
    assert '<option value="DE">Germany</option>' in english
    shared = client.get(f"/en/{SLUG}/?ref=abc123").get_data(as_text=True)
    assert hidden_fields(shared)["ref"] == "abc123"
    assert hidden_fields(client.get(f"/en/{SLUG}/").get_data(as_text=True))["ref"] == ""


def test_cached_page_stamp_signs(app):
    """The `started` stamp is minted when the page is built and shared by its readers;
    it still signs (the time trap then counts from the build: docs/SECURITY.md)."""
    from campaign.petition.forms import seconds_since_started

    client = app.test_client()
    client.get(f"/{SLUG}/")
    stamp = hidden_fields(client.get(f"/{SLUG}/").get_data(as_text=True))["started"]
    elapsed = seconds_since_started(stamp)
    assert elapsed is not None and 0 <= elapsed < 60
    assert client.post(f"/{SLUG}/sign", data=sign_data(client)).status_code == 303


def test_form_errors_are_never_cached(app, client):
    data = sign_data(client, email="not-an-address")
    response = client.post(f"/{SLUG}/sign", data=data)
    assert response.status_code == 422
    assert "ETag" not in response.headers
    assert "public" not in response.headers.get("Cache-Control", "")
    assert "not-an-address" not in client.get(f"/{SLUG}/").get_data(as_text=True)


def test_cache_can_be_turned_off(app, client):
    app.config["PAGE_CACHE_SECONDS"] = 0
    response = client.get(f"/{SLUG}/")
    assert response.status_code == 200
    assert not cache.store(cache.PAGES, app)
    assert not page_cache.responses(app)
    assert page_cache.enabled() is False


def test_static_assets_are_fingerprinted_with_far_future_caching(client):
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    url = re.search(r'href="(/static/css/site\.css\?v=[0-9a-f]{12})"', page).group(1)
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
