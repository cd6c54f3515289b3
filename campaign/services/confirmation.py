"""Confirming a submission from its mailed link, and what the link's page shows.

The rules: a link confirms exactly its own submission (per-purpose HMAC over the
row's random nonce, services/links.py); only the request that moves the row out of
pending counts it, however many race; the count follows the row as updated
(RETURNING flagged); and if the address already holds a confirmed signature, the
partial unique index refuses this one and the answer is "already". The confirm POST
runs in Core statements built once; the ORM object is loaded only for the pages that
show it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from .. import dbapi, sqlite_wal
from ..extensions import db
from ..models import OutboxMessage, Signature, SignatureStatus, utcnow
from . import counting, links, privacy, sealed, transparency
from .abuse import FAST
from .campaigns import campaign_ref
from .content import CampaignContent
from .signer_mail import delete_submissions, is_expired


def is_dedup_conflict(error: IntegrityError) -> bool:
    """Whether the partial unique index on confirmed (campaign_id, dedup_key) refused.

    PostgreSQL names the index; SQLite names the columns.
    """
    message = str(error.orig)
    return "uq_signatures_campaign_dedup_held" in message or "signatures.dedup_key" in message


@dataclass
class ConfirmResult:
    state: str  # confirmed | already | invalid | expired | closed
    loaded: Signature | None = None
    signature_id: int | None = None

    @property
    def signature(self) -> Signature | None:
        """The signature, loaded on first use: a confirm done in Core loads none, and
        its view only redirects."""
        if self.loaded is None and self.signature_id is not None:
            self.loaded = db.session.get(Signature, self.signature_id)
        return self.loaded


def find_by_token(token: str, purpose: str) -> Signature | None:
    """The signature a link names, if its HMAC for `purpose` matches, else None.

    Every failure (malformed, unknown id, erased or withdrawn row, wrong purpose)
    ends here alike, so callers can't answer them differently.
    """
    signature_id = links.parse_token(token)
    signature = db.session.get(Signature, signature_id) if signature_id is not None else None
    if signature is None or not links.token_matches(signature, token, purpose):
        return None
    return signature


_S = Signature.__table__.c
# Confirming runs these on every request: built once, compiled once per process.
LINK_ROW = dbapi.Statement(
    select(_S.id, _S.campaign_id, _S.status, _S.created_at, _S.dedup_key, _S.link_nonce).where(
        _S.id == bindparam("signature")
    )
)
LOCK_ADDRESS = (  # the address's rows, locked in id order; their states name the others
    select(_S.id, _S.status)
    .where(_S.campaign_id == bindparam("campaign"), _S.dedup_key == bindparam("key"))
    .order_by(_S.id)
    .with_for_update()
)
_FAST = _S.flag_reason == FAST  # the time trap only suspects a form: confirming clears it
CONFIRM_PENDING = (
    update(Signature.__table__)
    .where(_S.id == bindparam("signature"), _S.status == SignatureStatus.PENDING)
    .values(
        status=SignatureStatus.CONFIRMED,
        confirmed_at=bindparam("now"),
        flagged=case((_FAST, False), else_=_S.flagged),
        flag_reason=case((_FAST, None), else_=_S.flag_reason),
    )
    .returning(_S.flagged)
)


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
    log_columns = ["campaign_id", "signature_id", "action", "reason", "created_at", "commitment"]
    log_row = [bindparam(f"log_{name}", type_=TLOG_PENDING.c[name].type) for name in log_columns]
    log_add = transparency.INSERT_PENDING.from_select(log_columns, select(*log_row).where(counted))
    others = select(locked.c.id).where(
        locked.c.status == SignatureStatus.PENDING, locked.c.id != bindparam("signature")
    )
    drop_mail = delete(OUTBOX).where(OUTBOX.c.signature_id.in_(others), did_confirm)
    drop_rows = delete(Signature.__table__).where(
        _S.id.in_(others), _S.status == SignatureStatus.PENDING, did_confirm
    )
    return select(confirmed.c.flagged).add_cte(
        adjust.cte("counted"),
        log_add.cte("logged"),
        drop_mail.cte("dropped_mail"),
        drop_rows.cte("dropped_rows"),
    )


TLOG_PENDING = transparency.INSERT_PENDING.table
OUTBOX = OutboxMessage.__table__
CONFIRM_ALL_IN_ONE = dbapi.Statement(_confirm_all_in_one())


def link_row(token: str, purpose: str, runner: dbapi.Runner):
    """The columns confirming needs of the row a link names, if its HMAC matches (no
    ORM object); None for any link that matches nothing, as `find_by_token`."""
    signature_id = links.parse_token(token)
    if signature_id is None:
        return None
    row = runner.first(LINK_ROW, {"signature": signature_id})
    if row is None or not links.token_matches(row, token, purpose):
        return None
    return row


def check_confirmation(content: CampaignContent, token: str) -> ConfirmResult:
    """What the confirm link leads to, without changing anything (for the GET page)."""
    signature = find_by_token(token, "confirm")
    # By id, from the cached campaign: no lazy SELECT of the campaign row per confirm.
    if signature is None or signature.campaign_id != campaign_ref(content).id:
        return ConfirmResult("invalid")
    if signature.status != SignatureStatus.PENDING:
        state = "already" if signature.status == SignatureStatus.CONFIRMED else "invalid"
        return ConfirmResult(state, signature)
    if is_expired(signature):
        return ConfirmResult("expired", signature)
    if not content.accepts_signatures:
        return ConfirmResult("closed", signature)
    return ConfirmResult("pending", signature)


def confirm(content: CampaignContent, token: str) -> ConfirmResult:
    """Confirm exactly this submission. Safe to repeat: a second confirm changes nothing.

    In one transaction: the conditional UPDATE (only the request that moves it out of
    pending counts it, however many race), the count decided from the row *as updated*
    (RETURNING flagged: a restore committed meanwhile can't make the shards drift), and
    the address's other pending submissions deleted. If another submission of the
    address was confirmed first, the partial unique index refuses this one: it is
    deleted and the answer is "already". On PostgreSQL the whole change is one
    statement (CONFIRM_ALL_IN_ONE); elsewhere the same steps in one transaction.
    """
    postgres = db.engine.dialect.name == "postgresql"
    with _confirming_runner(postgres) as runner:
        row = link_row(token, "confirm", runner)
        if (
            row is None
            or row.campaign_id != campaign_ref(content).id
            or row.status != SignatureStatus.PENDING
            or is_expired(row)
            or not content.accepts_signatures
        ):  # nothing to change: the full answer, as the page shows it
            return check_confirmation(content, token)
        # SQLite: this request's turn among writers, for the write only (nothing for
        # PostgreSQL, whose statement locks the rows it changes).
        with sqlite_wal.writer_turn(runner.info):
            try:
                if postgres:
                    confirmed = runner.first(CONFIRM_ALL_IN_ONE, _all_in_one_params(row))
                    flagged = None if confirmed is None else confirmed.flagged
                else:
                    flagged = _confirm_in_transaction(db.session.connection(), row)
            except IntegrityError as exc:
                db.session.rollback()
                if not is_dedup_conflict(exc):
                    raise
                delete_submissions([row.id])
                db.session.commit()
                return ConfirmResult("already", _held(row.campaign_id, row.dedup_key))
            if flagged is None:  # a concurrent confirm (or withdrawal) got there first
                db.session.rollback()
                return check_confirmation(content, token)
            db.session.commit()  # the transaction on SQLite; nothing is open on PostgreSQL
    return ConfirmResult("confirmed", signature_id=row.id)


@contextmanager
def _confirming_runner(postgres: bool) -> Iterator[dbapi.Runner]:
    """PostgreSQL: a connection of its own in autocommit (each statement commits);
    elsewhere the session's connection, whose transaction the caller commits."""
    if not postgres:
        yield dbapi.Runner.on(db.session.connection())
        return
    with dbapi.connect(db.engine, autocommit=True) as runner:
        yield runner


def _all_in_one_params(row) -> dict:
    now = utcnow()
    params = {"signature": row.id, "now": now, "campaign": row.campaign_id, "key": row.dedup_key}
    params |= {"shard_no": counting.random_shard(), "delta": 1}
    return params | {f"log_{k}": v for k, v in transparency.add_values(row, now).items()}


def _confirm_in_transaction(connection: Connection, row) -> bool | None:
    """The steps of CONFIRM_ALL_IN_ONE in the session's transaction (SQLite). Returns
    the row's `flagged` as updated, or None if it was no longer pending."""
    # Lock the address's rows first, in id order: two of its submissions confirmed at
    # once then queue here instead of deadlocking on each other's rows.
    privacy.take_write_lock()
    locked = []
    if row.dedup_key is not None:
        params = {"campaign": row.campaign_id, "key": row.dedup_key}
        locked = connection.execute(LOCK_ADDRESS, params).all()
    now = utcnow()
    flagged = connection.execute(CONFIRM_PENDING, {"signature": row.id, "now": now}).scalar()
    if flagged is None:
        return None
    if not flagged:
        counting.adjust(row.campaign_id, +1)
        transparency.note_add(row, now)  # the public log's add, same transaction
    # The address's other pending submissions (locked above, so still pending).
    pending = SignatureStatus.PENDING
    delete_submissions([r.id for r in locked if r.status == pending and r.id != row.id])
    return flagged


def _held(campaign_id: int, key: str | None) -> Signature | None:
    """The address's confirmed signature (for the thank-you page's share link)."""
    if key is None:
        return None
    return db.session.scalar(
        select(Signature).where(
            Signature.campaign_id == campaign_id,
            Signature.dedup_key == key,
            Signature.confirmed_at.is_not(None),
        )
    )


def discard(content: CampaignContent, token: str) -> bool:
    """ "This is not me": delete a pending submission from its own confirm link.

    Only the mailbox owner has that link, so only they can discard what was sent in
    their name. Returns whether a submission was deleted.
    """
    result = check_confirmation(content, token)
    if result.state not in ("pending", "expired", "closed"):
        return False
    delete_submissions([result.signature.id])
    db.session.commit()
    return True


@dataclass(frozen=True)
class ConfirmPreview:
    """What confirming one submission publishes and stores, shown before the button."""

    name: str  # stored, encrypted, never shown in full
    public_name: str | None  # as shown on the page, or None: not shown
    country: str
    comment: str | None
    comment_public: bool
    contact: bool


def preview(signature: Signature) -> ConfirmPreview:
    name = sealed.unseal(sealed.SIGNER_LINK, "name", signature.name_enc, signature.row_key) or ""
    comment = sealed.unseal(sealed.SIGNER_LINK, "comment", signature.comment_enc, signature.row_key)
    return ConfirmPreview(
        name=name,
        public_name=privacy.public_name(name) if signature.public_consent else None,
        country=signature.country,
        comment=comment,
        comment_public=bool(comment and signature.comment_consent),
        contact=signature.contact_consent,
    )
