"""The outbox and delivery, without HTTP, over a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, func, select, text

from campaign.extensions import db
from campaign.models import OutboxMessage, utcnow
from campaign.services.outbox import mail, mail_lease, mail_send, mail_transport, mail_worker
from campaign.services.outbox.mail_transport import Mail
from campaign.services.pages.content import library
from campaign.services.sealing import crypto, sealed
from campaign.services.signatures import signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG, Mailbox, free_port


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def a_mail(n: int = 0) -> Mail:
    return Mail(
        to=f"person{n}@example.org", subject=f"Hello {n}", text=f"Text {n}", html=f"<p>HTML {n}</p>"
    )


def sign(email: str = "mail@example.org", **fields):
    data = SignatureInput.from_raw(name="Leila Farahani", email=email, country="IR", **fields)
    return signing.sign(library().get(SLUG), data)


class FlakyMailbox(Mailbox):
    """A real SMTP server that answers 451 (try again later) to the first `failures` mails."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.failures > 0:
            self.failures -= 1
            return "451 4.3.0 Please try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def flaky(app):
    box = FlakyMailbox(failures=2)
    box.start()
    app.config["SMTP_URL"] = box.url
    yield box
    box.stop()


def test_the_mail_commits_with_the_signature(app):
    outcome = sign()
    [message] = outbox()
    assert message.signature_id == outcome.signature_id
    assert message.kind == "confirm" and message.status == "pending"
    # No body, no address: the worker renders it at send time (services/letters/signer_mail.py).
    assert message.payload_enc is None and message.context and "mail@" not in message.context


def test_enqueue_joins_the_callers_transaction(app):
    mail.enqueue(a_mail(), kind="test")
    db.session.flush()
    # Another connection sees nothing until the caller commits.
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    engine = create_engine(url)
    with engine.connect() as other:
        assert other.execute(text("SELECT COUNT(*) FROM outbox")).scalar() == 0
    db.session.rollback()
    assert outbox() == []  # rolled back with the caller: no mail without its signature
    mail.enqueue(a_mail(), kind="test")
    db.session.commit()
    with engine.connect() as other:
        assert other.execute(text("SELECT COUNT(*) FROM outbox")).scalar() == 1
    engine.dispose()


def test_delivery_over_smtp_sends_text_and_html(app, mailbox):
    sign("Receiver@Example.org")
    assert mail_worker.work(once=True) == 1
    [message] = mailbox.messages
    assert message["To"] == "Receiver@example.org"
    assert message["From"] == app.config["MAIL_FROM"]
    assert message["Auto-Submitted"] == "auto-generated"
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Leila Farahani" in plain and "Leila Farahani" in html
    [sent] = outbox()
    assert sent.status == "sent" and sent.sent_at is not None
    assert sent.payload_enc is None  # the recipient and body are not kept after sending


def test_links_in_mail_are_absolute_from_base_url(app, mailbox):
    app.config["BASE_URL"] = "https://sign.example.net"
    sign()
    mail_worker.work(once=True)
    [message] = mailbox.messages
    plain = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for kind in ("confirm", "withdraw"):
        [link] = mailbox.links(message, kind)
        assert link.startswith(f"https://sign.example.net/en/{SLUG}/{kind}/")
        assert f'href="{link}"' in html
    assert "http://petition.test" not in plain + html
    assert 'href="/' not in html  # nothing relative


def test_a_text_part_is_always_there(app, mailbox):
    mail.enqueue(Mail(to="t@example.org", subject="Only text", text="Plain only"), kind="t")
    db.session.commit()
    mail_worker.work(once=True)
    [message] = mailbox.messages
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "Plain only"


def test_message_id_is_the_idempotency_key(app, mailbox):
    mail.enqueue(a_mail(), kind="test")
    db.session.commit()
    [queued] = outbox()
    mail_worker.work(once=True)
    [message] = mailbox.messages
    assert message["Message-ID"] == f"<{queued.idempotency_key}@petition.test>"


def test_a_crashed_send_is_retried_under_the_same_message_id(app, mailbox):
    mail.enqueue(a_mail(), kind="test")
    db.session.commit()
    # A worker claims the message and sends it, then dies before recording it.
    [claimed] = mail_send.claim_due(10)
    message = db.session.get(OutboxMessage, claimed)
    payload = json.loads(
        crypto.decrypt_field(
            message.payload_enc, column=sealed.PAYLOAD, row_key=message.idempotency_key
        )
    )
    transport = mail_transport.Transport(mailbox.url)
    transport.send(mail_transport.build_message(message, payload))
    transport.close()
    assert mail_worker.work(once=True) == 0  # the lease still holds: no second worker sends it
    message.locked_until = utcnow() - timedelta(seconds=1)  # the lease runs out
    db.session.commit()
    assert mail_worker.work(once=True) == 1
    first, second = mailbox.messages
    assert first["Message-ID"] == second["Message-ID"]  # the receiver can drop the copy


def test_sent_mail_is_never_sent_again(app, mailbox):
    for n in range(3):
        mail.enqueue(a_mail(n), kind="test")
    db.session.commit()
    assert mail_worker.work(once=True) == 3
    assert mail_worker.work(once=True) == 0
    for message in outbox():  # even if its timestamps say it is due
        message.next_attempt_at = utcnow() - timedelta(days=1)
    db.session.commit()
    assert mail_worker.work(once=True) == 0
    assert len(mailbox.messages) == 3


def test_smtp_failure_is_retried_with_backoff(app, flaky):
    mail.enqueue(a_mail(), kind="test")
    db.session.commit()
    before = utcnow()
    assert mail_send.deliver_due() == (0, 1)
    [message] = outbox()
    assert message.status == "pending" and message.attempts == 1
    assert "451" in message.last_error
    first_delay = message.next_attempt_at - before
    assert timedelta(seconds=25) < first_delay <= timedelta(seconds=35)
    assert mail_send.deliver_due() == (0, 0)  # not due yet

    message.next_attempt_at = utcnow()
    db.session.commit()
    before = utcnow()
    assert mail_send.deliver_due() == (0, 1)
    [message] = outbox()
    assert message.attempts == 2
    assert timedelta(seconds=55) < message.next_attempt_at - before <= timedelta(seconds=65)

    message.next_attempt_at = utcnow()
    db.session.commit()
    assert mail_send.deliver_due() == (1, 0)
    assert len(flaky.messages) == 1
    assert outbox()[0].status == "sent"


def test_relay_outage_pushed_mail_back_by_minutes(app):
    """Issue 22: an unreachable relay counted as the message's failed attempt, so each
    outage doubled its wait (30 s, 60 s, … an hour) and ten gave it up. Now the message
    is tried again within RELAY_RETRY, the attempt is not counted, and it never fails
    for the relay's sake."""
    app.config["SMTP_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens there
    mail.enqueue(a_mail(), kind="test")
    db.session.commit()
    for _ in range(mail_send.MAX_ATTEMPTS + 2):
        before = utcnow()
        assert mail_send.deliver_due() == (0, 1)
        [message] = outbox()
        assert message.status == "pending" and message.attempts == 0
        assert message.locked_until is None and message.last_error == "ConnectionRefusedError"
        assert message.next_attempt_at <= before + mail_lease.RELAY_RETRY + timedelta(seconds=1)
        message.next_attempt_at = utcnow()
        db.session.commit()
    assert outbox()[0].payload_enc is not None  # kept until the relay takes it


def test_console_transport_prints_the_mail(app, capsys):
    sign("console@example.org")
    assert mail_worker.work(once=True) == 1
    printed = capsys.readouterr().out
    assert "To: console@example.org" in printed
    assert f"http://petition.test/en/{SLUG}/confirm/" in printed


def test_parallel_workers_send_each_message_once(app, mailbox):
    """Two workers draining one outbox: SKIP LOCKED on PostgreSQL, conditional claims on
    SQLite. Every message arrives exactly once."""
    total = 30
    for n in range(total):
        mail.enqueue(a_mail(n), kind="test")
    db.session.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=10)
                while mail_send.deliver_due(limit=4)[0]:
                    pass
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(ids) == len(set(ids)) == total
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "sent")
        )
        == total
    )


def test_a_claim_takes_the_earliest_due_and_skips_the_leased(app):
    for n in range(4):
        mail.enqueue(a_mail(n), kind="t")
    db.session.commit()
    first, second, third, fourth = (m.id for m in outbox())
    now = utcnow()
    db.session.execute(  # the newest is a retry due long ago; the second is leased
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == fourth)
        .values(next_attempt_at=now - timedelta(hours=1))
    )
    db.session.execute(
        OutboxMessage.__table__.update()
        .where(OutboxMessage.id == second)
        .values(locked_until=now + timedelta(seconds=10))
    )
    db.session.commit()
    claim = mail_lease.claim(2)
    assert claim.ids == sorted([fourth, first])
    assert mail_lease.claim(10).ids == [third]  # the leased one stays its worker's


class RefusingMailbox(Mailbox):
    """Refuses the first message for good (550) and, while refusing it, deletes another
    queued message, as a withdrawal would between the batch's load and its turn."""

    def __init__(self, url: str, delete_id: int) -> None:
        super().__init__()
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.delete_id, self.refused = delete_id, False

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if not self.refused:
            self.refused = True
            with self.engine.begin() as conn:
                conn.execute(text("DELETE FROM outbox WHERE id = :id"), {"id": self.delete_id})
            return "550 5.1.1 No such user"
        return await super().handle_DATA(server, session, envelope)


def test_a_message_deleted_after_a_failure_in_its_batch_is_skipped_not_fatal(app):
    """A refused message rolls the session back, which expires the batch's loaded rows;
    one deleted meanwhile then raised ObjectDeletedError and ended the batch with a
    traceback, leaving the rest for the next pass. Now it is skipped, and the batch goes on."""
    for n in range(3):
        mail.enqueue(a_mail(n), kind="test")
    db.session.commit()
    first, deleted, last = (message.id for message in outbox())
    box = RefusingMailbox(app.config["SQLALCHEMY_DATABASE_URI"], deleted)
    box.start()
    try:
        app.config["SMTP_URL"] = box.url
        assert mail_send.deliver_due() == (1, 1)  # the third sent in the same pass
        assert [m["To"] for m in box.messages] == ["person2@example.org"]
        assert [m.id for m in outbox()] == [first, last]
    finally:
        box.stop()
        box.engine.dispose()
