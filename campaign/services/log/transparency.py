"""The per-campaign transparency log: every change to "counted" becomes a public leaf.

* `tlog_pending` queues each change next to its `counting.adjust`, in the same
  transaction (a `tlog_pending` row: cheap, off the critical path).
* `publish` (the mail worker's loop, or `flask count publish`) appends pending rows in
  order, in batches: leaves, tiles (c2sp.org/tlog-tiles) and, at most every
  TLOG_CHECKPOINT_SECONDS, a signed checkpoint (c2sp.org/tlog-checkpoint).
* adds − removes in the log = the count on the page, up to the publishing lag.

A leaf is `add <commitment> <hour>` or `remove <removal commitment>` (tlog.py): both
hash a receipt secret only the signer gets (see receipts.py) and a restore counter; the
hour is when the signature was counted. A remove names neither its add nor a reason:
which add it cancels (`target_index`) is the server's private bookkeeping. Nothing else
about the signer is in the log (docs/SECURITY.md, Threat 6).

A paper signature (issue 26) is queued as `paper` (its sheet number in the queue's
`reason`) and leaves as `paper <commitment> <sheet> <hour>`; its removal as
`paper-rm`, leaving `paper-remove <commitment>`. Both commitments are fresh random
nonces, hashed (paper signers get no receipt); a sheet's rows are queued in one
transaction, so they are appended as one batch.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import insert, select, update

from ...extensions import db
from ...models import Campaign, TlogCheckpoint, TlogEntry, TlogPending, TlogTile, utcnow
from ..verifier import tlog, tlog_note
from . import receipts, tlog_push, tlog_reader, tlog_store
from .tlog_keys import origin, signing_key
from .tlog_pending import HOLD, PAPER_ADD, PAPER_REMOVE
from .tlog_reader import driver
from .tlog_store import latest_signed, log_count, tree_size

BATCH = 5000  # the worker's pass: small transactions
BIG_BATCH = 50_000  # catching up (checkpoint for a pack, `flask count publish`)


# --- appending ------------------------------------------------------------------


def _lock(campaign_id: int) -> None:
    """One appender per campaign: row lock on PostgreSQL, write lock on SQLite."""
    if db.session.get_bind().dialect.name == "sqlite":
        db.session.execute(
            update(TlogPending).where(TlogPending.id == -1).values(id=TlogPending.id)
        )
    else:
        db.session.execute(select(Campaign.id).where(Campaign.id == campaign_id).with_for_update())


def append_leaves(campaign_id: int, start: int, leaf_hashes: list[bytes]) -> None:
    """Write the new leaf hashes into level-0 tiles, and each tile they complete into the
    level above. Only the rightmost tile of each level is ever rewritten."""
    level, hashes = 0, leaf_hashes
    while hashes:
        n, offset = divmod(start, tlog.TILE_WIDTH)
        old = b""
        if offset:
            old = db.session.scalar(
                select(TlogTile.hashes).where(
                    TlogTile.campaign_id == campaign_id, TlogTile.level == level, TlogTile.idx == n
                )
            )
        blob = old + b"".join(hashes)
        tiles, completed = [], []
        for i in range(0, len(blob), tlog.TILE_WIDTH * tlog.HASH_SIZE):
            chunk = blob[i : i + tlog.TILE_WIDTH * tlog.HASH_SIZE]
            tiles.append(
                {"campaign_id": campaign_id, "level": level, "idx": n + len(tiles), "hashes": chunk}
            )
            if len(chunk) == tlog.TILE_WIDTH * tlog.HASH_SIZE:
                parts = [chunk[j : j + 32] for j in range(0, len(chunk), 32)]
                completed.append(tlog.perfect_root(parts))
        if offset:
            db.session.execute(
                update(TlogTile)
                .where(
                    TlogTile.campaign_id == campaign_id, TlogTile.level == level, TlogTile.idx == n
                )
                .values(hashes=tiles[0]["hashes"])
                .execution_options(synchronize_session=False)
            )
            tiles = tiles[1:]
        if tiles:
            db.session.execute(insert(TlogTile.__table__), tiles)
        level, start, hashes = level + 1, n, completed


def _hour(moment) -> str:
    """YYYY-MM-DDTHH, from a datetime (PostgreSQL) or SQLite's "YYYY-MM-DD HH:…" text."""
    if isinstance(moment, str):
        return f"{moment[:10]}T{moment[11:13]}"
    return moment.isoformat(timespec="hours")


def publish(campaign_id: int, limit: int = BATCH) -> int:
    """Append up to `limit` pending changes, in order, in one transaction. Returns how many."""
    _lock(campaign_id)
    # Plain driver rows: no per-row type processing (created_at stays as stored).
    pending = driver(
        "SELECT id, signature_id, action, reason, commitment, created_at FROM tlog_pending "
        "WHERE campaign_id = ? ORDER BY id LIMIT ?",
        (campaign_id, limit),
    ).all()
    if not pending:
        db.session.rollback()
        return 0
    size = tree_size(campaign_id)
    rows, added, held, last_add = [], [], [], {}
    for _id, signature_id, action, reason, commitment, created_at in pending:
        index = size + len(rows)
        if action == PAPER_ADD:
            data = tlog.paper_entry(bytes.fromhex(commitment), int(reason), _hour(created_at))
            key = tlog_store.commitment_key(commitment)
            rows.append((campaign_id, index, data, signature_id, key, None))
            last_add[signature_id] = index  # no receipt mail: paper signers get none
        elif action == "add" and commitment:
            data = tlog.add_entry(bytes.fromhex(commitment), _hour(created_at))
            key = tlog_store.commitment_key(commitment)
            rows.append((campaign_id, index, data, signature_id, key, None))
            last_add[signature_id] = index
            added.append((signature_id, index))
        elif action == HOLD:
            held.append((signature_id, None))
        elif action in ("remove", PAPER_REMOVE):
            target = last_add.pop(signature_id, None)
            if target is None:
                # Not SQL's MAX(): SQLite would walk the primary key instead of the index.
                adds = db.session.scalars(
                    select(TlogEntry.idx).where(
                        TlogEntry.campaign_id == campaign_id,
                        TlogEntry.signature_id == signature_id,
                        TlogEntry.target_index.is_(None),
                    )
                ).all()
                target = max(adds) if adds else None
            if target is None:  # counted before the log existed: nothing to cancel
                continue
            # A row queued before removal commitments existed: one nobody can open.
            removal = bytes.fromhex(commitment) if commitment else secrets.token_bytes(32)
            leaf = tlog.paper_remove_entry if action == PAPER_REMOVE else tlog.remove_entry
            # The target stays in this private column: the log names no add, no reason.
            rows.append((campaign_id, index, leaf(removal), None, None, target))
    if rows:
        driver(
            "INSERT INTO tlog_entries (campaign_id, idx, data, signature_id, commitment_key, "
            "target_index) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        append_leaves(campaign_id, size, [tlog.leaf_hash(row[2]) for row in rows])
        _unlink_removed(campaign_id, [row[5] for row in rows if row[5] is not None])
    driver("DELETE FROM tlog_pending WHERE id = ?", [(row[0],) for row in pending])
    if added or held:  # receipts go out in the same transaction as their leaves
        slug = db.session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id))
        receipts.queue_mails(campaign_id, log_origin(campaign_id, slug), added + held)
    db.session.commit()
    return len(rows)


class OriginMismatch(RuntimeError):
    """The configured origin is not the one the log was started under."""


def log_origin(campaign_id: int, slug: str) -> str:
    """The origin to sign and mail receipts under: the configured one (BASE_URL or
    TLOG_ORIGIN), which must be the one the log's first checkpoint was signed under.
    One checkpoint under another name would break every verifier of the log for good,
    since every checkpoint is kept: refuse instead, loudly."""
    name = origin(slug)
    first = tlog_store.first_origin(campaign_id)
    if first is not None and first != name:
        raise OriginMismatch(
            f"the {slug} log was started as {first!r}, but BASE_URL/TLOG_ORIGIN now make "
            f"it {name!r}: set TLOG_ORIGIN={first} (or fix BASE_URL) and publish again"
        )
    return name


def _unlink_removed(campaign_id: int, indexes: list[int]) -> None:
    """A cancelled add no longer needs to know its signature: drop the link."""
    if indexes:
        db.session.execute(
            update(TlogEntry)
            .where(TlogEntry.campaign_id == campaign_id, TlogEntry.idx.in_(indexes))
            .values(signature_id=None)
            .execution_options(synchronize_session=False)
        )


# --- checkpoints ----------------------------------------------------------------


def sign_checkpoint(campaign_id: int) -> TlogCheckpoint:
    """Sign the tree as it is now; a new row only if it grew (every row is kept).
    Leaves below `size` never change, so a publish running meanwhile can't skew it."""
    slug = db.session.scalar(select(Campaign.slug).where(Campaign.id == campaign_id))
    size = tree_size(campaign_id)
    last = latest_signed(campaign_id)
    if last is not None and last.size == size:
        return last
    name = log_origin(campaign_id, slug)
    root = tlog_reader.root_hash(campaign_id, size)
    note = tlog_note.sign_note(tlog_note.checkpoint_body(name, size, root), name, signing_key())
    row = TlogCheckpoint(
        campaign_id=campaign_id,
        size=size,
        # The last checkpoint's count plus what was appended since: no full scan.
        count=(last.count if last else 0) + log_count(campaign_id, last.size if last else 0, size),
        note=note,
        created_at=utcnow(),
        # With witnesses to wait for, published once enough cosigned it (tlog_push).
        published_at=None if tlog_push.threshold() else utcnow(),
    )
    db.session.add(row)
    db.session.commit()
    return row


def checkpoint(campaign) -> str:
    """Publish what is pending and sign a checkpoint; returns the note text.
    `campaign` is a Campaign row, its content, or a slug."""
    return checkpoint_row(campaign).note


def checkpoint_row(campaign) -> TlogCheckpoint:
    """`checkpoint`, as the stored row (note, tree size and count): the delivery pack
    counts from it."""
    slug = campaign if isinstance(campaign, str) else campaign.slug
    campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    if campaign_id is None:
        raise LookupError(slug)
    while publish(campaign_id, limit=BIG_BATCH):
        pass
    return sign_checkpoint(campaign_id)


def publish_due(*, force_checkpoint: bool = False) -> int:
    """The worker's tick: append what is pending everywhere; checkpoint a grown log at
    most every TLOG_CHECKPOINT_SECONDS, and every log at least hourly."""
    appended = 0
    every = timedelta(seconds=current_app.config.get("TLOG_CHECKPOINT_SECONDS", 60))
    for campaign_id, slug in db.session.execute(select(Campaign.id, Campaign.slug)).all():
        log_origin(campaign_id, slug)  # before anything is appended: refuse whole
        while (done := publish(campaign_id, limit=BIG_BATCH if force_checkpoint else BATCH)) > 0:
            appended += done
        last = latest_signed(campaign_id)
        grown = last is None or last.size != tree_size(campaign_id)
        age = utcnow() - last.created_at if last else timedelta.max
        if force_checkpoint or (grown and age >= every) or age >= timedelta(hours=1):
            if last is None and tree_size(campaign_id) == 0 and not force_checkpoint:
                continue
            signed = sign_checkpoint(campaign_id)
            tlog_push.push_due(signed, new=signed is not last)
        else:
            tlog_push.push_due(last, new=False)
    db.session.rollback()
    return appended
