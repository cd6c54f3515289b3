"""Print runs of paper sheets (issue 26): numbers are never printed twice, each run is
audited, and `printed_sheet` tells the entry screen which run printed a sheet."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, Campaign, PrintRun
from campaign.services.admins import accounts
from campaign.services.paper import print_runs, sheet_codes
from tests.admin.helpers import campaign_content, campaign_row

LANGUAGES = ("en", "fa", "fr")


def allocate(count: int, language: str = "en", paper: str = "a4", actor=None):
    return print_runs.allocate(
        campaign_row(),
        count=count,
        language=language,
        paper_size=paper,
        languages=LANGUAGES,
        actor=actor,
    )


def test_runs_take_consecutive_numbers_and_never_share_one(app):
    first = allocate(3)
    second = allocate(5, "fa", "letter")
    third = allocate(1, "fr")
    assert list(first.numbers) == [1, 2, 3]
    assert list(second.numbers) == [4, 5, 6, 7, 8]
    assert list(third.numbers) == [9]
    numbers = [
        n
        for run in db.session.scalars(select(PrintRun))
        for n in range(run.first_number, run.last_number + 1)
    ]
    assert sorted(numbers) == list(range(1, 10)) and len(set(numbers)) == len(numbers)
    assert print_runs.printed_total(campaign_row().id) == 9


def test_a_run_that_collides_with_another_tries_again_past_it(app, monkeypatch):
    """Two runs read the same highest number: the unique (campaign, first number) refuses
    the second, which reads again and takes the numbers after the first's."""
    allocate(2)
    campaign_id = campaign_row().id
    real = print_runs.next_number
    raced = []

    def next_number_while_another_commits(cid: int) -> int:
        seen = real(cid)
        if not raced:  # another process commits a run at the same first number now
            raced.append(seen)
            with db.engine.begin() as other:
                other.execute(
                    PrintRun.__table__.insert().values(
                        campaign_id=campaign_id,
                        first_number=seen,
                        sheet_count=4,
                        language="en",
                        paper_size="a4",
                        printed_at=print_runs.utcnow(),
                    )
                )
        return seen

    monkeypatch.setattr(print_runs, "next_number", next_number_while_another_commits)
    if db.engine.dialect.name == "postgresql":
        # The campaign row's lock makes a real race wait; this stands in for a writer
        # that skipped it, so the constraint is what is tested.
        monkeypatch.setattr(print_runs, "lock_campaign", lambda cid: None)
    run = allocate(3)
    assert raced == [3]
    assert list(run.numbers) == [7, 8, 9]
    starts = sorted(db.session.scalars(select(PrintRun.first_number)))
    assert starts == [1, 3, 7]


def test_each_run_is_audited_with_who_how_many_and_which_numbers(app):
    organizer = accounts.create("printer@admin.test", "a long enough password", "organizer")
    allocate(2)
    run = allocate(4, "fa", "letter", actor=organizer)
    event = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == "paper.sheets_printed")
        .order_by(AuditEvent.id.desc())
    ).first()
    assert event.actor_email == "printer@admin.test" and event.actor_id == organizer.id
    assert event.campaign_id == campaign_row().id
    assert event.target == "sheets 3-6"
    details = json.loads(event.details)
    assert details == {
        "first": 3,
        "last": 6,
        "sheets": 4,
        "language": "fa",
        "paper": "letter",
        "run": run.run_id,
    }
    stored = db.session.get(PrintRun, run.run_id)
    assert (stored.printed_by, stored.printed_by_id) == ("printer@admin.test", organizer.id)


def test_printed_sheet_names_the_run_of_a_number(app):
    allocate(2, "en", "a4")
    allocate(3, "fa", "letter")
    campaign_id = campaign_row().id
    assert print_runs.printed_sheet(campaign_id, 0) is None
    first = print_runs.printed_sheet(campaign_id, 2)
    assert (first.language, first.paper_size) == ("en", "a4")
    for number in (3, 4, 5):
        sheet = print_runs.printed_sheet(campaign_id, number)
        assert (sheet.number, sheet.language, sheet.paper_size) == (number, "fa", "letter")
    assert print_runs.printed_sheet(campaign_id, 6) is None
    # The entry screen's path: a typed code names a number, the run its language.
    code = sheet_codes.sheet_code(campaign_content().slug, 4)
    assert (
        print_runs.printed_sheet(
            campaign_id, sheet_codes.parse(campaign_content().slug, code)
        ).language
        == "fa"
    )


@pytest.mark.parametrize(
    ("count", "language", "paper"),
    [
        (0, "en", "a4"),
        (-1, "en", "a4"),
        (print_runs.MAX_SHEETS + 1, "en", "a4"),
        (10_000, "en", "a4"),
        (1, "de", "a4"),
        (1, "en", "a3"),
    ],
)
def test_a_bad_run_is_refused_and_takes_no_number(app, count, language, paper):
    with pytest.raises(print_runs.PrintRunError):
        allocate(count, language, paper)
    assert db.session.scalar(select(PrintRun.id)) is None
    assert (
        db.session.scalar(select(AuditEvent.id).where(AuditEvent.action == "paper.sheets_printed"))
        is None
    )


def test_numbers_stop_where_a_sheet_code_can_no_longer_carry_them(app):
    db.session.add(
        PrintRun(
            campaign_id=campaign_row().id,
            first_number=print_runs.LAST_NUMBER - 1,
            sheet_count=1,
            language="en",
            paper_size="a4",
        )
    )
    db.session.commit()
    assert list(allocate(1).numbers) == [print_runs.LAST_NUMBER]
    with pytest.raises(print_runs.PrintRunError):
        allocate(1)
    assert (
        sheet_codes.parse("x", sheet_codes.sheet_code("x", print_runs.LAST_NUMBER))
        == print_runs.LAST_NUMBER
    )


def test_runs_made_at_once_from_many_threads_never_overlap(app):
    campaign_id = campaign_row().id
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def print_some(n: int) -> None:
        with app.app_context():
            try:
                barrier.wait()
                for size in (1, 3, 2, 5):
                    print_runs.allocate(
                        db.session.get(Campaign, campaign_id),
                        count=size + n,
                        language="en",
                        paper_size="a4",
                        languages=LANGUAGES,
                    )
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=print_some, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runs = db.session.scalars(select(PrintRun).order_by(PrintRun.first_number)).all()
    assert len(runs) == 16
    numbers = [n for run in runs for n in range(run.first_number, run.last_number + 1)]
    assert numbers == list(range(1, len(numbers) + 1))  # every number once, no gap
    audited = db.session.scalar(
        select(func.count()).where(AuditEvent.action == "paper.sheets_printed")
    )
    assert audited == 16
