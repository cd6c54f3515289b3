"""One origin per log: the name a log's first checkpoint was signed under is its name
for good (issue 25, section 3)."""

from __future__ import annotations

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import TlogCheckpoint
from tests.tlog.helpers import sign_and_confirm


def checkpoints() -> int:
    return db.session.scalar(select(func.count(TlogCheckpoint.id)))


def test_a_publish_under_another_origin_fails_loudly_and_signs_nothing(client, app):
    """Issue 25: one `flask count publish` run without BASE_URL signed a checkpoint under
    127.0.0.1:5000/…; every checkpoint is kept, so the log failed verification forever."""
    runner = app.test_cli_runner()
    sign_and_confirm(client, "first@example.org")
    assert runner.invoke(args=["count", "publish"]).exit_code == 0
    assert checkpoints() == 1
    sign_and_confirm(client, "second@example.org")
    app.config["BASE_URL"] = "http://127.0.0.1:5000"
    result = runner.invoke(args=["count", "publish"])
    assert result.exit_code == 1
    assert "was started as 'petition.test/" in result.output
    assert "TLOG_ORIGIN=petition.test/" in result.output
    assert checkpoints() == 1  # nothing signed under the wrong name
    app.config["TLOG_ORIGIN"] = "petition.test"  # the fix the message names
    result = runner.invoke(args=["count", "publish"])
    assert result.exit_code == 0, result.output
    assert checkpoints() == 2
    notes = db.session.scalars(select(TlogCheckpoint.note)).all()
    assert {note.split("\n", 1)[0] for note in notes} == {"petition.test/1988-massacre-inquiry/log"}
