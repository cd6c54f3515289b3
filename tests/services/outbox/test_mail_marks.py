"""The marks "sent" and what holds a claim back (services/outbox/mail_lease.py): the
threads of one worker process share their memory of mail sent but not yet marked."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import func, insert, select, text

from campaign.extensions import db
from campaign.models import OutboxMessage, utcnow
from campaign.services.outbox import mail, mail_lease, mail_send
from campaign.services.outbox.mail_transport import Mail
from tests.helpers import using_postgres


def a_mail(n: int) -> Mail:
    return Mail(to=f"person{n}@example.org", subject=f"Hello {n}", text=f"Text {n}")


def queue(n: int) -> list[int]:
    messages = [mail.enqueue(a_mail(i), kind="test") for i in range(n)]
    db.session.commit()
    return [message.id for message in messages]


def test_another_threads_unmarked_mail_does_not_stop_a_claim(app, mailbox, monkeypatch):
    """A thread whose marks landed used to refuse to claim while any other thread's
    sent message awaited its mark, and slept a poll: with 8 threads sending, most of
    them slept most of the time (issue 22). Now only a database failure holds it back."""
    queue(3)
    memory = mail_send.unmarked()
    flush = memory.flush

    def flush_while_another_thread_sends() -> None:
        flush()
        memory.add(10**9)  # another thread's message, accepted by the server just now

    monkeypatch.setattr(memory, "flush", flush_while_another_thread_sends)
    assert mail_send.deliver_due(limit=10)[0] == 3
    assert len(mailbox.messages) == 3


def test_a_database_failure_holds_claims_until_everything_sent_is_marked(app):
    """After a database failure the process marks what it sent, then waits
    SETTLE_SECONDS before claiming. Another thread's empty flush must not end that
    wait while the marks are still on their way: the messages whose leases ran out
    during the outage would be the first a claim takes, and go out again."""
    ids = queue(3)
    memory = mail_lease.Unmarked()
    for message_id in ids:
        memory.add(message_id)
    assert memory.may_claim()  # sending as usual: other threads' mail awaits its mark
    memory.note_failure()
    assert not memory.may_claim()  # the database failed: nothing is claimed
    finish = mail_lease.finish
    inside, release = threading.Event(), threading.Event()

    def slow_finish(some: list[int], status: str) -> None:
        if some:  # the thread marking the outage's messages is slow to get through
            inside.set()
            release.wait(10)
        finish(some, status)

    def marking_thread() -> None:
        with app.app_context():
            memory.flush()
            db.session.remove()

    mail_lease.finish = slow_finish
    try:
        thread = threading.Thread(target=marking_thread)
        thread.start()
        assert inside.wait(10)
        memory.flush()  # another thread: nothing left for it to mark
        memory._claim_after = 0.0  # however long it waits
        assert not memory.may_claim()  # the outage's mail is not marked yet
        release.set()
        thread.join(10)
    finally:
        mail_lease.finish = finish
    assert len(memory) == 0
    assert not memory.may_claim()  # marked: settling
    memory._claim_after = 0.0  # the settling time has passed
    assert memory.may_claim()


def test_two_threads_flushing_at_once_mark_each_message_once(app):
    """A flush takes the ids it marks: a second thread flushing meanwhile marks none of
    them again (it used to, waiting on the first one's row locks)."""
    ids = queue(20)
    memory = mail_lease.Unmarked()
    for message_id in ids:
        memory.add(message_id)
    marked: list[list[int]] = []
    finish = mail_lease.finish
    inside, release = threading.Event(), threading.Event()

    def slow_finish(some: list[int], status: str) -> None:
        marked.append(list(some))
        if len(marked) == 1:  # the first flush holds its ids while the second runs
            inside.set()
            release.wait(10)
        finish(some, status)

    def first() -> None:
        with app.app_context():
            memory.flush()
            db.session.remove()

    mail_lease.finish = slow_finish
    try:
        thread = threading.Thread(target=first)
        thread.start()
        assert inside.wait(10)
        assert len(memory) == 20  # taken, not yet marked: still remembered
        memory.flush()  # the second thread: nothing left for it
        release.set()
        thread.join(10)
    finally:
        mail_lease.finish = finish
    assert marked == [ids, []]
    assert len(memory) == 0
    db.session.rollback()
    sent = select(func.count()).where(OutboxMessage.status == "sent")
    assert db.session.scalar(sent) == 20


def test_a_failed_flush_remembers_its_messages(app, monkeypatch):
    ids = queue(2)
    memory = mail_lease.Unmarked()
    for message_id in ids:
        memory.add(message_id)

    def database_down(some: list[int], status: str) -> None:
        raise ConnectionError("the database went away")

    monkeypatch.setattr(mail_lease, "finish", database_down)
    with pytest.raises(ConnectionError):
        memory.flush()
    assert len(memory) == 2 and not memory.may_claim()
    monkeypatch.undo()
    memory.flush()
    assert len(memory) == 0
    assert db.session.scalar(select(func.count()).where(OutboxMessage.status == "sent")) == 2


@pytest.mark.postgres
def test_the_mark_finds_its_rows_by_primary_key_before_any_analyze(app):
    """PostgreSQL with no statistics on the outbox (a new table, a backlog queued since
    the last ANALYZE) planned the mark through `ix_outbox_due`: every pending row read
    and filtered by id, for every ten mails sent."""
    assert using_postgres()
    now = utcnow()
    db.session.execute(  # a backlog: enough pages that reading them all costs
        insert(OutboxMessage),
        [
            {"idempotency_key": uuid.uuid4().hex, "kind": "test", "next_attempt_at": now}
            for _ in range(20000)
        ],
    )
    db.session.commit()
    ids = db.session.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)).all()
    statement = mail_lease.FINISH_ALL.compile(
        dialect=db.engine.dialect,
        compile_kwargs={"literal_binds": False},
    )
    parameters = statement.construct_params(
        {"message_ids": ids[:20], "new_status": "sent", "sent_at": None}
    )
    cursor = db.session.connection().connection.cursor()
    plan = "\n".join(
        row[0] for row in cursor.execute(text(f"EXPLAIN {statement}").text, parameters)
    )
    assert "pk_outbox" in plan, plan
    assert "ix_outbox_due" not in plan, plan
