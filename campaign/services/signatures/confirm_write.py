"""The confirm POST's write: one submission out of pending, counted, logged, and the
address's other pending submissions gone, all or nothing.

Statements built once and run on a DBAPI connection (campaign/database/dbapi.py), with no ORM
session: on PostgreSQL one statement in autocommit (`confirm_all_in_one`, one round
trip); on SQLite the same steps in one transaction. services/signatures/confirmation.py decides
whether a link may confirm, and what the answer is.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    not_,
    null,
    select,
    update,
)

from ...database import dbapi
from ...models import OutboxMessage, Signature, SignatureStatus, SupersededLink, utcnow
from ..intake.abuse import FAST
from ..log import tlog_pending
from ..pages import counting
from ..signer_data import consents
from ..signer_data.privacy import NO_OP_WRITE

SIGNATURES, OUTBOX = Signature.__table__, OutboxMessage.__table__
SUPERSEDED = SupersededLink.__table__
# What a deleted submission leaves for its mailed link (models/superseded.py).
SUPERSEDED_COLUMNS = ["signature_id", "campaign_id", "held_id", "link_nonce", "created_at"]
TLOG_PENDING = tlog_pending.INSERT_PENDING.table
_S = SIGNATURES.c
LOCK_ADDRESS = (  # the address's rows, locked in id order; their states name the others
    select(_S.id, _S.status)
    .where(_S.campaign_id == bindparam("campaign"), _S.dedup_key == bindparam("key"))
    .order_by(_S.id)
    .with_for_update()
)
_FAST = _S.flag_reason == FAST  # the time trap only suspects a form: confirming clears it
# Issue 23: a row sealed to the organizers' key keeps, once confirmed, only what a
# consent the owner leaves ticked needs readable (each consent's `keeps`: the public
# display, a published comment, a contact-consent address). The full name, the rest,
# and the link secret go: from here only the organizers' key or the signer's link
# opens them. Plain column writes, no cryptography on the confirm POST.
_SEALED = _S.organizer_sealed.is_not(None)


def _choice(consent: consents.Consent):
    """A consent's value as confirmed: the owner's box, and only if it applies (a
    comment's box with no comment stores no)."""
    ticked = bindparam(f"consent_{consent.column}", type_=Boolean)
    return ticked if consent.needs is None else and_(ticked, _S[consent.needs].is_not(None))


def keep_readable(chosen: dict) -> dict:
    """The server-readable columns a sealed row keeps as confirmed: each consent's
    `keeps` only if the owner left that consent ticked (`chosen`: its value as
    confirmed), the full name never, the link secret never."""
    values = {"name_enc": case((_SEALED, null()), else_=_S.name_enc), "link_secret": null()}
    for consent in consents.all_consents():
        if consent.keeps is not None:
            kept = _S[consent.keeps]
            dropped = and_(_SEALED, not_(chosen[consent.column]))
            values[consent.keeps] = case((dropped, null()), else_=kept)
    return values


def confirm_pending():
    """Out of pending, with the owner's choices from the confirm page as the consents
    (H1): every consent of the registry is set, so none survives from the sign POST.
    A row sealed to the organizers (issue 23) keeps readable only what those choices need."""
    chosen = {c.column: _choice(c) for c in consents.all_consents()}
    return (
        update(SIGNATURES)
        .where(_S.id == bindparam("signature"), _S.status == SignatureStatus.PENDING)
        .values(
            status=SignatureStatus.CONFIRMED,
            confirmed_at=bindparam("now"),
            flagged=case((_FAST, False), else_=_S.flagged),
            flag_reason=case((_FAST, None), else_=_S.flag_reason),
            **chosen,
            **keep_readable(chosen),
        )
        .returning(_S.flagged)
    )


def choice_params(choices: frozenset[str]) -> dict[str, bool]:
    """The confirm statement's parameters for the boxes the owner left ticked."""
    return {f"consent_{c.column}": c.key in choices for c in consents.all_consents()}


LOG_COLUMNS = ["campaign_id", "signature_id", "action", "reason", "created_at", "commitment"]


def _confirm_all_in_one():
    """PostgreSQL: all of confirming as one statement (data-modifying CTEs), run in
    autocommit, so it is one round trip and all or nothing:
    - lock the address's rows in id order (LOCK_ADDRESS); the UPDATE waits for that
      (its condition reads the locked rows' count, an InitPlan run before any row);
    - `confirm_pending` (the owner's consents folded in); if the row as updated is
      counted, the count's shard (counting.ADJUST) and the log's pending add
      (tlog_pending.INSERT_PENDING); if it is held back by an abuse flag, a pending
      "hold" instead (no leaf: its receipt mail, tlog_pending.HOLD);
    - if it confirmed, the address's other pending submissions and their mail deleted
      (their name tokens go by ON DELETE CASCADE), each leaving its link's nonce and
      the confirmed row in `superseded_links` (so its link answers "already").
    A second confirmed row for the address fails the whole statement (IntegrityError)."""
    locked = LOCK_ADDRESS.cte("locked")
    locks_taken = select(func.count()).select_from(locked).scalar_subquery() >= 0
    confirmed = confirm_pending().where(locks_taken).cte("confirmed")
    did_confirm = select(confirmed.c.flagged).exists()
    counted = select(confirmed.c.flagged).where(confirmed.c.flagged.is_(False)).exists()
    adjust = counting.ADJUST.where(counted)
    log_row = [bindparam(f"log_{name}", type_=TLOG_PENDING.c[name].type) for name in LOG_COLUMNS]
    log_add = tlog_pending.INSERT_PENDING.from_select(LOG_COLUMNS, select(*log_row).where(counted))
    held = select(confirmed.c.flagged).where(confirmed.c.flagged.is_(True)).exists()
    hold_row = [
        literal(tlog_pending.HOLD) if name == "action" else value
        for name, value in zip(LOG_COLUMNS, log_row, strict=True)
    ]
    log_hold = tlog_pending.INSERT_PENDING.from_select(LOG_COLUMNS, select(*hold_row).where(held))
    others = select(locked.c.id).where(
        locked.c.status == SignatureStatus.PENDING, locked.c.id != bindparam("signature")
    )
    drop_mail = delete(OUTBOX).where(OUTBOX.c.signature_id.in_(others), did_confirm)
    drop_rows = (
        delete(SIGNATURES)
        .where(_S.id.in_(others), _S.status == SignatureStatus.PENDING, did_confirm)
        .returning(_S.id, _S.campaign_id, _S.link_nonce, _S.created_at)
        .cte("dropped_rows")
    )
    dropped = drop_rows.c
    keep_links = insert(SUPERSEDED).from_select(
        SUPERSEDED_COLUMNS,
        select(
            dropped.id,
            dropped.campaign_id,
            bindparam("signature", type_=_S.id.type),
            dropped.link_nonce,
            dropped.created_at,
        ).where(dropped.link_nonce.is_not(None)),
    )
    return select(confirmed.c.flagged).add_cte(
        adjust.cte("counted"),
        log_add.cte("logged"),
        log_hold.cte("held"),
        drop_mail.cte("dropped_mail"),
        drop_rows,
        keep_links.cte("kept_links"),
    )


def keep_link(submission, held):
    """INSERT … SELECT: a pending submission's link nonce kept in `superseded_links`,
    pointing at `held`, the address's confirmed signature (run before deleting it)."""
    return insert(SUPERSEDED).from_select(
        SUPERSEDED_COLUMNS,
        select(_S.id, _S.campaign_id, held, _S.link_nonce, _S.created_at).where(
            _S.id == submission,
            _S.status == SignatureStatus.PENDING,
            _S.link_nonce.is_not(None),
        ),
    )


confirm_all_in_one = consents.per_registry(lambda: dbapi.Statement(_confirm_all_in_one()))
# SQLite's steps, each compiled once.
TAKE_WRITE_LOCK = dbapi.Statement(NO_OP_WRITE)
LOCKED_ROWS = dbapi.Statement(LOCK_ADDRESS)
confirm_one = consents.per_registry(lambda: dbapi.Statement(confirm_pending()))
ADJUST_COUNT = dbapi.Statement(counting.ADJUST)
LOG_ADD = dbapi.Statement(
    tlog_pending.INSERT_PENDING.values({name: bindparam(name) for name in LOG_COLUMNS})
)
DROP_MAIL = dbapi.Statement(delete(OUTBOX).where(OUTBOX.c.signature_id == bindparam("id")))
KEEP_LINK = dbapi.Statement(keep_link(bindparam("id"), bindparam("held")))
DROP_PENDING = dbapi.Statement(  # its name tokens go by ON DELETE CASCADE
    delete(SIGNATURES).where(_S.id == bindparam("id"), _S.status == SignatureStatus.PENDING)
)


def write_confirmation(runner: dbapi.Runner, row, choices: frozenset[str]) -> bool | None:
    """Confirm the link's row (`confirmation.link_row`'s) with the consents the owner
    left ticked (`choices`: keys of the registry), and commit. Returns its
    `flagged` as updated (counted if False), or None if it was no longer pending.
    Raises IntegrityError if the address holds a confirmed signature already.
    PostgreSQL: `runner` must be in autocommit; SQLite: hold the writers' turn."""
    now = utcnow()
    chosen = choice_params(choices)
    if runner.dialect.name == "postgresql":
        params = {"signature": row.id, "now": now, "campaign": row.campaign_id, **chosen}
        params |= {"key": row.dedup_key, "shard_no": counting.random_shard(), "delta": 1}
        params |= {f"log_{k}": v for k, v in tlog_pending.add_values(row, now).items()}
        confirmed = runner.first(confirm_all_in_one(), params)
        return None if confirmed is None else confirmed.flagged
    # SQLite: take the write lock first, so what is read next is current; then the
    # address's rows, so its other pending submissions are known.
    runner.execute(TAKE_WRITE_LOCK, {})
    locked = []
    if row.dedup_key is not None:
        locked = runner.all(LOCKED_ROWS, {"campaign": row.campaign_id, "key": row.dedup_key})
    confirmed = runner.first(confirm_one(), {"signature": row.id, "now": now, **chosen})
    if confirmed is None:
        runner.rollback()
        return None
    if not confirmed.flagged:
        shard = {"campaign": row.campaign_id, "shard_no": counting.random_shard(), "delta": 1}
        runner.execute(ADJUST_COUNT, shard)
        runner.execute(LOG_ADD, tlog_pending.add_values(row, now))  # the public log's add
    else:  # held back: no leaf, but its receipt mail goes out like anyone's
        runner.execute(LOG_ADD, tlog_pending.add_values(row, now) | {"action": tlog_pending.HOLD})
    for other in locked:
        if other.status == SignatureStatus.PENDING and other.id != row.id:
            runner.execute(DROP_MAIL, {"id": other.id})
            runner.execute(KEEP_LINK, {"id": other.id, "held": row.id})
            runner.execute(DROP_PENDING, {"id": other.id})
    runner.commit()
    return confirmed.flagged
