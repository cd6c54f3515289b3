"""The public pages: status codes and what they show."""

from tests.helpers import SLUG


def test_home_shows_the_campaign_with_form_and_count(client):
    page = client.get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "1988" in html
    assert 'action="/1988-massacre-inquiry/sign"' in html
    assert 'name="csrf_token"' not in html and 'name="started"' in html
    assert '<progress class="progress" max="10000" value="0"' in html
    assert f'<link rel="canonical" href="http://petition.test/{SLUG}/">' in html


def test_campaign_has_its_own_url_and_sources_section(client):
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Sources" in html
    assert "about 2020" in html


def test_missing_trailing_slash_redirects(client):
    response = client.get(f"/{SLUG}")
    assert response.status_code == 308
    assert response.headers["Location"].endswith(f"/{SLUG}/")


def test_unknown_slug_is_404_page(client):
    response = client.get("/no-such-campaign/")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_unknown_slug_sign_is_404(client):
    assert client.post("/no-such-campaign/sign", data={}).status_code in (400, 404)


def test_healthz_reports_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_empty_database_still_serves_the_page(client, app):
    from campaign.models import Campaign

    assert Campaign.query.count() == 0  # rows appear on first use
    assert client.get("/").status_code == 200
    assert Campaign.query.count() == 1


def test_country_list_is_localized(client):
    english = client.get(f"/{SLUG}/").get_data(as_text=True)
    french = client.get(f"/fr/{SLUG}/").get_data(as_text=True)
    assert '<option value="DE">Germany</option>' in english
    assert '<option value="DE">Allemagne</option>' in french
    assert '<option value="EU">' not in english


def test_wrong_method_is_405_with_allow(client):
    response = client.delete(f"/{SLUG}/sign")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]


def test_privacy_page(client):
    html = client.get("/privacy").get_data(as_text=True)
    assert "encrypted" in html


def test_oversized_body_is_413(client):
    response = client.post(f"/{SLUG}/sign", data={"comment": "x" * 200_000})
    assert response.status_code == 413
