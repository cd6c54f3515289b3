"""The paper screens (issue 26): a sheet entered by keyboard (code, language, rows), a
sheet entered twice refused, a CSV's dry run then apply, a second organizer's check,
and the count's parts on the dashboard, the API and the delivery pack."""

from __future__ import annotations

import io
import json

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, PaperSheet, Signature
from campaign.services.exports import export_signers, organizer_tools
from campaign.services.pages import counting
from campaign.services.paper import print_runs, sheet_codes
from campaign.services.signer_data.signers import SignerFilter
from tests.admin.exports.test_delivery_pack import pdf_text, squash
from tests.admin.helpers import campaign_row, make_signature, token_for
from tests.helpers import ORGANIZER_KEY, SLUG

PAGE = f"/admin/{SLUG}/paper"


def post(client, data: dict, path: str = PAGE):
    return client.post(path, data={"csrf_token": token_for(client, PAGE), **data})


def sheet_form(number: int, *rows, action: str = "next", code: str | None = None) -> dict:
    data = {"code": code or sheet_codes.sheet_code(SLUG, number), "language": "en"}
    for i, (name, country, email, ticked) in enumerate(rows):
        data |= {f"name-{i}": name, f"country-{i}": country, f"email-{i}": email}
        data |= {f"{key}-{i}": "y" for key in ticked}
    return data | {"action": action}


def test_a_sheet_is_entered_row_after_row_and_audited(app, users, as_role):
    client = as_role("organizer")
    assert client.get(PAGE).status_code == 200
    first = post(client, sheet_form(21))  # the code alone: checked, the rows open
    assert first.status_code == 200 and "Sheet 21: the code is right." in first.text
    rows = [("Maryam Ahmadi", "Germany", "", ("delivery",))]
    typed = post(client, sheet_form(21, *rows))  # Enter: the next row, the count so far
    assert "1 row typed so far." in typed.text and 'id="name-1"' in typed.text
    rows.append(("Reza Karimi", "FR", "reza@example.net", ("contact",)))
    done = post(client, sheet_form(21, *rows, action="save"))
    assert done.status_code == 303
    page = client.get(PAGE).text
    assert "Sheet 21 entered: 2 rows." in page
    assert "1 sheet entered. 2 rows typed. 0 sheets checked against the paper" in page
    parts = counting.parts(campaign_row().id, fresh=True)
    assert (parts.paper, parts.online) == (2, 0)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "paper.enter"))
    assert event.actor_email == "organizer@admin.test" and event.target == "sheet:21"
    # Entered twice: refused, saying when and by whom; nothing added.
    again = post(client, sheet_form(21, ("Someone Else", "DE", "", ()), action="save"))
    assert again.status_code == 409
    assert "Sheet 21 was entered already" in again.text and "organizer@admin.test" in again.text
    assert counting.parts(campaign_row().id, fresh=True).paper == 2


def test_a_code_not_printed_here_and_bad_rows_are_refused_with_reasons(app, users, as_role):
    client = as_role("organizer")
    refused = post(client, sheet_form(3, code="3-AAAAAA"))
    assert refused.status_code == 422 and "not a sheet code this site printed" in refused.text
    bad = post(client, sheet_form(3, ("=HYPERLINK()", "Atlantis", "nope", ()), action="save"))
    assert bad.status_code == 422 and "Please check the rows marked below." in bad.text
    assert db.session.scalar(select(func.count(PaperSheet.id))) == 0
    assert as_role("viewer").get(PAGE).status_code == 403


def test_a_csv_is_shown_as_a_dry_run_then_applied(app, users, as_role):
    client = as_role("organizer")
    text = (
        "sheet,language,name,country,email,contact,delivery\n"
        f"{sheet_codes.sheet_code(SLUG, 31)},fr,Maryam Ahmadi,DE,,,yes\n"
        f"{sheet_codes.sheet_code(SLUG, 31)},fr,Reza Karimi,France,reza@example.net,yes,\n"
        f"{sheet_codes.sheet_code(SLUG, 32)},en,Leila Sadeghi,IR,,,\n"
    )
    dry = post(client, {"data": text, "action": "dry-run"}, f"{PAGE}/upload")
    assert dry.status_code == 200
    assert "The file holds 2 sheets. Applying it would add 3 rows." in dry.text
    assert db.session.scalar(select(func.count(PaperSheet.id))) == 0  # nothing entered yet
    applied = post(client, {"data": text, "action": "apply"}, f"{PAGE}/upload")
    assert applied.status_code == 303
    page = client.get(PAGE).text  # each count with its own plural
    assert "2 sheets entered from the file." in page
    assert "2 sheets entered. 3 rows typed. 0 sheets checked against the paper" in page
    sheets = db.session.scalars(select(PaperSheet).order_by(PaperSheet.number)).all()
    assert [(s.number, s.language, s.rows) for s in sheets] == [(31, "fr", 2), (32, "en", 1)]
    # A file with a problem is applied not at all.
    broken = text.replace("31", "33").replace("32", "34").replace("Leila", "=cmd")
    refused = post(client, {"data": broken, "action": "apply"}, f"{PAGE}/upload")
    assert refused.status_code == 422 and "Line 4, name" in refused.text
    assert db.session.scalar(select(func.count(PaperSheet.id))) == 2


def test_a_second_organizer_checks_a_sample_and_the_sheet_shows_checked(app, users, as_role):
    entering = as_role("organizer")
    rows = [("Maryam Ahmadi", "DE", "", ()), ("Reza Karimi", "FR", "", ())]
    assert post(entering, sheet_form(41, *rows, action="save")).status_code == 303
    own = entering.get(f"{PAGE}/41")
    assert "You entered this sheet" in own.text and 'name="name-1"' not in own.text
    checker = as_role("owner")
    page = checker.get(f"{PAGE}/41")
    assert 'name="name-1"' in page.text and 'name="name-2"' in page.text  # 2 rows: both drawn
    data = {"name-1": "maryam  ahmadi", "country-1": "Germany", "name-2": "Reza Karimi"}
    result = post(checker, data | {"country-2": "FR"}, f"{PAGE}/41")
    assert result.status_code == 200 and "Row 2: matched" in result.text
    sheet = db.session.scalar(select(PaperSheet).where(PaperSheet.number == 41))
    assert sheet.check_result == "matched" and sheet.checked_by_email == "owner@admin.test"
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "paper.check"))
    assert "matched, owner@admin.test" in checker.get(PAGE).text
    assert "1 sheet checked against the paper by a second organizer." in checker.get(PAGE).text
    shown = checker.get(f"{PAGE}/41").text
    assert "owner@admin.test: 2 rows sampled, 0 did not match." in shown


def test_the_parts_on_the_dashboard_the_api_and_the_pack(app, users, as_role, tmp_path):
    make_signature("Online Signer", "online@example.org")
    client = as_role("organizer")
    rows = [("Shirin Named-Paper", "DE", "", ("delivery",)), ("Parvin Unnamed", "DE", "", ())]
    assert post(client, sheet_form(51, *rows, action="save")).status_code == 303
    dashboard = client.get(f"/admin/{SLUG}/").text
    assert 'id="stat-paper">2<' in dashboard and 'id="stat-online">1<' in dashboard
    api = json.loads(app.test_client().get(f"/api/v1/petitions/{SLUG}").data)
    assert api["total_signatures"] == 3
    assert api["counts_by_method"] == {"online": 1, "paper": 2}
    assert "1 online, confirmed by email; 2 on paper" in app.test_client().get(f"/{SLUG}/").text
    pack = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": "en",
            "format": "pdf",
        },
    )
    text = squash(pdf_text(pack.data, tmp_path))
    assert squash("1 online, confirmed by email; 2 on paper") in text
    # Each number with its own plural (review #49: "collected on 1 numbered sheets").
    assert squash("On paper: 2 signatures were collected on numbered sheets") in text
    assert squash("Organizers entered 1 sheet, typing the check code printed on it") in text
    assert squash("1 numbered sheets") not in text and squash("1 sheets") not in text
    # Names are sealed to the organizers' key (issue 23): the server's pack counts the
    # named signer; the named list is made offline from the delivery export.
    assert squash("1 signer agreed to have their name") in text
    assert "ShirinNamed-Paper" not in text and "Parvin" not in text
    export = "".join(export_signers.export_csv(campaign_row().id, "delivery", SignerFilter()))
    names = organizer_tools.opened_names(io.StringIO(export), [ORGANIZER_KEY])
    assert [name for _country, name in names] == ["Shirin Named-Paper"]  # only the ticked box
    assert db.session.scalar(select(func.count(Signature.id))) == 3


def test_a_sheet_printed_in_persian_is_refused_in_another_language(app, users, as_role):
    """Its rows' consents are stored with the wording printed on the sheet, so the sheet is
    entered in the language its print run had, by the screen and by the CSV alike."""
    client = as_role("organizer")
    with app.app_context():
        run = print_runs.allocate(
            campaign_row(), count=1, language="fa", paper_size="a4", languages=("en", "fa", "fr")
        )
    number = run.first
    row = [("Maryam Ahmadi", "DE", "", ())]
    refused = post(client, sheet_form(number, *row, action="save"))  # typed as English
    assert refused.status_code == 422 and f"Sheet {number} was printed in فارسی" in refused.text
    assert db.session.scalar(select(func.count(PaperSheet.id))) == 0
    entered = post(client, sheet_form(number, *row, action="save") | {"language": "fa"})
    assert entered.status_code == 303
    assert db.session.scalar(select(PaperSheet.language)) == "fa"
