"""Exactly once (issue 9.11, 9.15): a slow batch, a withdrawal mid-batch, overlapping
reminder runs and an expiry purge racing a confirm. Real SMTP (aiosmtpd), real database."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import timedelta

from sqlalchemy import event, func, select, update

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature, SignatureStatus, utcnow
from campaign.services.intake import links
from campaign.services.letters import reminders
from campaign.services.outbox import mail, mail_lease, mail_send, mail_worker
from campaign.services.outbox.mail_transport import Mail
from campaign.services.pages import counting
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, moderation, signing
from campaign.services.signatures.signing import SignatureInput
from campaign.services.signer_data import privacy, retention
from tests.helpers import SLUG, Mailbox


def content():
    return library().get(SLUG)


def data(email: str, **fields) -> SignatureInput:
    return SignatureInput.from_raw(name="Leila Noori", email=email, country="FR", **fields)


class SlowMailbox(Mailbox):
    """An SMTP server that takes `delay` seconds to accept each message."""

    delay = 0.8

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def test_slow_batch_outliving_lease_sends_once(app, monkeypatch):
    box = SlowMailbox()
    box.start()
    try:
        app.config["SMTP_URL"] = box.url
        monkeypatch.setattr(mail_lease, "LEASE", timedelta(seconds=1))
        for n in range(3):
            mail.enqueue(Mail(to=f"slow{n}@example.org", subject="s", text="t"), kind="t")
        db.session.commit()

        def worker(wait: float) -> None:
            time.sleep(wait)
            with app.app_context():
                mail_send.deliver_due(10)

        # Worker A takes the batch; its lease (1 s) ends while it is still sending (0.8 s
        # a message). Worker B comes by then and claims whatever lease has ended.
        threads = [threading.Thread(target=worker, args=(w,)) for w in (0, 1.1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        ids = [m["Message-ID"] for m in box.messages]
        assert sorted(m["To"] for m in box.messages) == [f"slow{n}@example.org" for n in range(3)]
        assert len(set(ids)) == len(ids) == 3
        db.session.expire_all()
        assert db.session.scalars(select(OutboxMessage.status)).all() == ["sent"] * 3
    finally:
        box.stop()


def test_deliver_due_survives_a_withdrawal_of_a_claimed_message(app, monkeypatch, mailbox):
    outcome = signing.sign(content(), data("gone@example.org"))
    claim = mail_lease.claim

    def claim_then_withdraw(limit):
        claimed = claim(limit)
        with app.app_context():  # another request, on its own session, withdraws
            privacy.withdraw(db.session.get(Signature, outcome.signature_id))
        return claimed

    monkeypatch.setattr(mail_lease, "claim", claim_then_withdraw)
    assert mail_send.deliver_due(10) == (0, 0)  # no error, nothing sent
    assert mailbox.messages == []
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_overlapping_remind_runs_queue_one_reminder_each(app, monkeypatch):
    app.config["CONFIRM_REMINDER_HOURS"] = 1
    ids = [signing.sign(content(), data(f"r{n}@example.org")).signature_id for n in range(3)]
    mail_worker.work(once=True)
    db.session.execute(update(Signature).values(created_at=utcnow() - timedelta(hours=2)))
    db.session.commit()
    due = reminders.due_reminders
    ran_inside = []

    def due_then_another_run(limit):
        found = due(limit)
        if not ran_inside:  # a second cron run starts and finishes while this one holds
            ran_inside.append(True)
            with app.app_context():
                ran_inside.append(reminders.send_reminders())
        return found

    monkeypatch.setattr(reminders, "due_reminders", due_then_another_run)
    outer = reminders.send_reminders()
    assert ran_inside[1] + outer == 3
    kinds = db.session.scalars(
        select(OutboxMessage.signature_id).where(OutboxMessage.kind == "reminder")
    ).all()
    assert sorted(kinds) == ids  # one reminder each, never two


def test_purge_cannot_delete_a_signature_confirmed_meanwhile(app):
    outcome = signing.sign(content(), data("edge@example.org"))
    row = db.session.get(Signature, outcome.signature_id)
    campaign_id = row.campaign_id
    row.created_at = utcnow() - timedelta(days=app.config["CONFIRM_EXPIRY_DAYS"], seconds=1)
    db.session.commit()
    fired = []

    def confirm_meanwhile(conn, cursor, statement, *args):
        # Right after a purge reads which rows to delete, a confirm of one commits.
        if fired or not statement.lstrip().upper().startswith("SELECT"):
            return
        if "signatures" not in statement or "pending" not in str(args[0]).lower() + statement:
            return
        fired.append(True)
        with app.app_context():
            db.session.execute(
                update(Signature)
                .where(
                    Signature.id == outcome.signature_id,
                    Signature.status == SignatureStatus.PENDING,
                )
                .values(status=SignatureStatus.CONFIRMED, confirmed_at=utcnow())
            )
            counting.adjust(campaign_id, +1)
            db.session.commit()

    event.listen(db.engine, "after_cursor_execute", confirm_meanwhile)
    try:
        retention.purge_expired()
    finally:
        event.remove(db.engine, "after_cursor_execute", confirm_meanwhile)
    # Whichever came first, the count and the table agree: no counted row was deleted.
    assert counting.confirmed_count(campaign_id, fresh=True) == counting.counted_in_table(
        campaign_id
    )


def test_confirm_racing_restore_keeps_count_exact(app, monkeypatch):
    """Issue 9.13: confirm decided from a `flagged` read before its UPDATE; an organizer's
    restore committed in between left the shards one short."""
    outcome = signing.sign(content(), data("held@example.org"), flag_reason="rate limit (ip)")
    token = links.make_token(db.session.get(Signature, outcome.signature_id), "confirm")
    read = confirmation.link_row  # confirm's read of the row, before its UPDATE
    restored = []

    def read_then_restore(token, purpose, connection=None):
        row = read(token, purpose, connection)
        if row is not None and not restored:
            restored.append(True)
            with app.app_context():  # the organizer, on another connection, commits first
                moderation.restore(db.session.get(Signature, outcome.signature_id))
        return row

    monkeypatch.setattr(confirmation, "link_row", read_then_restore)
    assert confirmation.confirm(content(), token).state == "confirmed"
    campaign_id = db.session.get(Signature, outcome.signature_id).campaign_id
    assert restored
    assert counting.confirmed_count(campaign_id, fresh=True) == 1
    assert counting.counted_in_table(campaign_id) == 1
