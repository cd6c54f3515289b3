"""A fast bulk seeder: confirmed signatures written straight into the table.

The seeder is not what is measured, so it takes shortcuts the app never would:
names, emails and comments come from a handful of values, each encrypted for its
own row (AES-GCM bound to the column and the row's `row_key`, as the app writes
them, so exports decrypt them for real: a token can't be reused across rows); rows
go in with executemany (SQLite) or COPY (PostgreSQL); no name-token index rows.
Afterwards the count shards are set from the table, as `flask counts repair` does.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta

from sqlalchemy import text

COLUMNS = (
    "campaign_id",
    "status",
    "dedup_key",
    "email_enc",
    "name_enc",
    "comment_enc",
    "email_domain_hash",
    "country",
    "language",
    "public_consent",
    "contact_consent",
    "comment_hidden",
    "referral_code",
    "link_nonce",
    "flagged",
    "already_signed_mails",
    "created_at",
    "confirmed_at",
    "row_key",
)
COUNTRIES = ("DE", "FR", "GB", "SE", "NL", "CA", "US", "AU", "IR", "TR")
FIRST = ("Maryam", "Reza", "Sara", "Ali", "Leila", "Hossein", "Nasrin", "Dariush")
LAST = ("Ahmadi", "Karimi", "Rahimi", "Tehrani", "Moradi", "Jafari", "Hosseini", "Sadeghi")
CHUNK = 20_000


def values() -> dict[str, list[str]]:
    return {
        "name": [f"{f} {la}" for f in FIRST for la in LAST][:16],
        "email": [f"seed{n}@example.org" for n in range(16)],
        # One cell in 10 has a comment; one of them starts with "=" (formula injection).
        "comment": ["I signed for my family.", '=HYPERLINK("x")'],
    }


def rows(campaign_id: int, start: int, count: int, made: dict[str, list[str]], encrypt):
    """`encrypt(value, column, row_key)`: `campaign.services.sealing.crypto.seal_signer`."""
    rng = random.Random(start)
    base = datetime(2026, 1, 1)
    for i in range(start, start + count):
        created = base + timedelta(seconds=i * 7)
        row_key = format(i, "032x")  # unique per row, as the app's random keys are
        comment = made["comment"][i // 10 % 2] if i % 10 == 0 else None
        yield (
            campaign_id,
            "confirmed",
            format(i, "064x"),
            encrypt(made["email"][i % 16], "email_enc", row_key),
            encrypt(made["name"][i % 16], "name_enc", row_key),
            encrypt(comment, "comment_enc", row_key),
            "seed-domain",
            COUNTRIES[i % 10],
            "en",
            i % 3 == 0,
            i % 4 == 0,
            False,
            f"s{i:015d}",
            "0" * 32,
            False,
            0,
            created,
            created + timedelta(minutes=rng.randrange(1, 600)),
            row_key,
        )


def seed(db, campaign_id: int, start: int, count: int, encrypt) -> dict:
    """Insert `count` confirmed signatures numbered from `start`; returns timings."""
    made = values()
    began = time.perf_counter()
    engine = db.engine
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA synchronous=OFF")
            # Column names are this module's constants, never input.
            sql = (
                f"INSERT INTO signatures ({', '.join(COLUMNS)}) "  # noqa: S608
                f"VALUES ({', '.join('?' for _ in COLUMNS)})"
            )
            batch: list[tuple] = []
            for row in rows(campaign_id, start, count, made, encrypt):
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
                for row in rows(campaign_id, start, count, made, encrypt):
                    copy.write_row(row)
            raw.commit()
            cursor.execute("ANALYZE signatures")
            raw.commit()
        finally:
            raw.close()
    inserted = time.perf_counter() - began
    from campaign.services.pages import counting

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
