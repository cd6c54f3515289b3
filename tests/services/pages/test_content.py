"""Campaign content from files: loading, sanitized Markdown, and the campaign's state."""

from __future__ import annotations

import os
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from campaign.services.pages.content import (
    ContentError,
    ContentLibrary,
    library,
    load_campaign,
    render_markdown,
)
from tests.helpers import ROOT, SLUG

TEXT = """
[text.en]
title = "Title {slug}"
summary = "Summary"
ask = "Ask"
addressee = "The UN"
petition_text = "We ask **you**."
share_text = "Share"
"""


def write_campaign(root: Path, slug: str, case: str = "Case.", meta: str = "") -> Path:
    folder = root / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "campaign.toml").write_text(f'slug = "{slug}"\n{meta}\n' + TEXT.format(slug=slug))
    (folder / "case.en.md").write_text(case)
    return folder


def test_the_first_campaign_loads_with_every_language(app):
    campaign = load_campaign(ROOT / "content" / SLUG)
    assert campaign.slug == SLUG and campaign.home
    assert set(campaign.languages) == {"en", "fa", "fr"}
    english = campaign.text("en")
    assert "1988" in english.title and english.addressee
    assert "Sources" in english.case_html
    assert "<script" not in english.case_html
    assert campaign.text("fa").title != english.title
    assert campaign.text("xx") is english  # unknown language: the default


def test_markdown_is_rendered_and_sanitized():
    html = render_markdown(
        "## Heading\n\n> a *quote*\n\n[link](https://example.org) "
        "<script>alert(1)</script> <img src=x onerror=alert(2)> "
        '[bad](javascript:alert(3)) <a href="https://x.example" onclick="alert(4)">x</a>'
        '\n\n<iframe src="https://evil.example"></iframe><style>body{}</style>'
    )
    assert "<h2>Heading</h2>" in html
    assert "<blockquote>" in html and "<em>quote</em>" in html
    assert 'href="https://example.org"' in html and 'rel="noopener noreferrer"' in html
    for forbidden in (
        "<script",
        "alert(1)",
        "<img",
        "onerror",
        "javascript:",
        "onclick",
        "<iframe",
        "<style",
    ):
        assert forbidden not in html, forbidden


@pytest.fixture
def make_app(app_config):
    """Apps on the test database with edited config; their engines are closed after."""
    from campaign import create_app
    from campaign.extensions import db

    apps = []

    def make(**overrides):
        apps.append(create_app({**app_config, **overrides}))
        return apps[-1]

    yield make
    for made in apps:
        with made.app_context():
            db.engine.dispose()


def test_script_in_markdown_never_reaches_the_page(tmp_path, make_app):
    write_campaign(
        tmp_path,
        "evil",
        "# Case\n\n<script>alert('pwned')</script>\n\n<p onmouseover=\"alert('x')\">hover</p>",
        "home = true",
    )
    client = make_app(CONTENT_DIR=str(tmp_path)).test_client()
    html = client.get("/evil/").get_data(as_text=True)
    assert "hover" in html
    assert "pwned" not in html and "onmouseover" not in html
    assert "<script>" not in html  # the only scripts are the site's own, by src
    assert client.get("/").status_code == 200


def test_missing_text_fields_are_an_error(tmp_path):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "campaign.toml").write_text('[text.en]\ntitle = "Only a title"\n')
    with pytest.raises(ContentError, match="lacks"):
        load_campaign(folder)


def test_bad_toml_is_an_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "campaign.toml").write_text("slug = [unclosed\n")
    with pytest.raises(ContentError):
        load_campaign(folder)


def test_default_language_must_have_text(tmp_path):
    folder = write_campaign(tmp_path, "nolang", meta='default_language = "fa"')
    with pytest.raises(ContentError, match="no \\[text.fa\\]"):
        load_campaign(folder)


def test_state_follows_status_and_dates(tmp_path):
    campaign = load_campaign(
        write_campaign(tmp_path, "dated", meta="opens = 2030-01-01\ncloses = 2030-12-31")
    )
    assert campaign.state(date(2029, 12, 31)) == "upcoming"
    assert campaign.state(date(2030, 1, 1)) == "open"
    assert campaign.state(date(2030, 12, 31)) == "open"
    assert campaign.state(date(2031, 1, 1)) == "closed"
    assert replace(campaign, status="archived").state(date(2030, 6, 1)) == "archived"
    assert not campaign.accepts_signatures  # today (before 2030) it is upcoming
    undated = load_campaign(write_campaign(tmp_path, "undated"))
    assert undated.state() == "open" and undated.accepts_signatures


def test_library_holds_several_campaigns_and_picks_the_home_one(tmp_path):
    write_campaign(tmp_path, "aaa")
    write_campaign(tmp_path, "bbb", meta="home = true")
    (tmp_path / "not-a-campaign").mkdir()
    content = ContentLibrary(tmp_path)
    assert {c.slug for c in content.all()} == {"aaa", "bbb"}
    assert content.home().slug == "bbb"
    assert content.get("nope") is None


def test_library_reloads_when_a_file_changes(tmp_path):
    folder = write_campaign(tmp_path, "live", "First version.")
    content = ContentLibrary(tmp_path)
    content.CHECK_EVERY = 0
    assert "First version." in content.get("live").text("en").case_html
    version = content.version
    case = folder / "case.en.md"
    case.write_text("Second version.")
    stamp = time.time() + 5  # a distinct mtime even on coarse clocks
    os.utime(case, (stamp, stamp))
    assert "Second version." in content.get("live").text("en").case_html
    assert content.version == version + 1


def test_empty_content_folder_means_no_campaigns(tmp_path, make_app):
    app = make_app(CONTENT_DIR=str(tmp_path / "missing"))
    with app.app_context():
        assert library().all() == [] and library().home() is None
    page = app.test_client().get("/")
    assert page.status_code == 200
