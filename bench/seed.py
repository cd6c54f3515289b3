"""A fast bulk seeder: confirmed signatures written straight into the table.

The seeder is not what is measured, so it takes shortcuts the app never would:
a handful of encrypted names, emails and comments are made once (real Fernet
tokens under the run's key, so exports decrypt them for real) and reused; rows
go in with executemany (SQLite) or COPY (PostgreSQL); no name-token index rows.
Afterwards the count shards are set from the table, as `flask counts repair` does.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import text

COLUMNS = (
    "campaign_id", "status", "dedup_key", "email_enc", "name_enc", "comment_enc",
    "email_domain_hash", "country", "language", "public_consent", "contact_consent",
    "comment_hidden", "referral_code", "link_nonce", "flagged", "already_signed_mails",
    "created_at", "confirmed_at",
)  # fmt: skip
COUNTRIES = ("DE", "FR", "GB", "SE", "NL", "CA", "US", "AU", "IR", "TR")
FIRST = ("Maryam", "Reza", "Sara", "Ali", "Leila", "Hossein", "Nasrin", "Dariush")
LAST = ("Ahmadi", "Karimi", "Rahimi", "Tehrani", "Moradi", "Jafari", "Hosseini", "Sadeghi")
CHUNK = 20_000


def blobs(encrypt) -> dict[str, list[str]]:
    names = [f"{f} {la}" for f in FIRST for la in LAST][:16]
    emails = [f"seed{n}@example.org" for n in range(16)]
    return {
        "name": [encrypt(n) for n in names],
        "email": [encrypt(e) for e in emails],
        # One cell in 10 has a comment; one of them starts with "=" (formula injection).
        "comment": [encrypt("I signed for my family."), encrypt("=HYPERLINK(\"x\")")],
    }


def rows(campaign_id: int, start: int, count: int, made: dict[str, list[str]]):
    rng = random.Random(start)
    base = datetime(2026, 1, 1)
    for i in range(start, start + count):
        created = base + timedelta(seconds=i * 7)
        yield (
            campaign_id, "confirmed", format(i, "064x"), made["email"][i % 16],
            made["name"][i % 16], made["comment"][i % 2] if i % 10 == 0 else None,
            "seed-domain", COUNTRIES[i % 10], "en", i % 3 == 0, i % 4 == 0, False,
            f"s{i:015d}", "0" * 32, False, 0, created,
            created + timedelta(minutes=rng.randrange(1, 600)),
        )  # fmt: skip


def seed(db, campaign_id: int, start: int, count: int, encrypt) -> dict:
    """Insert `count` confirmed signatures numbered from `start`; returns timings."""
    made = blobs(encrypt)
    began = time.perf_counter()
    engine = db.engine
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            # Column names are this module's constants, never input.
            sql = (f"INSERT INTO signatures ({', '.join(COLUMNS)}) "  # noqa: S608
                   f"VALUES ({', '.join('?' for _ in COLUMNS)})")  # fmt: skip
            batch: list[tuple] = []
            for row in rows(campaign_id, start, count, made):
                batch.append(row)
                if len(batch) >= CHUNK:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
            raw.commit()
            cursor.execute("PRAGMA synchronous=NORMAL")
        finally:
            raw.close()
    else:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY signatures ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows(campaign_id, start, count, made):
                    copy.write_row(row)
            raw.commit()
            cursor.execute("ANALYZE signatures")
            raw.commit()
        finally:
            raw.close()
    inserted = time.perf_counter() - began
    from campaign.services import counting

    before, after = counting.repair(campaign_id)
    db.session.remove()
    return {
        "rows": count,
        "insert_s": round(inserted, 2),
        "repair_s": round(time.perf_counter() - began - inserted, 2),
        "count_after": after,
        "count_before": before,
    }


def total(db, campaign_id: int) -> int:
    with db.engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM signatures WHERE campaign_id = :c"), {"c": campaign_id}
        ).scalar_one()
