"""The one reminder a signer gets when a submission stays unconfirmed.

`send_reminders` (run by `flask signatures remind`, from cron) claims each due
submission with a conditional UPDATE and queues a bodiless "reminder" message; the
mail worker renders it at send time, if the submission is still pending.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import exists, select, update
from sqlalchemy.orm import aliased

from ...extensions import db
from ...models import OutboxMessage, Signature, SignatureStatus, utcnow
from ..outbox.mail import enqueue_render, register_renderer
from ..outbox.mail_transport import Mail
from .signer_mail import mail_for, pending_submission


def render_reminder(outbox: OutboxMessage) -> Mail | None:
    found = pending_submission(outbox)
    return None if found is None else mail_for("reminder", found[1], found[0])


def due_reminders(limit: int) -> list[int]:
    """Submissions owed their one reminder: the newest mailed one of each address."""
    config = current_app.config
    now = utcnow()
    newer = aliased(Signature)
    return list(
        db.session.scalars(
            select(Signature.id)
            .where(
                Signature.status == SignatureStatus.PENDING,
                Signature.reminder_sent_at.is_(None),
                Signature.mailed_at.is_not(None),
                # Flagged or not: a flagged signer's mail is the same as anyone's (issue
                # 21, L1/L4). Bot-made rows (the honeypot) were never mailed: mailed_at.
                Signature.email_enc.is_not(None),
                Signature.created_at < now - timedelta(hours=config["CONFIRM_REMINDER_HOURS"]),
                Signature.created_at > now - timedelta(days=config["CONFIRM_EXPIRY_DAYS"]),
                ~exists().where(
                    newer.campaign_id == Signature.campaign_id,
                    newer.dedup_key == Signature.dedup_key,
                    newer.status == SignatureStatus.PENDING,
                    newer.id > Signature.id,
                ),
            )
            .order_by(Signature.id)
            .limit(limit)
        )
    )


def send_reminders(limit: int = 1000) -> int:
    """One reminder to each signer who hasn't confirmed after CONFIRM_REMINDER_HOURS.

    Each is claimed by a conditional UPDATE before it is queued, so overlapping runs
    (two cron jobs, two hosts) can't both queue one; the worker renders it.
    """
    sent = 0
    for signature_id in due_reminders(limit):
        claimed = db.session.execute(
            update(Signature)
            .where(
                Signature.id == signature_id,
                Signature.reminder_sent_at.is_(None),
                Signature.status == SignatureStatus.PENDING,
            )
            .values(reminder_sent_at=utcnow())
            .returning(Signature.language)
            .execution_options(synchronize_session=False)
        ).scalar()
        if claimed is not None:
            enqueue_render("reminder", signature_id, claimed)
            sent += 1
        db.session.commit()  # one at a time: a crash can't re-send a whole batch
    return sent


register_renderer("reminder", render_reminder)
