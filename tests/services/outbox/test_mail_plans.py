"""The mail worker's statements find their rows by index, on SQLite (whose planner, with
no statistics, chose badly three times): a claim sorted every due row, each mark walked
every pending row of `ix_outbox_due`, and each batch's decision walked every signature
of the campaign. Each is per batch or per ten mails, so a backlog of thousands, or a
campaign of a million signatures, made each mail cost more. PostgreSQL's plans follow
its statistics; these are checked on a SQLite database of the
test's own."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from campaign.extensions import db
from campaign.services.outbox import mail_worker
from campaign.services.pages.content import library
from campaign.services.signatures import signing
from campaign.services.signatures.signing import SignatureInput
from tests.helpers import SLUG, migrate


@pytest.fixture
def database_url(tmp_path) -> str:
    """A SQLite database of the test's own whatever the run's: its plans are the ones
    checked, so the test runs (never skips) in the PostgreSQL half of CI too."""
    url = f"sqlite:///{tmp_path / 'plans.db'}"
    migrate(url)
    return url


def plan(sql: str, parameters) -> list[str]:
    cursor = db.session.connection().connection.cursor()
    try:
        return [row[3] for row in cursor.execute(f"EXPLAIN QUERY PLAN {sql}", parameters)]
    finally:
        cursor.close()


def test_the_workers_statements_use_their_indexes(app, mailbox):
    assert db.engine.dialect.name == "sqlite"
    content = library().get(SLUG)
    for n in range(30):
        data = SignatureInput.from_raw(name="Sara Rahimi", email=f"p{n}@example.org", country="SE")
        signing.sign(content, data)
    seen: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        if executemany:
            parameters = parameters[0]
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE")):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        assert mail_worker.work(once=True, threads=1) == 30
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
    assert len(mailbox.messages) == 30
    checked = 0
    for sql, parameters in seen:
        if "outbox" not in sql and "signatures" not in sql:
            continue
        steps = plan(sql, parameters)
        checked += 1
        assert not any(step.startswith("SCAN signatures") for step in steps), (sql, steps)
        assert not any(step.startswith("SCAN outbox") for step in steps), (sql, steps)
        assert not any("ix_signatures_campaign_id_id" in step for step in steps), (sql, steps)
        if sql.lstrip().upper().startswith("UPDATE OUTBOX"):  # by primary key, sorting nothing
            assert not any("TEMP B-TREE" in step for step in steps), (sql, steps)
            assert any("PRIMARY KEY" in step for step in steps), (sql, steps)
    assert checked >= 5
