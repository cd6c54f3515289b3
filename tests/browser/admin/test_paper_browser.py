"""Paper signatures in Chromium against gunicorn (issue 26): a sheet entered with the
keyboard alone, the same sheet refused the second time (saying when and by whom), a
second organizer's check, a CSV's dry run then apply, and an emailed paper row
confirmed from its mail on a phone; the count's parts on the page, the API and the
delivery pack. axe-core runs on the entry, upload, check and paper-confirm pages."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import PaperSheet, Signature
from campaign.services.admins import accounts
from campaign.services.pages import counting
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.paper import entry, sheet_codes
from tests.admin.exports.test_delivery_pack import pdf_text, squash
from tests.admin.helpers import make_signature
from tests.browser.helpers import axe_violations, describe
from tests.helpers import SLUG, deliver

PASSWORD = "a long browser password"
ENTERER, CHECKER = "enterer@browser.test", "checker@browser.test"
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(app, live_server, mailbox):
    app.config.update(ARGON2_TIME_COST=1, ARGON2_MEMORY_COST=8192)
    accounts.create(ENTERER, PASSWORD, "organizer")
    accounts.create(CHECKER, PASSWORD, "organizer")
    server = live_server(SMTP_URL=mailbox.url, COUNT_CACHE_SECONDS=0, API_CACHE_SECONDS=0)
    app.config["BASE_URL"] = server.url  # the worker (the test's app) renders the links
    return server


def signed_in(server, new_context, email: str):
    page = new_context().new_page()
    page.goto(f"{server.url}/admin/login")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/admin/")
    return page


def assert_no_violations(page, what: str) -> None:
    found = axe_violations(page, impacts=None)  # every impact, not only serious ones
    assert not found, f"{what}: {page.url}\n{describe(found)}"


def focused(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def press_and_wait(page, key: str) -> None:
    with page.expect_navigation():
        page.keyboard.press(key)


def campaign_id() -> int:
    return get_row(library().get(SLUG)).id


def paper_rows() -> list[Signature]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Signature).where(Signature.method == "paper").order_by(Signature.id)
        )
    )


def test_a_sheet_entered_by_keyboard_alone_then_refused_then_checked(server, new_context):
    page = signed_in(server, new_context, ENTERER)
    page.goto(f"{server.url}/admin/{SLUG}/paper")
    assert_no_violations(page, "the entry page")
    code = sheet_codes.sheet_code(SLUG, 21)
    # From here to saving: focus and key presses only.
    assert focused(page) == "code"  # the code field has the focus on arrival
    page.keyboard.type(code)
    press_and_wait(page, "Enter")  # "Check the code", the form's first button
    assert page.locator("#sheet-number").inner_text() == "Sheet 21: the code is right."
    assert focused(page) == "name-0"
    page.keyboard.type("Maryam Ahmadi")
    page.keyboard.press("Tab")
    page.keyboard.type("Germany")
    page.keyboard.press("Tab")
    assert focused(page) == "email-0"
    page.keyboard.press("Tab")  # no address on this row: on to its boxes
    page.keyboard.press("Tab")
    assert focused(page) == "delivery-0"
    page.keyboard.press("Space")  # "name me to the addressees" ticked on the sheet
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    assert focused(page) == "email-0"
    press_and_wait(page, "Enter")  # keeps the row, opens the next
    assert page.locator("#running-count").inner_text() == "1 row typed so far."
    assert focused(page) == "name-1"
    assert page.locator("#delivery-0").is_checked()
    page.keyboard.type("Reza Karimi")
    page.keyboard.press("Tab")
    page.keyboard.type("FR")
    page.keyboard.press("Tab")
    page.keyboard.type("reza@example.net")
    press_and_wait(page, "Enter")
    assert page.locator("#running-count").inner_text() == "2 rows typed so far."
    assert focused(page) == "name-2"
    assert_no_violations(page, "the entry page with rows typed")
    for _ in range(12):  # Tab through the blank row to "Enter the sheet"
        if page.evaluate("document.activeElement.value") == "save":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent").strip() == "Enter the sheet"
    press_and_wait(page, "Enter")
    assert "Sheet 21 entered: 2 rows." in page.content()
    rows = paper_rows()
    assert [(r.country, r.delivery_consent, r.sheet_row) for r in rows] == [
        ("DE", True, 1),
        ("FR", False, 2),
    ]
    assert counting.parts(campaign_id(), fresh=True).paper == 2

    # Entered twice: refused at its code, saying when and by whom; nothing added.
    assert focused(page) == "code"
    page.keyboard.type(code)
    press_and_wait(page, "Enter")
    error = page.locator("#entry-error").inner_text()
    assert re.fullmatch(
        r"Sheet 21 was entered already, on \d{4}-\d\d-\d\d \d\d:\d\d UTC by "
        r"enterer@browser\.test\. A sheet is entered once\.",
        error,
    ), error
    assert page.locator("#code").get_attribute("aria-describedby") == "entry-error"
    assert_no_violations(page, "the entry page refusing a sheet entered twice")
    assert len(paper_rows()) == 2

    # A second organizer checks a random sample against the paper.
    checker = signed_in(server, new_context, CHECKER)
    checker.goto(f"{server.url}/admin/{SLUG}/paper/21")
    assert_no_violations(checker, "the check page")
    written = {1: ("Maryam Ahmadi", "Germany"), 2: ("Reza Karimi", "France")}
    for legend in checker.locator("fieldset legend").all_inner_texts():
        number = int(legend.removeprefix("Row "))
        checker.locator(f"#name-{number}").fill(written[number][0])
        checker.locator(f"#country-{number}").fill(written[number][1])
    checker.get_by_role("button", name="Compare with the entry").click()
    checker.wait_for_load_state()
    state = checker.locator("#check-state").inner_text()
    assert "by checker@browser.test" in state and "0 did not match" in state, state
    assert_no_violations(checker, "the check page, checked")


def test_a_csv_dry_run_adds_nothing_then_apply_enters_it(server, new_context):
    page = signed_in(server, new_context, ENTERER)
    page.goto(f"{server.url}/admin/{SLUG}/paper")
    code = sheet_codes.sheet_code(SLUG, 31)
    csv = (
        "sheet,language,name,country,email,contact,delivery\n"
        f"{code},en,Shirin Rahimi,DE,,,yes\n"
        f"{code},en,Sara Noori,SE,sara@example.net,yes,\n"
    )
    page.set_input_files(
        "#csv", files=[{"name": "sheets.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Dry run").click()
    page.wait_for_load_state()
    dry = page.locator("section.dry-run")
    assert dry.get_by_role("heading").inner_text() == "Dry run: nothing entered yet"
    assert "The file holds 1 sheet. Applying it would add 2 rows." in dry.inner_text()
    assert code in dry.locator("tbody").inner_text()
    assert_no_violations(page, "the upload's dry run")
    assert paper_rows() == []  # the dry run entered nothing
    assert counting.parts(campaign_id(), fresh=True).paper == 0
    page.get_by_role("button", name="Apply: enter these sheets").click()
    page.wait_for_load_state()
    assert "1 sheet entered from the file." in page.content()
    assert [r.country for r in paper_rows()] == ["DE", "SE"]
    assert counting.parts(campaign_id(), fresh=True).paper == 2
    assert db.session.scalar(select(PaperSheet.rows).where(PaperSheet.number == 31)) == 2
    # The same file again: its dry run says the sheet is in already, and offers no apply.
    page.set_input_files(
        "#csv", files=[{"name": "sheets.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Dry run").click()
    page.wait_for_load_state()
    assert "Sheet 31 was entered already" in page.locator("section.dry-run").inner_text()
    assert page.get_by_role("button", name="Apply: enter these sheets").count() == 0
    assert_no_violations(page, "the upload refusing a sheet entered before")


SMALL_TEXT = """() => {
  const small = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    const box = el.getBoundingClientRect();
    if (!own || !box.width || !box.height) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || el.closest('.visually-hidden')) continue;
    const size = parseFloat(style.fontSize);
    const text = el.textContent.trim().slice(0, 30);
    if (size < 16) small.push(`${el.tagName}.${el.className} ${size}px: ${text}`);
  }
  return small;
}"""


def test_a_paper_signer_confirms_from_the_mail_and_the_parts_show(
    server, app, mailbox, new_context, tmp_path
):
    rows = []
    for number, (name, email, ticked) in enumerate(
        [
            ("Leila Sadeghi", "leila@example.org", {"delivery"}),
            ("Named Onpaper", "", {"delivery"}),
            ("Unnamed Onpaper", "", set()),
        ],
        1,
    ):
        row, problems = entry.read_row(number, name, "DE", email, frozenset(ticked))
        assert not problems
        rows.append(row)
    entry.enter(SLUG, campaign_id(), sheet_codes.sheet_code(SLUG, 41), "en", rows)
    assert deliver(app) >= 1
    [message] = mailbox.to("leila@example.org")
    body = message.get_body(("plain",)).get_content()
    assert "sheet 41" in body and "Leila" not in body
    [link] = mailbox.links(message, "paper")

    phone = new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    phone.goto(link)
    assert phone.get_by_role("heading", level=1).inner_text() == "Your name, collected on paper"
    assert "L. S." in phone.locator(".confirm-list").inner_text()
    small = phone.evaluate(SMALL_TEXT)
    assert not small, small
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert_no_violations(phone, "the paper-confirm page")
    delivery = phone.get_by_label(re.compile("Give my full name and country"))
    assert delivery.is_checked()  # as ticked on the sheet
    delivery.uncheck()  # the owner chooses again
    phone.get_by_role("button", name="Yes, this was me").click()
    phone.wait_for_load_state()
    assert phone.get_by_role("heading", level=1).inner_text() == (
        "Thank you: your address is confirmed"
    )
    assert not phone.evaluate(SMALL_TEXT)
    assert_no_violations(phone, "the paper-confirm page, confirmed")
    leila = paper_rows()[0]
    assert leila.email_confirmed_at is not None and not leila.delivery_consent

    # One online signer besides: the parts everywhere.
    make_signature("Online Signer", "online@example.org")
    visitor = new_context().new_page()
    visitor.goto(f"{server.url}/{SLUG}/")
    assert visitor.locator(".count-parts").first.inner_text() == (
        "1 online, confirmed by email; 3 on paper"
    )
    api = json.loads(visitor.request.get(f"{server.url}/api/v1/petitions/{SLUG}").text())
    assert api["total_signatures"] == 4
    assert api["counts_by_method"] == {"online": 1, "paper": 3}

    organizer = signed_in(server, new_context, ENTERER)
    organizer.goto(f"{server.url}/admin/{SLUG}/delivery")
    token = organizer.locator("input[name=csrf_token]").first.get_attribute("value")
    pack = organizer.request.post(
        f"{server.url}/admin/{SLUG}/delivery",
        form={"csrf_token": token, "language": "en", "format": "pdf"},
    )
    assert pack.status == 200 and pack.headers["content-type"] == "application/pdf"
    text = squash(pdf_text(pack.body(), tmp_path))
    assert squash("1 online, confirmed by email; 3 on paper") in text
    assert squash("3 signatures were collected on numbered sheets") in text
    assert squash("Organizers entered 1 sheet,") in text
    # Its delivery box was ticked on the sheet; sealed to the organizers' key (issue 23),
    # the name goes in the list made offline, and the server's pack says so.
    assert squash("The name of 1 of them is not printed here") in text
    assert "NamedOnpaper" not in text
    assert "Unnamed" not in text and "LeilaSadeghi" not in text  # unticked, or unticked again
