"""Signer mail must not look like spam to a standard filter: each kind (confirm,
already-signed, reminder) goes through the real SMTP path and is scored offline by
SpamAssassin's local rules (`spamassassin -L -t`, all in one `--mbox` run). A score of 5
is its spam threshold."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import update

from campaign.extensions import db
from campaign.models import Signature, utcnow
from campaign.services.intake import links
from campaign.services.letters import reminders
from campaign.services.outbox import mail_worker
from campaign.services.pages.content import library
from campaign.services.signatures import confirmation, signing
from tests.helpers import SLUG, require

pytestmark = pytest.mark.slow


def spam_scores(messages: list) -> dict[str, tuple[float, str]]:
    """Message-ID -> (score, report), every message scored in ONE `spamassassin --mbox` run:
    loading its rules is most of the cost (2.5 s of CPU a run), scoring a mail is little."""
    mbox = b"".join(
        b"From tests@petition.test Sun Nov 29 00:00:00 2026\n"
        + re.sub(rb"(?m)^(>*From )", rb">\1", message.as_bytes())  # mbox escaping
        + b"\n"
        for message in messages
    )
    result = subprocess.run(
        ["spamassassin", "-L", "-t", "--mbox"],
        input=mbox,
        capture_output=True,
        timeout=120,
        check=True,
    )
    scores = {}
    for report in re.split(r"(?m)^From \S+ .*\n", result.stdout.decode(errors="replace")):
        if not report.strip():
            continue
        message_id = re.search(r"(?mi)^Message-ID:\s*(\S+)", report)
        score = re.search(r"X-Spam-Status: \w+, score=(-?[\d.]+)", report)
        assert message_id and score, report[:2000]
        scores[message_id.group(1)] = (float(score.group(1)), report)
    return scores


def test_signer_mail_scores_below_spamassassin_threshold(app, mailbox):
    require(shutil.which("spamassassin") is not None, "spamassassin is not installed")
    app.config["CONFIRM_REMINDER_HOURS"] = 1
    content = library().get(SLUG)
    data = signing.SignatureInput.from_raw(
        name="Maryam Ahmadi", email="maryam@example.org", country="DE", comment="For my family."
    )
    waiting = signing.sign(content, data).signature_id
    done = signing.sign(
        content,
        signing.SignatureInput.from_raw(name="Reza Karimi", email="reza@example.org", country="FR"),
    ).signature_id
    mail_worker.work(once=True)  # two confirmation mails
    confirmation.confirm(content, links.make_token(db.session.get(Signature, done), "confirm"))
    signing.sign(
        content,
        signing.SignatureInput.from_raw(name="Reza Karimi", email="reza@example.org", country="FR"),
    )
    db.session.execute(
        update(Signature)
        .where(Signature.id == waiting)
        .values(created_at=utcnow() - timedelta(hours=2))
    )
    db.session.commit()
    assert reminders.send_reminders() == 1
    mail_worker.work(once=True)  # the already-signed note and the reminder
    subjects = [m["Subject"] for m in mailbox.messages]
    assert len(subjects) == 4, subjects
    scores = spam_scores(mailbox.messages)
    assert sorted(scores) == sorted(m["Message-ID"] for m in mailbox.messages), scores.keys()
    for message in mailbox.messages:
        score, report = scores[message["Message-ID"]]
        assert score < 5, (message["Subject"], report[-3000:])
