"""Issue 21, S4: the checkpoint list comes a page at a time, each page the same
checkpoints for good, with links to the others and a cap per page."""

from __future__ import annotations

import pytest

from campaign.petition import tlog_views
from campaign.services.log import transparency
from campaign.services.verifier import tlog_verify
from tests.helpers import SLUG
from tests.tlog.helpers import sign_and_confirm

PER_PAGE = 3


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(tlog_views, "CHECKPOINTS_PER_PAGE", PER_PAGE)


def checkpoints(client, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        sign_and_confirm(client, f"page{i}@example.org")
        transparency.checkpoint(SLUG)


def test_s4_the_checkpoint_list_is_paginated(client, app, small_pages):
    """Before, /<slug>/log/checkpoints answered every checkpoint ever signed (one a
    minute, half a million a year) in one response, on every request."""
    checkpoints(client, 7)
    first = client.get(f"/{SLUG}/log/checkpoints")
    assert first.status_code == 200
    body = first.get_json()
    assert len(body["checkpoints"]) == PER_PAGE and body["page"] == 0
    assert (body["pages"], body["total"], body["per_page"]) == (3, 7, PER_PAGE)
    assert body["prev"] is None and body["next"] == f"/{SLUG}/log/checkpoints?page=1"
    assert f'<{body["next"]}>; rel="next"' in first.headers["Link"]
    assert first.headers["Cache-Control"] == "public, max-age=300"  # a full page
    sizes, url = [], f"/{SLUG}/log/checkpoints"
    while url:
        page = client.get(url).get_json()
        sizes += [item["size"] for item in page["checkpoints"]]
        url = page["next"]
    assert sizes == list(range(1, 8))  # every checkpoint once, oldest first
    last = client.get(f"/{SLUG}/log/checkpoints?page=2")
    assert len(last.get_json()["checkpoints"]) == 1 and last.get_json()["next"] is None
    assert last.headers["Cache-Control"] == "public, max-age=5"  # it grows

    # Stable: a new checkpoint joins the last page; earlier pages keep theirs.
    before = client.get(f"/{SLUG}/log/checkpoints?page=1").get_json()["checkpoints"]
    checkpoints(client, 1, start=7)
    assert client.get(f"/{SLUG}/log/checkpoints?page=1").get_json()["checkpoints"] == before
    assert [
        c["size"] for c in client.get(f"/{SLUG}/log/checkpoints?page=2").get_json()["checkpoints"]
    ] == [7, 8]


@pytest.mark.parametrize(
    ("page", "status"), [("3", 404), ("-1", 400), ("x", 400), ("1" * 12, 400), ("٣", 400)]
)
def test_a_page_out_of_range_or_malformed_is_refused(client, app, small_pages, page, status):
    checkpoints(client, 4)
    assert client.get(f"/{SLUG}/log/checkpoints", query_string={"page": page}).status_code == status


def test_an_empty_log_has_one_empty_page(client, app):
    body = client.get(f"/{SLUG}/log/checkpoints").get_json()
    assert body["checkpoints"] == [] and body["pages"] == 1 and body["next"] is None


def test_the_verifier_follows_every_page(client, app, small_pages, monkeypatch):
    """The standalone verifier reads every page (here through the test client, so the
    small pages apply), and refuses a list whose pages don't advance."""
    checkpoints(client, 5)
    base = "http://petition.test"
    fetched = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        response = client.get(url.removeprefix(base))
        assert response.status_code == 200, url
        return response.data

    monkeypatch.setattr(tlog_verify, "fetch", fetch)
    report = tlog_verify.verify(f"{base}/{SLUG}/")
    # (The API's count is cached in this process from before the signatures.)
    assert [p for p in report.problems if "the site shows" not in p] == []
    assert report.checkpoints == 5 and report.consistency_proofs == 4
    assert f"{base}/{SLUG}/log/checkpoints?page=1" in fetched

    first_page = client.get(f"/{SLUG}/log/checkpoints").data
    monkeypatch.setattr(
        tlog_verify, "fetch", lambda url: first_page if "checkpoints" in url else fetch(url)
    )
    report = tlog_verify.verify(f"{base}/{SLUG}/")  # a mirror that ignores ?page=
    assert any("checkpoint page 1 came back as page 0" in p for p in report.problems)
