"""The organizer's desk as seen in Chromium (issue 10, items 11-15)."""

from __future__ import annotations

import re

import pytest

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.admins import accounts
from campaign.services.signer_data import consents
from tests.admin.helpers import make_signature
from tests.browser.helpers import describe, serious_violations
from tests.helpers import SLUG

PASSWORD = "a long browser password"


@pytest.fixture
def desk(app, live_server, new_context):
    """An owner signed in, two signers (one via a source), a live server."""
    app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    accounts.create("owner@browser.test", PASSWORD, "owner")
    first = make_signature("Maryam Ahmadi", "maryam@example.org", "DE", source="twitter")
    make_signature("Reza Karimi", "reza@example.net", "FR")
    server = live_server()
    page = new_context().new_page()
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email address").fill("owner@browser.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/admin/")
    return server, page, first


def menu(page) -> list[str]:
    return [t.strip() for t in page.locator(".admin-nav li").all_inner_texts()]


def test_erase_needs_a_confirmation_page_in_a_danger_style(desk, app):
    server, page, signer = desk
    page.goto(f"{server.url}/admin/{SLUG}/signers/{signer.id}")
    zone = page.locator(".danger-zone")
    # Apart from everyday actions: below them and the back link, in a red frame.
    assert zone.bounding_box()["y"] > page.locator("form.action").last.bounding_box()["y"]
    style = "(e) => getComputedStyle(e)"
    assert page.evaluate(f"{style}.borderTopColor", zone.element_handle()) == "rgb(163, 0, 0)"
    invalidate = page.get_by_role("button", name="Invalidate").element_handle()
    # Everyday actions are not styled as danger.
    assert page.evaluate(f"{style}.backgroundColor", invalidate) != "rgb(163, 0, 0)"
    zone.get_by_role("link", name="Erase personal data…").click()
    assert page.get_by_role("heading", level=1).inner_text().startswith("Erase the personal data")
    assert "the email address, so we can never write to this signer again" in page.content()
    db.session.expire_all()
    assert db.session.get(Signature, signer.id).email_enc is not None  # nothing erased yet
    page.get_by_role("button", name="Erase for good").click()
    page.wait_for_url(f"**/signers/{signer.id}")
    db.session.expire_all()
    assert db.session.get(Signature, signer.id).email_enc is None
    assert not serious_violations(page), describe(serious_violations(page))


def test_dashboard_charts_are_legible_and_say_what_they_count(desk):
    server, page, _ = desk
    page.goto(f"{server.url}/admin/{SLUG}/")
    sizes = page.evaluate(
        "[...document.querySelectorAll('svg.chart text')]"
        ".map(t => t.getBoundingClientRect().height)"
    )
    assert sizes and min(sizes) >= 12, sizes  # rendered size on screen, not just the attribute
    ticks = page.locator("svg.chart").first.locator("text[text-anchor=end]").all_text_contents()
    assert len(ticks) >= 3 and ticks[0] == "0"
    labels = page.locator("svg.chart").first.locator("text:not([text-anchor])").all_text_contents()
    assert all(re.fullmatch(r"\d\d/\d\d \d\d:00", label) for label in labels), labels
    assert "every sign-up" in page.locator(".chart-note").inner_text()
    countries = page.locator("#countries-h + table").inner_text()
    assert "Germany" in countries and "France" in countries
    sources = page.locator("#sources-h ~ table").first.inner_text()
    assert "twitter" in sources and "Direct visits (no source)" in sources
    assert page.locator("#stat-direct").inner_text() == "1"  # 1 + 1 = the 2 counted


def test_signers_list_links_names_filters_by_country_name_and_scrolls_on_a_phone(desk, new_context):
    server, page, signer = desk
    page.goto(f"{server.url}/admin/{SLUG}/signers")
    assert page.locator(".result-count").inner_text() == "2 signers match."
    assert "reads up to 20,000 signers one by one" in page.locator("label[for=fuzzy]").inner_text()
    page.get_by_label("Country", exact=True).fill("Germany")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    assert page.locator(".result-count").inner_text() == "1 signer matches."
    page.get_by_role("link", name="Maryam Ahmadi").click()
    page.wait_for_url(f"**/signers/{signer.id}")
    # Timestamps: the organizer's locale, to the second, never microseconds.
    signed = page.locator(".details dd").nth(9).inner_text()
    assert not re.search(r"\d\d:\d\d:\d\d\.\d", signed) and "UTC" in signed
    # On a phone the table scrolls in its own box; the page does not widen.
    phone = page.context
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{server.url}/admin/{SLUG}/signers")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = page.locator(".table-scroll")
    assert page.evaluate("(b) => b.scrollWidth > b.clientWidth", box.element_handle())
    del phone


def test_audit_log_reads_as_sentences_with_filter_links_and_the_same_menu(desk):
    server, page, signer = desk
    page.goto(f"{server.url}/admin/{SLUG}/signers/{signer.id}")
    page.get_by_label("Reason").fill("duplicate")
    page.get_by_role("button", name="Invalidate").click()
    page.wait_for_load_state()
    dashboard_menu = menu(page)
    page.goto(f"{server.url}/admin/audit")
    assert menu(page) == dashboard_menu  # the same admin menu on every page
    page.get_by_label("Action").select_option("signature.invalidate")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    rows = page.locator("table.audit tbody tr")
    assert rows.count() == 1
    sentence = rows.first.locator(".sentence").inner_text()
    assert sentence == f"owner@browser.test invalidated signer #{signer.id}: “duplicate”."
    rows.first.get_by_role("link", name=f"signer #{signer.id}").click()
    page.wait_for_url(f"**/signers/{signer.id}")
    when = page.goto(f"{server.url}/admin/audit") and page.locator("td.when").first.inner_text()
    assert not re.search(r"\.\d{3,}", when)


def test_invalidating_without_a_reason_shows_the_error_beside_the_field(desk):
    server, page, signer = desk
    page.goto(f"{server.url}/admin/{SLUG}/signers/{signer.id}")
    page.get_by_role("button", name="Invalidate").click()
    page.wait_for_load_state()
    assert page.title().startswith("Error:")
    error = page.locator("#reason-error")
    gap = page.locator("#reason").bounding_box()["y"] - error.bounding_box()["y"]
    assert error.is_visible() and 0 < gap < 80


def test_api_is_linked_from_the_footer_with_clickable_endpoints(live_server, page):
    server = live_server()
    page.goto(f"{server.url}/privacy")
    page.locator(".site-footer").get_by_role("link", name="Open data: the public API").click()
    page.wait_for_url("**/api")
    assert page.locator(".sample-response").is_visible()
    page.locator(".api-page dt a").first.click()
    assert '"petitions"' in page.content() or "osdi:petitions" in page.content()


def test_signer_page_shows_every_consent_of_the_registry_and_the_language_name(desk):
    server, page, _ = desk
    persian = make_signature(
        "Nima Rahimi", "nima@example.org", "IR", language="fa", comment="عدالت"
    )
    page.goto(f"{server.url}/admin/{SLUG}/signers/{persian.id}")
    details = {
        dt.inner_text().strip(): dd
        for dt, dd in zip(
            page.locator("dl.details dt").all(), page.locator("dl.details dd").all(), strict=True
        )
    }
    assert details["Language"].inner_text().strip() == "فارسی"  # not "fa"
    shown = details["Consents"].locator("li").all_inner_texts()
    assert [s.rsplit(":", 1)[0] for s in shown] == [str(c.label) for c in consents.all_consents()]
    assert any(s.startswith("Show my comment") for s in shown)  # the comment consent
    assert any(s.startswith("Give my full name") for s in shown)  # and the delivery one


def test_updates_page_previews_counts_by_language_and_mails_no_one_by_default(desk):
    server, page, _ = desk
    make_signature("Nima Rahimi", "nima@example.org", "IR", language="fa")
    make_signature("Claire Martin", "claire@example.org", "FR", language="fr")
    page.goto(f"{server.url}/admin/{SLUG}/updates")
    assert not page.get_by_label("Email it to signers who agreed to hear from us").is_checked()
    assert page.locator("#audience-all").inner_text() == (
        "4 signers agreed to hear from us: 2 English, 1 فارسی, 1 Français."
    )
    title_fa = page.locator("#title_fa")
    title_fa.fill("سازمان ملل صدای ما را شنید")
    direction = "(e) => getComputedStyle(e).direction"
    assert page.evaluate(direction, title_fa.element_handle()) == "rtl"  # typed Persian reads RTL
    assert page.evaluate(direction, page.locator("#title_en").element_handle()) == "ltr"
    assert page.locator("#body_en").bounding_box()["height"] >= 250  # a body box to write in
    page.locator("#body_fa").fill("دادخواست ما دریافت شد.")
    page.locator("#title_en").fill("The UN heard us")
    page.locator("#body_en").fill("Our petition was received.")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_load_state()
    assert (
        page.locator("#audience")
        .inner_text()
        .startswith(
            "3 people will get this: 2 English, 1 فارسی.\n1 will not, as there is no text in "
            "their language: 1 Français."
        )
    )
    persian = page.locator("article.mail-preview[lang=fa] pre")
    assert "سازمان ملل" in persian.inner_text() and "Hello" not in persian.inner_text()
    assert page.evaluate(direction, persian.element_handle()) == "rtl"
    assert page.locator("#title_fa").input_value() == "سازمان ملل صدای ما را شنید"  # kept
    page.get_by_role("button", name="Send me a test").click()
    page.wait_for_load_state()
    assert "on its way to owner@browser.test" in page.locator(".flash").inner_text()
    assert not serious_violations(page), describe(serious_violations(page))


def test_audit_log_filters_by_person_and_day(desk):
    server, page, signer = desk
    page.goto(f"{server.url}/admin/{SLUG}/signers/{signer.id}")
    page.goto(f"{server.url}/admin/audit")
    page.get_by_label("Person").select_option("owner@browser.test")
    today = page.evaluate("new Date().toISOString().slice(0, 10)")
    page.get_by_label("From (UTC day)").fill(today)
    page.get_by_label("To (UTC day)").fill(today)
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    said = page.locator("table.audit td.sentence").all_inner_texts()
    assert said and all(s.startswith("owner@browser.test ") for s in said)
    assert f"owner@browser.test looked at the page of signer #{signer.id}." in said
    assert not any("=" in s for s in said)
