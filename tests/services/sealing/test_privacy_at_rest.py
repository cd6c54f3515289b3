"""A copy of the database alone reveals no signer.

After signing, confirming, re-sending, delivering and withdrawing with known
names, addresses and comments, every text column of every table is read raw, and
so is the database file itself on SQLite (with its WAL) or a `pg_dump` on
PostgreSQL. None of the known strings may appear in clear.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from campaign.extensions import db
from campaign.models import Signature
from campaign.services.intake import links
from campaign.services.signer_data import privacy
from tests.helpers import SLUG, deliver, hidden_fields, require, sign, using_postgres

SIGNERS = [
    ("Ghazaleh Parvizian", "ghazaleh.parvizian@example.org", "My uncle died in Evin prison"),
    ("Kourosh Tabrizchi", "K.Tabrizchi+petition@Example.net", "Remember Gohardasht"),
    ("نسرین ستوده‌نیا", "nasrin.sotoudehnia@example.com", "برای خانواده‌ام"),
    ("Babak Zanganehvand", "babak.zanganehvand@example.org", None),
]


def needles() -> list[str]:
    found = []
    for name, email, comment in SIGNERS:
        found += [email.lower(), email.split("@")[0].lower().split("+")[0]]
        found += [word.lower() for word in name.replace("\u200c", " ").split()]
        if comment:
            found.append(comment.lower())
    return found


def fill_database(client, app, mailbox) -> None:
    for name, email, comment in SIGNERS:
        response = sign(
            client,
            name=name,
            email=email,
            comment=comment or "",
            public_consent="y",
            contact_consent="y",
        )
        assert response.status_code == 303
    deliver(app)  # sent mail: payload dropped
    first, second, third, _ = db.session.scalars(select(Signature).order_by(Signature.id)).all()
    client.post(f"/{SLUG}/confirm/{links.make_token(first, 'confirm')}")
    sign(client, name="Someone", email=SIGNERS[0][1])  # a repeat: "already signed" queued
    form = hidden_fields(client.get(f"/{SLUG}/check-inbox").get_data(as_text=True))
    client.post(f"/{SLUG}/resend", data={**form, "email": SIGNERS[1][1]})
    privacy.withdraw(third)
    assert mailbox.messages  # mail went out in clear, as it must; the database keeps none


def assert_clean(blob: str, where: str) -> None:
    lowered = blob.lower()
    for needle in needles():
        assert needle not in lowered, f"{needle!r} found in clear in {where}"


def test_no_signer_data_in_clear_in_any_table_or_file(client, app, mailbox, tmp_path):
    fill_database(client, app, mailbox)
    inspector = inspect(db.engine)
    rows_seen = 0
    with db.engine.connect() as conn:
        for table in inspector.get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):  # noqa: S608 - our names
                rows_seen += 1
                for value in row:
                    if isinstance(value, bytes):
                        value = value.decode("utf-8", "replace")
                    assert_clean(str(value), f"table {table}")
    assert rows_seen > 10
    # The check itself works: the mail that went out does hold the address in clear.
    with pytest.raises(AssertionError):
        assert_clean(mailbox.messages[0].as_string(), "a sent mail")

    if using_postgres():
        pg_dump = shutil.which("pg_dump")
        require(pg_dump is not None, "pg_dump is not installed")
        url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dump = subprocess.run([pg_dump, "--no-owner", url], capture_output=True, check=True)
        assert b"COPY public.signatures" in dump.stdout
        (tmp_path / "dump.sql").write_bytes(dump.stdout)
        assert_clean(dump.stdout.decode("utf-8", "replace"), "pg_dump")
    else:
        db.session.remove()
        database = Path(db.engine.url.database)
        files = [p for p in (database, Path(f"{database}-wal")) if p.exists()]
        assert files
        for path in files:
            assert_clean(path.read_bytes().decode("utf-8", "replace"), path.name)
