"""Signer mail must not look like spam to a standard filter: each kind (confirm,
already-signed, reminder) goes through the real SMTP path and is scored offline by
SpamAssassin's local rules (`spamassassin -L -t`). A score of 5 is its spam threshold."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import update

from campaign.extensions import db
from campaign.models import Signature, utcnow
from campaign.services import confirmation, links, mail, reminders, signing
from campaign.services.content import library
from tests.conftest import SLUG, require

pytestmark = pytest.mark.slow


def spam_score(raw: bytes) -> tuple[float, str]:
    result = subprocess.run(
        ["spamassassin", "-L", "-t"], input=raw, capture_output=True, timeout=120, check=True
    )
    report = result.stdout.decode(errors="replace")
    score = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report)
    assert score, report[:2000]
    return float(score.group(1)), report


def test_signer_mail_scores_below_spamassassin_threshold(app, mailbox):
    require(shutil.which("spamassassin") is not None, "spamassassin is not installed")
    app.config["CONFIRM_REMINDER_HOURS"] = 1
    content = library().get(SLUG)
    data = signing.SignatureInput(
        name="Maryam Ahmadi", email="maryam@example.org", country="DE", comment="For my family."
    )
    waiting = signing.sign(content, data).signature_id
    done = signing.sign(
        content, signing.SignatureInput(name="Reza Karimi", email="reza@example.org", country="FR")
    ).signature_id
    mail.work(once=True)  # two confirmation mails
    confirmation.confirm(content, links.make_token(db.session.get(Signature, done), "confirm"))
    signing.sign(
        content, signing.SignatureInput(name="Reza Karimi", email="reza@example.org", country="FR")
    )
    db.session.execute(
        update(Signature)
        .where(Signature.id == waiting)
        .values(created_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    assert reminders.send_reminders() == 1
    mail.work(once=True)  # the already-signed note and the reminder
    subjects = [m["Subject"] for m in mailbox.messages]
    assert len(subjects) == 4, subjects
    for message in mailbox.messages:
        score, report = spam_score(message.as_bytes())
        assert score < 5, (message["Subject"], report[-3000:])
