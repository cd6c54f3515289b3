"""Mail under failure, against a real SMTP server (aiosmtpd) and the real database.

* SMTP down: signing still succeeds; the mail waits, retries with backoff, and goes
  out exactly once when the server is back.
* A worker killed mid-send: the lease expires and the message is sent again under
  the same Message-ID (at-least-once with an idempotency key); never lost.
* Concurrent workers never send one message twice (FOR UPDATE SKIP LOCKED on
  PostgreSQL; a conditional UPDATE … RETURNING claim on SQLite).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from datetime import timedelta

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature, utcnow
from campaign.services.outbox import mail, mail_send, mail_transport
from campaign.services.outbox.mail_transport import Mail
from tests.helpers import ROOT, Mailbox, deliver, sign


def outbox() -> list[OutboxMessage]:
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def make_due() -> None:
    """Skip the backoff wait: the retry schedule itself is asserted separately."""
    db.session.execute(update(OutboxMessage).values(next_attempt_at=utcnow()))
    db.session.commit()


def expire_leases() -> None:
    """What LEASE minutes of waiting would do."""
    db.session.execute(update(OutboxMessage).values(locked_until=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def restart(box: Mailbox) -> None:
    """A new SMTP server on the same port, as after a restart of the mail server."""
    from aiosmtpd.controller import Controller

    box.controller = Controller(box, hostname="127.0.0.1", port=box.port)
    box.start()


def expected_message_id(message: OutboxMessage) -> str:
    return f"<{message.idempotency_key}@petition.test>"


def test_smtp_down_sign_succeeds_retries_within_seconds_then_sends_once(client, app, mailbox):
    mailbox.stop()
    try:
        response = sign(client, email="down@example.org")
        assert response.status_code == 303  # the signer never notices
        assert db.session.scalar(select(db.func.count(Signature.id))) == 1

        assert deliver(app) == 0
        [message] = outbox()
        # The relay's outage is not the message's failed attempt: no growing backoff.
        assert message.status == "pending" and message.attempts == 0
        assert message.last_error and message.locked_until is None
        assert 0 < (message.next_attempt_at - utcnow()).total_seconds() <= 5

        assert deliver(app) == 0  # not due yet
        make_due()
        assert deliver(app) == 0
        [message] = outbox()
        assert message.attempts == 0
        assert 0 < (message.next_attempt_at - utcnow()).total_seconds() <= 5  # not doubled
    finally:
        restart(mailbox)
    make_due()
    assert deliver(app) == 1
    assert deliver(app) == 0
    [received] = mailbox.to("down@example.org")
    [message] = outbox()
    assert message.status == "sent" and message.payload_enc is None
    assert received["Message-ID"] == expected_message_id(message)


class RefusingMailbox(Mailbox):
    """Refuses every message for good (554)."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        return "554 5.7.1 Message rejected"


def test_mail_gives_up_after_max_attempts(client, app):
    box = RefusingMailbox()
    box.start()
    try:
        app.config["SMTP_URL"] = box.url
        sign(client, email="never@example.org")
        for _ in range(mail_send.MAX_ATTEMPTS):
            make_due()
            deliver(app)
        [message] = outbox()
        assert message.status == "failed" and message.attempts == mail_send.MAX_ATTEMPTS
        assert message.last_error == "SMTPDataError 554" and message.payload_enc is None
        make_due()
        assert deliver(app) == 0 and box.messages == []
    finally:
        box.stop()


class HangingMailbox(Mailbox):
    """Accepts connections but never finishes DATA while `hang` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.hang = True
        self.data_started = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        if self.hang:
            self.data_started.set()
            await asyncio.sleep(3600)  # cancelled when the server stops
        return await super().handle_DATA(server, session, envelope)


def worker_env(app_config: dict, smtp_url: str) -> dict:
    env = {**os.environ}
    env.update(
        DATABASE_URL=app_config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY=app_config["SECRET_KEY"],
        HASH_KEY=app_config["HASH_KEY"],
        ENCRYPTION_KEYS=",".join(app_config["ENCRYPTION_KEYS"]),
        BASE_URL=app_config["BASE_URL"],
        SMTP_URL=smtp_url,
        CONTENT_DIR=app_config["CONTENT_DIR"],
    )
    return env


def test_worker_killed_mid_send_resends_after_lease_with_same_message_id(
    client, app, app_config, tmp_path
):
    box = HangingMailbox()
    box.start()
    try:
        sign(client, email="killed@example.org")
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "mail", "work", "--processes", "1"],
            cwd=ROOT,
            env=worker_env(app_config, box.url),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            assert box.data_started.wait(60), (tmp_path / "worker.log").read_text()
        finally:
            os.kill(worker.pid, signal.SIGKILL)  # the worker dies in the middle of DATA
            worker.wait(10)
        [message] = outbox()
        assert message.status == "pending" and message.attempts == 1
        assert message.locked_until > utcnow()  # still leased to the dead worker
        assert box.messages == []

        assert deliver_to(app, box) == 0  # no one else takes it while the lease holds
        box.hang = False
        expire_leases()
        assert deliver_to(app, box) == 1
        assert deliver_to(app, box) == 0
        [received] = box.to("killed@example.org")
        [message] = outbox()
        assert message.status == "sent"
        assert received["Message-ID"] == expected_message_id(message)
    finally:
        box.stop()


def deliver_to(app, box: Mailbox) -> int:
    app.config["SMTP_URL"] = box.url
    return deliver(app)


class DiesAfterSending(mail_transport.Transport):
    """The worker is killed after the server accepted the mail, before it marked it sent."""

    def send(self, message) -> None:
        super().send(message)
        raise SystemExit("killed")


def test_worker_killed_after_smtp_accepted_sends_again_under_the_same_message_id(
    client, app, mailbox
):
    sign(client, email="twice@example.org")
    transport = DiesAfterSending(mailbox.url)
    try:
        mail_send.deliver_due(10, transport)
    except SystemExit:
        db.session.rollback()
    finally:
        transport.close()
    assert outbox()[0].status == "pending"
    expire_leases()
    assert deliver(app) == 1
    assert deliver(app) == 0
    first, second = mailbox.to("twice@example.org")
    # At-least-once: the repeat carries the same Message-ID, so mail systems drop it.
    assert first["Message-ID"] == second["Message-ID"] == expected_message_id(outbox()[0])


def test_concurrent_workers_never_send_a_message_twice(app, mailbox):
    total = 24
    for n in range(total):
        mail.enqueue(Mail(to=f"w{n}@example.org", subject="s", text="t"), kind="test")
    db.session.commit()

    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with app.app_context():
                start.wait()
                transport = mail_transport.Transport(mailbox.url)
                try:
                    while mail_send.deliver_due(2, transport)[0]:
                        pass
                finally:
                    transport.close()
                    db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    ids = [m["Message-ID"] for m in mailbox.messages]
    assert len(ids) == total
    assert len(set(ids)) == total
    assert {m.status for m in outbox()} == {"sent"}
    assert all(m.attempts == 1 for m in outbox())
