"""The confirm POST's write: one submission out of pending, counted, logged, and the
address's other pending submissions gone, all or nothing.

Statements built once and run on a DBAPI connection (campaign/dbapi.py), with no ORM
session: on PostgreSQL one statement in autocommit (CONFIRM_ALL_IN_ONE, one round
trip); on SQLite the same steps in one transaction. services/confirmation.py decides
whether a link may confirm, and what the answer is.
"""

from __future__ import annotations

from sqlalchemy import and_, bindparam, case, delete, func, null, select, update

from .. import dbapi
from ..models import OutboxMessage, Signature, SignatureStatus, utcnow
from . import counting, transparency
from .abuse import FAST
from .privacy import NO_OP_WRITE

SIGNATURES, OUTBOX = Signature.__table__, OutboxMessage.__table__
TLOG_PENDING = transparency.INSERT_PENDING.table
_S = SIGNATURES.c
LOCK_ADDRESS = (  # the address's rows, locked in id order; their states name the others
    select(_S.id, _S.status)
    .where(_S.campaign_id == bindparam("campaign"), _S.dedup_key == bindparam("key"))
    .order_by(_S.id)
    .with_for_update()
)
_FAST = _S.flag_reason == FAST  # the time trap only suspects a form: confirming clears it
# Issue 23: a row sealed to the organizers' key keeps, once confirmed, only what a
# consent needs readable: the address under contact consent, the comment under
# publication consent (the public display has its own column). The full name, the
# rest, and the link secret go: from here only the organizers' key or the signer's
# link opens them. Plain column writes, no cryptography on the confirm POST.
_SEALED = _S.organizer_sealed.is_not(None)
KEEP_READABLE = {
    "name_enc": case((_SEALED, null()), else_=_S.name_enc),
    "email_enc": case((and_(_SEALED, _S.contact_consent.is_(False)), null()), else_=_S.email_enc),
    "comment_enc": case(
        (and_(_SEALED, _S.comment_consent.is_(False)), null()), else_=_S.comment_enc
    ),
    "link_secret": null(),
}
CONFIRM_PENDING = (
    update(SIGNATURES)
    .where(_S.id == bindparam("signature"), _S.status == SignatureStatus.PENDING)
    .values(
        status=SignatureStatus.CONFIRMED,
        confirmed_at=bindparam("now"),
        flagged=case((_FAST, False), else_=_S.flagged),
        flag_reason=case((_FAST, None), else_=_S.flag_reason),
        **KEEP_READABLE,
    )
    .returning(_S.flagged)
)
LOG_COLUMNS = ["campaign_id", "signature_id", "action", "reason", "created_at", "commitment"]


def _confirm_all_in_one():
    """PostgreSQL: all of confirming as one statement (data-modifying CTEs), run in
    autocommit, so it is one round trip and all or nothing:
    - lock the address's rows in id order (LOCK_ADDRESS); the UPDATE waits for that
      (its condition reads the locked rows' count, an InitPlan run before any row);
    - CONFIRM_PENDING; if the row as updated is counted, the count's shard
      (counting.ADJUST) and the log's pending add (transparency.INSERT_PENDING);
    - if it confirmed, the address's other pending submissions and their mail deleted
      (their name tokens go by ON DELETE CASCADE).
    A second confirmed row for the address fails the whole statement (IntegrityError)."""
    locked = LOCK_ADDRESS.cte("locked")
    locks_taken = select(func.count()).select_from(locked).scalar_subquery() >= 0
    confirmed = CONFIRM_PENDING.where(locks_taken).cte("confirmed")
    did_confirm = select(confirmed.c.flagged).exists()
    counted = select(confirmed.c.flagged).where(confirmed.c.flagged.is_(False)).exists()
    adjust = counting.ADJUST.where(counted)
    log_row = [bindparam(f"log_{name}", type_=TLOG_PENDING.c[name].type) for name in LOG_COLUMNS]
    log_add = transparency.INSERT_PENDING.from_select(LOG_COLUMNS, select(*log_row).where(counted))
    others = select(locked.c.id).where(
        locked.c.status == SignatureStatus.PENDING, locked.c.id != bindparam("signature")
    )
    drop_mail = delete(OUTBOX).where(OUTBOX.c.signature_id.in_(others), did_confirm)
    drop_rows = delete(SIGNATURES).where(
        _S.id.in_(others), _S.status == SignatureStatus.PENDING, did_confirm
    )
    return select(confirmed.c.flagged).add_cte(
        adjust.cte("counted"),
        log_add.cte("logged"),
        drop_mail.cte("dropped_mail"),
        drop_rows.cte("dropped_rows"),
    )


CONFIRM_ALL_IN_ONE = dbapi.Statement(_confirm_all_in_one())
# SQLite's steps, each compiled once.
TAKE_WRITE_LOCK = dbapi.Statement(NO_OP_WRITE)
LOCKED_ROWS = dbapi.Statement(LOCK_ADDRESS)
CONFIRM = dbapi.Statement(CONFIRM_PENDING)
ADJUST_COUNT = dbapi.Statement(counting.ADJUST)
LOG_ADD = dbapi.Statement(
    transparency.INSERT_PENDING.values({name: bindparam(name) for name in LOG_COLUMNS})
)
DROP_MAIL = dbapi.Statement(delete(OUTBOX).where(OUTBOX.c.signature_id == bindparam("id")))
DROP_PENDING = dbapi.Statement(  # its name tokens go by ON DELETE CASCADE
    delete(SIGNATURES).where(_S.id == bindparam("id"), _S.status == SignatureStatus.PENDING)
)


def write_confirmation(runner: dbapi.Runner, row) -> bool | None:
    """Confirm the link's row (`confirmation.link_row`'s) and commit. Returns its
    `flagged` as updated (counted if False), or None if it was no longer pending.
    Raises IntegrityError if the address holds a confirmed signature already.
    PostgreSQL: `runner` must be in autocommit; SQLite: hold the writers' turn."""
    now = utcnow()
    if runner.dialect.name == "postgresql":
        params = {"signature": row.id, "now": now, "campaign": row.campaign_id}
        params |= {"key": row.dedup_key, "shard_no": counting.random_shard(), "delta": 1}
        params |= {f"log_{k}": v for k, v in transparency.add_values(row, now).items()}
        confirmed = runner.first(CONFIRM_ALL_IN_ONE, params)
        return None if confirmed is None else confirmed.flagged
    # SQLite: take the write lock first, so what is read next is current; then the
    # address's rows, so its other pending submissions are known.
    runner.execute(TAKE_WRITE_LOCK, {})
    locked = []
    if row.dedup_key is not None:
        locked = runner.all(LOCKED_ROWS, {"campaign": row.campaign_id, "key": row.dedup_key})
    confirmed = runner.first(CONFIRM, {"signature": row.id, "now": now})
    if confirmed is None:
        runner.rollback()
        return None
    if not confirmed.flagged:
        shard = {"campaign": row.campaign_id, "shard_no": counting.random_shard(), "delta": 1}
        runner.execute(ADJUST_COUNT, shard)
        runner.execute(LOG_ADD, transparency.add_values(row, now))  # the public log's add
    for other in locked:
        if other.status == SignatureStatus.PENDING and other.id != row.id:
            runner.execute(DROP_MAIL, {"id": other.id})
            runner.execute(DROP_PENDING, {"id": other.id})
    runner.commit()
    return confirmed.flagged
