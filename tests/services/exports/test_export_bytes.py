"""The signer CSV export, byte for byte: every preset, serial and across processes,
against the file the export wrote before its fast path (issue 23): each row's cells
from the ORM object, decrypted, neutralized and written by `csv.writer`. The rows mix
what a CSV must quote (quotes, commas, line breaks), formula prefixes, non-ASCII text,
NULLs, rows sealed to the organizers' key and rows still readable, so the batches of
the fast path and of its fallback both run.
"""

from __future__ import annotations

import csv
import io
import os
import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from campaign.extensions import db
from campaign.models import Signature, utc_iso
from campaign.services.exports import (
    csv_stream,
    export_parallel,
    export_presets,
    export_signers,
)
from campaign.services.exports.export_parallel import Part
from campaign.services.sealing import crypto
from campaign.services.signer_data.signers import SignerFilter
from tests.admin.helpers import campaign_content, campaign_row
from tests.helpers import require, using_postgres

NAMES = [
    "Maryam Ahmadi",
    'Reza "the elder" Karimi',
    "Sara, Tehrani",
    "Nima\nRahimi",
    "Leila\r\nNouri",
    "Omid\rJafari",
    '=HYPERLINK("http://evil.example","x")',
    "+98 912",
    "-Parisa",
    "@Arash",
    "\tTab Start",
    "مریم احمدی",
    "Zoë Æsir 🌹",
    "Solo",
    "  spaced   out  ",
    "x\x00y",
]
COMMENTS = [None, "For my uncle", 'He said "enough"', "one,two", "=1+1", "line\nbreak", "عدالت"]
SOURCES = [None, "twitter", "=cmd", "a,b", 'q"uote', "-minus", "news\nletter"]


def reference_csv(
    campaign_id: int,
    preset: str,
    filters: SignerFilter | None = None,
    *,
    excel: bool = False,
    limit: int | None = None,
) -> str:
    """The export as the code before the fast path wrote it: one `csv.writer` row per
    signature, every cell computed from the ORM object."""
    columns = export_signers.sealed_columns(export_presets.PRESETS[preset].columns)
    buffer = io.StringIO()
    if excel:
        buffer.write(csv_stream.BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    query = export_presets.preset_query(campaign_id, preset, filters or SignerFilter())
    for s in db.session.scalars(query.limit(limit)):
        name = crypto.signer_value(s, "name_enc") or ""
        given, family = csv_stream.split_name(name)
        cells = {
            "id": str(s.id),
            "name": csv_stream.neutralize(name),
            "email": csv_stream.neutralize(crypto.signer_value(s, "email_enc")),
            "given_name": csv_stream.neutralize(given),
            "family_name": csv_stream.neutralize(family),
            "country": csv_stream.neutralize(s.country),
            "language": csv_stream.neutralize(s.language),
            "status": str(s.status),
            "flagged": "yes" if s.flagged else "no",
            "comment": csv_stream.neutralize(crypto.signer_value(s, "comment_enc")),
            "source": csv_stream.neutralize(s.source),
            "referrer_code": csv_stream.neutralize(s.referrer_code),
            "created_at": utc_iso(s.created_at),
            "confirmed_at": utc_iso(s.confirmed_at) or "",
            "action_date": utc_iso(s.confirmed_at or s.created_at),
            "sealed": f"{s.row_key}:{s.organizer_sealed}" if s.organizer_sealed else "",
        }
        for consent in csv_stream.consent_fields():
            cells[consent] = "yes" if getattr(s, consent) else "no"
        writer.writerow([cells[c] for c in columns])
    db.session.rollback()
    return buffer.getvalue()


def seed(count: int = 120) -> int:
    """`count` signatures of every kind; returns the campaign's id."""
    campaign_id = campaign_row().id
    pick = random.Random(23)
    base = datetime(2026, 3, 1, 9, 30)
    rows = []
    for n in range(count):
        key = f"{n:032x}"
        sealed = n % 3 == 0  # as confirming leaves a sealed row: no readable name
        name = NAMES[n % len(NAMES)] if n % 17 != 5 else None
        email = None if n % 4 == 1 else f"s{n}@example.org"
        status = ("confirmed", "confirmed", "pending", "withdrawn")[n % 4]
        created = base + timedelta(seconds=n, microseconds=(n * 12345) % 1000000 if n % 2 else 0)
        rows.append(
            {
                "campaign_id": campaign_id,
                "status": status,
                "dedup_key": f"b{n}",
                "row_key": key,
                "name_enc": None if sealed else crypto.seal_signer(name, "name_enc", key),
                "email_enc": None if sealed else crypto.seal_signer(email, "email_enc", key),
                "comment_enc": crypto.seal_signer(COMMENTS[n % len(COMMENTS)], "comment_enc", key),
                "organizer_sealed": f"o2.{n:08x}.env+/=.body{n}=" if sealed else None,
                "country": ("DE", "IR", "FR", "=1")[n % 4],
                "language": ("en", "fa", "fr")[n % 3],
                "referral_code": f"b{n}",
                "referrer_code": ("+ref", None, "abc")[n % 3],
                "source": SOURCES[n % len(SOURCES)],
                "flagged": n % 9 == 0,
                "public_consent": pick.random() < 0.5,
                "contact_consent": pick.random() < 0.7,
                "comment_consent": pick.random() < 0.5,
                "delivery_consent": pick.random() < 0.7,
                "created_at": created,
                "confirmed_at": created + timedelta(minutes=5) if status != "pending" else None,
            }
        )
    db.session.execute(insert(Signature), rows)
    db.session.commit()
    return campaign_id


@pytest.mark.parametrize("batch", [1, 4, 1000])
@pytest.mark.parametrize("preset", sorted(export_presets.PRESETS))
def test_serial_export_is_the_reference_byte_for_byte(app, monkeypatch, preset, batch):
    campaign_id = seed()
    expected = reference_csv(campaign_id, preset)
    assert expected.count("\r\n") > 10  # rows in every preset
    # Small batches: some are plain text, some need quoting (the csv module's); one
    # row a batch tries each kind of cell alone.
    monkeypatch.setattr(export_signers, "BATCH", batch)
    for excel in (False, True):
        got = "".join(export_signers.export_csv(campaign_id, preset, SignerFilter(), excel=excel))
        assert got == (csv_stream.BOM if excel else "") + expected


def test_filtered_and_limited_export_is_the_reference(app):
    """The table's filters and a limit reach the DBAPI cursor as SQLAlchemy binds them
    (SQLite's datetimes as its stored text)."""
    campaign_id = seed()
    day = date(2026, 3, 1)
    filters = SignerFilter(country="IR", state="confirmed", since=day, until=day, contact="yes")
    expected = reference_csv(campaign_id, "full", filters, limit=7)
    assert 1 < expected.count("\r\n") <= 8
    got = export_signers.export_csv(campaign_id, "full", filters, limit=7)
    assert "".join(got) == expected
    none = SignerFilter(since=day + timedelta(days=1))
    assert "".join(export_signers.export_csv(campaign_id, "full", none)).count("\r\n") == 1


def test_id_bounds_are_the_first_and_last_ids_the_export_covers(app):
    campaign_id = seed(60)
    query = export_presets.preset_query(campaign_id, "delivery", SignerFilter(country="IR"))
    ids = [s.id for s in db.session.scalars(query)]
    assert len(ids) > 3
    assert export_parallel.id_bounds(query, None) == (ids[0], ids[-1])
    assert export_parallel.id_bounds(query, 3) == (ids[0], ids[2])
    assert export_parallel.id_bounds(query, 10**6) == (ids[0], ids[-1])
    nobody = export_presets.preset_query(campaign_id, "full", SignerFilter(country="ZZ"))
    assert export_parallel.id_bounds(nobody, None) is None


@pytest.mark.parametrize("to_stdout", [False, True])
def test_parallel_export_is_the_reference_byte_for_byte(app, monkeypatch, tmp_path, to_stdout):
    """A file gets the ranges by sendfile; the test runner's stdout (no descriptor)
    by reads and writes."""
    campaign_id = seed(300)
    expected = reference_csv(campaign_id, "full").encode("utf-8")
    monkeypatch.setattr(export_parallel, "MIN_IDS", 1)
    monkeypatch.setattr(export_parallel, "RANGE_IDS", 25)  # 12 ranges over 2 processes
    monkeypatch.setattr(export_parallel, "BATCH", 4)
    out = tmp_path / "full.csv"
    args = ["export", "--campaign", campaign_content().slug, "--preset", "full"]
    args += ["--processes", "2", "--output", "-" if to_stdout else str(out)]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    assert (result.stdout_bytes if to_stdout else out.read_bytes()) == expected


def test_a_part_is_copied_whatever_the_output(tmp_path):
    slot = os.memfd_create("test-part")
    try:
        os.write(slot, b"abc\r\ndef\r\n" + b"a longer range's tail, not this part's")
        for mode in ("wb", "ab"):  # "ab": O_APPEND, which sendfile refuses
            path = tmp_path / f"out-{mode}"
            with path.open(mode) as out:
                out.write(b"head\r\n")  # still in the buffer: flushed first
                assert Part(slot, 10, 2).write_to(out) == 2
            assert path.read_bytes() == b"head\r\nabc\r\ndef\r\n"
        no_descriptor = io.BytesIO()
        Part(slot, 10, 2).write_to(no_descriptor)
        assert no_descriptor.getvalue() == b"abc\r\ndef\r\n"
        with pytest.raises(RuntimeError):  # its slot may hold another range by now
            Part(slot, 10, 2, spent=True).write_to(no_descriptor)
    finally:
        os.close(slot)


@pytest.mark.postgres  # CI's SQLite half deselects it (-m 'not postgres')
def test_postgres_rows_stream_through_a_server_side_cursor(app, monkeypatch):
    """The memory bound on PostgreSQL: the DBAPI rows come from a named cursor, a
    batch at a time, not from a client-side cursor holding the whole result."""
    require(using_postgres(), "needs PostgreSQL (server-side cursors)")
    campaign_id = seed(40)
    monkeypatch.setattr(export_signers, "BATCH", 10)
    chunks = export_signers.export_csv(campaign_id, "full", SignerFilter())
    next(chunks)  # the header
    next(chunks)  # the first batch: the cursor is open on the session's connection
    open_cursors = db.session.execute(text("SELECT name FROM pg_cursors")).scalars().all()
    assert any(name.startswith("export_") for name in open_cursors), open_cursors
    rest = "".join(chunks)
    assert rest.count("\r\n") >= 20
    assert db.session.execute(text("SELECT count(*) FROM pg_cursors")).scalar() == 0


def test_csv_chunk_matches_the_csv_module_on_any_cells():
    """The fast join writes exactly what `csv.writer` writes, whatever the cells."""
    alphabet = ["a", "é", "مر", " ", ",", '"', "\n", "\r", "\x00", "=", "'", "\u2028", "🌹"]
    pick = random.Random(2023)
    for _ in range(3000):
        width = pick.randint(1, 5)
        rows = [
            tuple(
                "".join(pick.choice(alphabet) for _ in range(pick.randint(0, 3)))
                for _ in range(width)
            )
            for _ in range(pick.randint(0, 4))
        ]
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\r\n").writerows(rows)
        assert csv_stream.csv_chunk(rows, width) == buffer.getvalue(), rows
