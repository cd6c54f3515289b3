"""The log's queue: what each change to "counted" writes, in its own transaction.

* `note_add` / `note_remove` run next to each `counting.adjust`, in the same
  transaction, and only write a `tlog_pending` row (cheap, off the critical path);
  `transparency.publish` later appends the rows in order.
* `add_values`, `paper_add_values` and `remove_values` build such a row for callers
  that write it themselves (the one-statement confirm, a paper sheet's batch, an
  erasure that must compute its remove before the link nonce goes).
* `backfill` queues an add for each counted signature the log doesn't have yet.

A leaf is `add <commitment> <hour>` or `remove <removal commitment>` (tlog.py): both
hash a receipt secret only the signer gets (see receipts.py) and a restore counter.
A paper signature (issue 26) is queued as `paper` (its sheet number in the queue's
`reason`), its removal as `paper-rm`; both commitments are fresh random nonces, hashed
(paper signers get no receipt).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import insert, select

from ...extensions import db
from ...models import PAPER, PaperSheet, Signature, TlogEntry, TlogPending, utcnow
from ..intake import links
from ..verifier import tlog
from . import receipts, tlog_store
from .tlog_reader import driver

# --- hooks: one call next to each counting.adjust ----------------------------

# Built once on the table (confirming is a hot path); executed at once, in call order,
# so an add and a remove queued in one transaction keep their order.
INSERT_PENDING = insert(TlogPending.__table__)
# A confirmation held back by an abuse flag: not counted, so no leaf (adds − removes
# stays the count), but its signer is mailed the same receipt at the same pass as
# everyone confirmed then (issue 21, L1).
HOLD = "hold"
# Paper signatures' own actions (issue 26); the add carries its sheet number in `reason`.
PAPER_ADD, PAPER_REMOVE = "paper", "paper-rm"


def is_paper(signature) -> bool:
    return getattr(signature, "method", None) == PAPER


def paper_commitment() -> str:
    """A paper leaf's commitment: fresh randomness (the link nonces' source), hashed.
    No receipt opens it; it only makes each leaf unique."""
    return tlog.paper_commitment(links.new_nonce()).hex()


def queue(values: dict) -> None:
    """Queue a pending row (also one built beforehand: remove_values before an erasure)."""
    db.session.connection().execute(INSERT_PENDING, values)


def note_add(signature: Signature, when: datetime | None = None) -> None:
    """The signature became counted: queue an add. A restore's add carries the next
    restore counter, so its commitment is new (issue 25 §5: no reused commitment).

    `signature` needs only id, campaign_id and link_nonce (a Core row will do)."""
    if is_paper(signature):
        number = db.session.scalar(
            select(PaperSheet.number).where(PaperSheet.id == signature.sheet_id)
        )
        queue(paper_add_values(signature, number, when))
        return
    raw = receipts.secret(signature)
    restores = adds_so_far(signature.campaign_id, signature.id, raw) if raw else 0
    queue(add_values(signature, when, restores))


def add_values(signature: Signature, when: datetime | None = None, restores: int = 0) -> dict:
    """The pending log row of an add (INSERT_PENDING's parameters), for callers that
    write it inside a statement of their own (confirmation's one-statement confirm: a
    first confirmation, so restore counter 0 and no query)."""
    # An erased signature has no nonce, so no receipt: a random commitment nobody holds.
    secret = receipts.secret(signature) or secrets.token_bytes(32)
    return {
        "campaign_id": signature.campaign_id,
        "signature_id": signature.id,
        "action": "add",
        "reason": None,
        "created_at": when or utcnow(),
        "commitment": tlog.commitment(secret, restores).hex(),
    }


def paper_add_values(signature, sheet_number: int, when: datetime | None = None) -> dict:
    """The pending row of a paper signature's add: a random commitment (no receipt is
    given for paper) and its sheet's number."""
    return {
        "campaign_id": signature.campaign_id,
        "signature_id": signature.id,
        "action": PAPER_ADD,
        "reason": str(sheet_number),
        "created_at": when or utcnow(),
        "commitment": paper_commitment(),
    }


def adds_so_far(campaign_id: int, signature_id: int, secret: bytes) -> int:
    """How many adds this signature has had (appended, by its secret's commitments,
    plus still pending): the next add's restore counter."""
    appended = len(tlog_store.adds_of(campaign_id, secret))
    pending = driver(
        "SELECT count(*) FROM tlog_pending WHERE campaign_id = ? AND signature_id = ? "
        "AND action = 'add'",
        (campaign_id, signature_id),
    ).scalar()
    return appended + pending


def backfill(campaign_id: int, advance: Callable[[int], None] | None = None) -> int:
    """Queue an add for each counted signature the log doesn't have yet (signatures
    counted before the log existed), dated by confirmation, oldest first."""
    return queue_adds(backfill_missing(campaign_id), advance)


def backfill_missing(campaign_id: int) -> list[Signature]:
    """The counted signatures the log doesn't have yet, oldest confirmation first."""
    known = (
        select(TlogEntry.signature_id)
        .where(TlogEntry.campaign_id == campaign_id, TlogEntry.signature_id.is_not(None))
        .union(select(TlogPending.signature_id).where(TlogPending.campaign_id == campaign_id))
    )
    return list(
        db.session.scalars(
            select(Signature)
            .where(
                Signature.campaign_id == campaign_id,
                Signature.counted,
                Signature.id.not_in(known),
            )
            .order_by(Signature.confirmed_at, Signature.id)
        ).all()
    )


def queue_adds(missing: list[Signature], advance: Callable[[int], None] | None = None) -> int:
    """Queue their adds (`advance` hears of each thousand, for the operator's bar)."""
    for done, signature in enumerate(missing, 1):
        note_add(signature, when=signature.confirmed_at)
        if advance and done % 1000 == 0:
            advance(1000)
    db.session.commit()
    if advance:
        advance(len(missing) % 1000)
    return len(missing)


def note_remove(signature: Signature, reason: str) -> None:
    """The signature stopped counting (withdrawn, invalidated, erased): queue a remove."""
    queue(remove_values(signature, reason))


def remove_values(signature: Signature, reason: str) -> dict:
    """The pending row of a remove: its leaf will be the removal commitment of the
    signature's latest add, which only the receipt's holder can recompute. Call it
    while the signature still has its link nonce (an erasure drops it: privacy.erase
    computes this first). `reason` stays in the queue, never in the log. A paper
    signature's remove is its own kind, with a random commitment (issue 26)."""
    if is_paper(signature):
        return {
            "campaign_id": signature.campaign_id,
            "signature_id": signature.id,
            "action": PAPER_REMOVE,
            "reason": reason,
            "created_at": utcnow(),
            "commitment": paper_commitment(),
        }
    raw = receipts.secret(signature)
    adds = adds_so_far(signature.campaign_id, signature.id, raw) if raw else 0
    # No secret (erased already) or no add (counted before the log): nobody can open it.
    removal = tlog.removal(raw, adds - 1) if raw and adds else secrets.token_bytes(32)
    return {
        "campaign_id": signature.campaign_id,
        "signature_id": signature.id,
        "action": "remove",
        "reason": reason,
        "created_at": utcnow(),
        "commitment": removal.hex(),
    }
