"""A batch of new submissions is decided in one transaction (issue 22, "a confirmation
mail in seconds"): the same decisions as one at a time, without a lock, an update and a
commit per message. Real database, real SMTP (aiosmtpd)."""

from __future__ import annotations

from sqlalchemy import event, select

from campaign.extensions import db
from campaign.models import OutboxMessage, Signature
from campaign.services.intake import links
from campaign.services.outbox import mail_send
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG


def sign(email: str) -> int:
    data = SignatureInput.from_raw(name="Leila Noori", email=email, country="FR")
    return signing.sign(library().get(SLUG), data).signature_id


def test_batch_of_submissions_is_decided_in_one_commit(app, mailbox):
    """Before: render_submission locked, updated and committed per message (over 20
    commits for 20 new submissions). Now the batch's decisions share one commit, and
    the claim, the decision and the marks are a handful for the whole batch."""
    emails = [f"batch{n}@example.org" for n in range(20)]
    for email in emails:
        sign(email)
    commits = []
    listener = lambda conn: commits.append(1)  # noqa: E731 - a counter
    event.listen(db.engine, "commit", listener)
    try:
        assert mail_send.deliver_due(limit=50) == (20, 0)
    finally:
        event.remove(db.engine, "commit", listener)
    assert sorted(m["To"] for m in mailbox.messages) == sorted(emails)
    assert len(commits) <= 5, len(commits)
    assert all(db.session.scalars(select(Signature.mailed_at)))


def test_batch_decides_one_address_as_if_one_after_another(app, mailbox):
    """Submissions of one address in one batch: the first is mailed, then at most
    ALREADY_SIGNED_MAIL_LIMIT more; the rest are deleted unmailed. A confirmed address's
    new submission is deleted and turned into the "already signed" note."""
    limit = app.config["ALREADY_SIGNED_MAIL_LIMIT"]
    done = sign("done@example.org")
    mail_send.deliver_due()
    row = db.session.get(Signature, done)
    result = confirmation.confirm(library().get(SLUG), links.make_token(row, "confirm"))
    assert result.state == "confirmed", result
    mailbox.messages.clear()

    repeated = [sign("again@example.org") for _ in range(limit + 3)]
    redundant = sign("done@example.org")
    assert mail_send.deliver_due(limit=50) == (limit + 1 + 1, 0)
    assert len(mailbox.to("again@example.org")) == limit + 1
    assert len(mailbox.to("done@example.org")) == 1
    db.session.expire_all()
    kept = db.session.scalars(select(Signature.id).where(Signature.id.in_(repeated))).all()
    assert sorted(kept) == repeated[: limit + 1]
    assert db.session.get(Signature, redundant) is None
    assert db.session.scalar(select(OutboxMessage.kind).where(OutboxMessage.signature_id == done))
    pending = select(OutboxMessage).where(OutboxMessage.status == "pending")
    assert db.session.scalars(pending).all() == []
