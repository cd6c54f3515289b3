"""Paper sheets entered (issue 26): counted as paper beside the online count, in the log
as their own leaves, mailed, confirmed, deduplicated with online signatures, withdrawn."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import (
    AuditEvent,
    OutboxMessage,
    PaperSheet,
    Signature,
    SignatureStatus,
    TlogEntry,
)
from campaign.services.log import transparency
from campaign.services.pages import counting
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.paper import confirm as paper_confirm
from campaign.services.paper import entry, sheet_codes
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_checks
from tests.helpers import SLUG, deliver, sign

SAME_SITE = {"Sec-Fetch-Site": "same-origin"}


def campaign_id() -> int:
    return get_row(library().get(SLUG)).id


def rows(*specs) -> list[entry.PaperRow]:
    """(name, country, email or "", ticked keys) -> checked rows."""
    out = []
    for number, (name, country, email, ticked) in enumerate(specs, 1):
        row, problems = entry.read_row(number, name, country, email, frozenset(ticked))
        assert not problems, problems
        out.append(row)
    return out


def enter(number: int, *specs, language: str = "en") -> PaperSheet:
    code = sheet_codes.sheet_code(SLUG, number)
    return entry.enter(SLUG, campaign_id(), code, language, rows(*specs))


def confirm_online(client, mailbox, email: str) -> None:
    sign(client, name="Online Person", email=email, country="DE")
    deliver(client.application)
    link = mailbox.links(mailbox.to(email)[-1], "confirm")[0]
    path = link.split("petition.test", 1)[-1] if "petition.test" in link else link
    path = path[path.index("/", 8) :] if path.startswith("http") else path
    assert client.post(path, headers=SAME_SITE).status_code == 303


def test_a_sheet_counts_as_paper_beside_the_online_count(app, client, mailbox):
    confirm_online(client, mailbox, "online@example.org")
    sheet = enter(
        7,
        ("Maryam Ahmadi", "DE", "", {"delivery"}),
        ("Reza Karimi", "France", "reza@example.net", {"contact"}),
        ("Leila Sadeghi", "IR", "", set()),
    )
    parts = counting.parts(campaign_id(), fresh=True)
    assert (parts.total, parts.online, parts.paper) == (4, 1, 3)
    assert counting.counted_in_table(campaign_id(), paper=True) == 3
    assert sheet.rows == 3 and sheet.number == 7
    made = db.session.scalars(
        select(Signature).where(Signature.sheet_id == sheet.id).order_by(Signature.sheet_row)
    ).all()
    assert [s.method for s in made] == ["paper"] * 3
    assert [s.delivery_consent for s in made] == [True, False, False]
    assert [s.contact_consent for s in made] == [False, True, False]
    assert made[1].country == "FR"
    # Audited: who, which sheet, how many rows.
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "paper.enter"))
    assert event.target == "sheet:7" and '"rows": 3' in event.details


def test_the_log_has_paper_leaves_in_one_batch_and_the_verifier_separates_them(
    app, client, mailbox
):
    confirm_online(client, mailbox, "online@example.org")
    enter(3, ("Maryam Ahmadi", "DE", "", ()), ("Reza Karimi", "FR", "", ()))
    transparency.checkpoint(SLUG)
    entries = [
        bytes(d)
        for d in db.session.scalars(
            select(TlogEntry.data)
            .where(TlogEntry.campaign_id == campaign_id())
            .order_by(TlogEntry.idx)
        )
    ]
    kinds = [tlog.parse_entry(e)[0] for e in entries]
    assert kinds == ["add", "paper", "paper"]
    assert all(tlog.parse_entry(e)[2].startswith("3 ") for e in entries[1:])
    report = tlog_checks.Report(prefix="x")
    tlog_checks.check_entries(entries, report)
    assert report.ok and report.count == 3 and report.paper_count == 2
    assert report.sheets == {3: 2}
    # A paper signature that stops counting leaves its own kind of remove.
    paper_row = db.session.scalar(select(Signature).where(Signature.method == "paper"))
    privacy.withdraw(paper_row)
    transparency.checkpoint(SLUG)
    last = db.session.scalar(
        select(TlogEntry.data)
        .where(TlogEntry.campaign_id == campaign_id())
        .order_by(TlogEntry.idx.desc())
        .limit(1)
    )
    assert tlog.parse_entry(bytes(last))[0] == "paper-remove"
    assert counting.parts(campaign_id(), fresh=True).paper == 1


def test_a_code_this_site_did_not_print_is_refused(app):
    with pytest.raises(entry.SheetRefused, match="not a sheet code"):
        entry.enter(SLUG, campaign_id(), "7-AAAAAA", "en", rows(("A B", "DE", "", ())))
    assert db.session.scalar(select(func.count(PaperSheet.id))) == 0


def test_a_sheet_entered_twice_is_refused_saying_when(app):
    enter(9, ("Maryam Ahmadi", "DE", "", ()))
    with pytest.raises(entry.SheetRefused, match="Sheet 9 was entered already") as refused:
        enter(9, ("Someone Else", "DE", "", ()))
    assert refused.value.earlier is not None
    assert counting.parts(campaign_id(), fresh=True).paper == 1


def test_rows_are_checked_with_the_sign_forms_rules(app):
    _, problems = entry.read_row(1, "=cmd()", "Atlantis", "not-an-address", frozenset())
    assert {p.field for p in problems} == {"name", "country", "email"}
    assert entry.read_row(2, " ", "", "", frozenset()) == (None, [])


def test_an_emailed_row_gets_a_mail_saying_how_it_was_collected(app, client, mailbox):
    enter(11, ("Reza Karimi", "FR", "reza@example.net", {"contact", "delivery"}), language="fr")
    deliver(app)
    [message] = mailbox.to("reza@example.net")
    body = message.get_body(("plain",)).get_content()
    assert "11" in body and "papier" in body.lower()
    assert "Reza" not in body  # a mistyped address reaches a stranger: no name
    [link] = mailbox.links(message, "paper")
    path = link[link.index("/", 8) :]
    page = client.get(path)
    assert page.status_code == 200 and "R. K." in page.text
    # Confirm, keeping only the delivery box.
    assert client.post(path, data={"delivery_consent": "y"}, headers=SAME_SITE).status_code == 303
    row = db.session.scalar(select(Signature).where(Signature.method == "paper"))
    db.session.refresh(row)
    assert row.email_confirmed_at is not None
    assert (row.delivery_consent, row.contact_consent) == (True, False)
    assert counting.parts(campaign_id(), fresh=True).paper == 1
    assert "adresse est confirmée" in client.get(path).text


def paper_path(mailbox, email: str) -> str:
    link = next(
        found[0] for m in reversed(mailbox.to(email)) if (found := mailbox.links(m, "paper"))
    )
    return link[link.index("/", 8) :]


def test_one_person_counts_once_from_when_they_confirm_the_paper_mail(app, client, mailbox):
    """Entry looks no address up: a row whose address signed online counts and is mailed
    like any other (else the count would tell who signed online); its owner's
    confirmation links it to the online signature, which then counts alone."""
    confirm_online(client, mailbox, "both@example.org")
    enter(12, ("Both Ways", "DE", "both@example.org", ()), ("Only Paper", "DE", "", ()))
    deliver(app)
    parts = counting.parts(campaign_id(), fresh=True)
    assert (parts.total, parts.online, parts.paper) == (3, 1, 2)
    both = db.session.scalar(select(Signature).where(Signature.sheet_row == 1))
    assert both.status == SignatureStatus.CONFIRMED and both.dedup_key is None
    path = paper_path(mailbox, "both@example.org")
    assert client.post(path, headers=SAME_SITE).status_code == 303
    db.session.refresh(both)
    online = db.session.scalar(select(Signature).where(Signature.method == "online"))
    assert both.status == SignatureStatus.INVALIDATED and both.linked_id == online.id
    parts = counting.parts(campaign_id(), fresh=True)
    assert (parts.total, parts.online, parts.paper) == (2, 1, 1)
    assert counting.counted_in_table(campaign_id(), paper=True) == 1
    assert "confirmed" in client.get(path).text  # the link still answers its owner
    transparency.checkpoint(SLUG)
    kinds = [
        tlog.parse_entry(bytes(d))[0]
        for d in db.session.scalars(select(TlogEntry.data).order_by(TlogEntry.idx))
    ]
    assert kinds.count("paper-remove") == 1
    # ... and the other way round: on paper first, then online, then the paper mail.
    enter(13, ("Later Online", "DE", "later@example.org", ()))
    confirm_online(client, mailbox, "later@example.org")  # mailed and counted as usual
    assert counting.parts(campaign_id(), fresh=True).total == 4
    assert (
        client.post(paper_path(mailbox, "later@example.org"), headers=SAME_SITE).status_code == 303
    )
    assert counting.parts(campaign_id(), fresh=True).total == 3
    # A paper address confirmed first holds the address: an online signature from it
    # then gets no confirmation link (it counts already).
    enter(16, ("Paper First", "DE", "first@example.org", ()))
    deliver(app)
    assert (
        client.post(paper_path(mailbox, "first@example.org"), headers=SAME_SITE).status_code == 303
    )
    sign(client, name="Paper First", email="first@example.org", country="DE")
    deliver(app)
    assert not mailbox.links(mailbox.to("first@example.org")[-1], "confirm")
    assert counting.parts(campaign_id(), fresh=True).total == 4


def test_the_same_address_twice_on_paper_counts_once_when_confirmed(app, client, mailbox):
    enter(17, ("Twice Here", "DE", "twice@example.org", ()))
    enter(18, ("Twice Here", "DE", "twice@example.org", ()))
    deliver(app)
    assert counting.parts(campaign_id(), fresh=True).paper == 2
    first, second = mailbox.to("twice@example.org")
    for message in (first, second):
        link = mailbox.links(message, "paper")[0]
        assert client.post(link[link.index("/", 8) :], headers=SAME_SITE).status_code == 303
    assert counting.parts(campaign_id(), fresh=True).paper == 1
    assert counting.counted_in_table(campaign_id(), paper=True) == 1


def test_withdrawing_and_not_me_work_for_a_paper_signer(app, client, mailbox):
    enter(
        14, ("Reza Karimi", "FR", "reza@example.net", ()), ("Sara Noori", "DE", "s@example.net", ())
    )
    deliver(app)
    withdraw = mailbox.links(mailbox.to("reza@example.net")[0], "withdraw")[0]
    assert client.post(withdraw[withdraw.index("/", 8) :], headers=SAME_SITE).status_code == 200
    paper_link = mailbox.links(mailbox.to("s@example.net")[0], "paper")[0]
    path = paper_link[paper_link.index("/", 8) :]
    assert client.post(path + "/not-me", headers=SAME_SITE).status_code == 200
    parts = counting.parts(campaign_id(), fresh=True)
    assert parts.paper == 1  # the withdrawn one left; the one without its address stays
    sara = db.session.scalar(select(Signature).where(Signature.sheet_row == 2))
    db.session.refresh(sara)
    assert sara.email_enc is None and sara.dedup_key is None and sara.counted
    assert client.get(path).status_code == 404  # the link died with the address
    assert not db.session.scalar(
        select(func.count(OutboxMessage.id)).where(
            OutboxMessage.signature_id == sara.id, OutboxMessage.status == "pending"
        )
    )


def test_the_paper_confirm_service_refuses_a_second_time(app, mailbox):
    enter(15, ("Reza Karimi", "FR", "reza@example.net", ()))
    row = db.session.scalar(select(Signature).where(Signature.method == "paper"))
    assert paper_confirm.confirm(row, frozenset())
    assert not paper_confirm.confirm(row, frozenset({"contact"}))
    assert not paper_confirm.not_me(row)
