"""The app in process, beside the servers: migrations, and the checks that every answer
a step counted has its row (zero lost), and the confirm links for the confirm step."""

from __future__ import annotations

import os
import time
from pathlib import Path

from suite.knobs import KEYS, SLUG


def make_app(database_url: str, **overrides):
    from campaign import create_app

    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": KEYS["SECRET_KEY"],
        "HASH_KEY": KEYS["HASH_KEY"],
        "ENCRYPTION_KEYS": [KEYS["ENCRYPTION_KEYS"]],
        "LOG_LEVEL": "WARNING",
        "EMAIL_CHECK_DELIVERABILITY": False,
        "RATELIMIT_ENABLED": False,
        "SMTP_URL": "console",
        "CONTENT_DIR": os.environ["CONTENT_DIR"],
        **overrides,
    }
    return create_app(config)


def prepare_database(database_url: str) -> int:
    """Migrate, create the campaign's row; returns the campaign id."""
    import logging

    from flask_migrate import upgrade

    from campaign.extensions import db
    from campaign.services.pages.campaigns import sync_all

    app = make_app(database_url)
    with app.app_context():
        logging.getLogger("alembic").setLevel(logging.WARNING)
        upgrade()
        rows = sync_all()
        campaign_id = next(r.id for r in rows if r.slug == SLUG)
        db.session.remove()
        db.engine.dispose()
    return campaign_id


def acknowledged_emails(result: dict) -> list[str]:
    """The emails whose sign POST got a 303, from wrk's per-thread counts.

    Each wrk thread has one connection, so its n-th response answers its n-th
    request, whose email is b-<run>-<thread>-<n> (<run>: its slice's prefix).
    """
    emails = []
    for thread in result["threads"]:
        prefix = thread["prefix"]
        failed = {int(item.split(":")[0]) for item in thread["failed"].split() if item}
        # wrk calls request() once on its first thread to verify the script before
        # the run, so that thread's n-th response answers its (n+1)-th email.
        shift = 1 if thread["id"] == 1 and thread["sent"] > thread["responses"] else 0
        for n in range(1, thread["responses"] + 1):
            if n not in failed:
                emails.append(f"b-{prefix}-{thread['id']}-{n + shift}@example.org")
    return emails


def check_signatures(database_url: str, result: dict, rows_before: int) -> dict:
    """Zero lost: every acknowledged email has its row."""
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.models import Signature
    from campaign.services.intake.validation import normalize_email
    from campaign.services.sealing.blind_index import dedup_key

    time.sleep(1.0)  # requests wrk cut off at the end may still be committing
    app = make_app(database_url)
    with app.app_context():
        emails = acknowledged_emails(result)
        keys = [dedup_key(normalize_email(e).canonical) for e in emails]
        found = 0
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found += db.session.scalar(
                select(func.count()).select_from(Signature).where(Signature.dedup_key.in_(chunk))
            )
        rows_after = db.session.scalar(select(func.count()).select_from(Signature))
        db.session.remove()
        db.engine.dispose()
    new_rows = rows_after - rows_before
    return {
        "acknowledged": len(emails),
        "acknowledged_with_row": found,
        "lost": len(emails) - found,
        "new_rows": new_rows,
        # Requests in flight when wrk stopped: committed, but their answer never read.
        "unacknowledged_rows": new_rows - found,
    }


def count_rows(database_url: str) -> int:
    from sqlalchemy import text

    from campaign.extensions import db

    app = make_app(database_url)
    with app.app_context():
        value = db.session.execute(text("SELECT count(*) FROM signatures")).scalar_one()
        db.session.remove()
        db.engine.dispose()
    return value


def confirm_tokens(database_url: str, path: Path) -> int:
    """Confirm links for every pending signature, written one per line."""
    from sqlalchemy import select

    from campaign.extensions import db
    from campaign.models import Signature, SignatureStatus
    from campaign.services.intake.links import make_token

    app = make_app(database_url)
    with app.app_context():
        pending = db.session.scalars(
            select(Signature)
            .where(Signature.status == SignatureStatus.PENDING)
            .order_by(Signature.id)
        ).all()
        tokens = [make_token(s, "confirm") for s in pending]
        db.session.remove()
        db.engine.dispose()
    path.write_text("\n".join(tokens) + "\n")
    return len(tokens)


def check_confirmations(database_url: str, result: dict, campaign_id: int) -> dict:
    from sqlalchemy import func, select

    from campaign.extensions import db
    from campaign.models import CountShard, Signature, SignatureStatus

    time.sleep(1.0)
    app = make_app(database_url)
    with app.app_context():
        confirmed = db.session.scalar(
            select(func.count())
            .select_from(Signature)
            .where(Signature.status == SignatureStatus.CONFIRMED)
        )
        shards = db.session.scalar(
            select(func.sum(CountShard.confirmed)).where(CountShard.campaign_id == campaign_id)
        )
        db.session.remove()
        db.engine.dispose()
    exhausted = any(t["exhausted"] and not t.get("warm_up") for t in result["threads"])
    return {
        "acknowledged": result["ok"],
        "confirmed_rows": confirmed,
        "lost": max(0, result["ok"] - confirmed),
        "unacknowledged_rows": confirmed - result["ok"],
        "count_shards_sum": int(shards or 0),
        "tokens_exhausted": exhausted,
    }
