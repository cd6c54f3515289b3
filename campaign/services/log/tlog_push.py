"""Pushing checkpoints to witnesses, as c2sp.org/tlog-witness describes: for each new
checkpoint the log POSTs `add-checkpoint` to every witness in TLOG_WITNESSES (the old
size the witness last cosigned, the RFC 6962 consistency proof from it, the checkpoint)
and stores the cosignatures they answer with. A checkpoint is published, and served,
once TLOG_WITNESS_THRESHOLD of them cosigned it; until then the previous one stays
current. A witness that is down or slow is skipped (TLOG_WITNESS_TIMEOUT) and asked
again on a later tick; one that answers 409 with its own size is asked again from it.

This runs in the mail worker's tick (transparency.publish_due), never in a request: a
signature or a confirmation only queues its change, so witnesses add nothing to them."""

from __future__ import annotations

import base64
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from ...extensions import db
from ...models import TlogCheckpoint, TlogCosignature, TlogWitness, utcnow
from ..verifier import tlog_cosign
from . import tlog_reader, tlog_witness

log = logging.getLogger(__name__)
RETRY_SECONDS = 30  # an unpublished checkpoint is pushed again this often
REFRESH_SECONDS = 3600  # a published one is re-pushed (old = new) for fresh cosignatures
_last_push: dict[int, float] = {}  # campaign id → monotonic time, in this process


@dataclass(frozen=True)
class Witness:
    url: str  # the submission prefix
    vkey: str
    name: str


@dataclass
class Answer:
    status: int
    body: bytes


def configured() -> list[Witness]:
    """TLOG_WITNESSES: one "<URL> <vkey>" per line (or separated by ';')."""
    out = []
    for entry in current_app.config.get("TLOG_WITNESSES", "").replace(";", "\n").splitlines():
        if not entry.strip():
            continue
        url, _, vkey = entry.strip().partition(" ")
        name = tlog_cosign.parse_witness_key(vkey.strip())[0]  # ValueError: misconfigured
        out.append(Witness(url.rstrip("/"), vkey.strip(), name))
    return out


def threshold() -> int:
    return max(0, current_app.config.get("TLOG_WITNESS_THRESHOLD", 0))


def _rows(witnesses: list[Witness]) -> dict[str, TlogWitness]:
    """The configured witnesses' rows (made or re-keyed as configured)."""
    rows = {}
    for witness in witnesses:
        row = tlog_witness.add_witness(witness.name, witness.vkey, commit=False)
        row.url = witness.url
        rows[witness.name] = row
    db.session.flush()
    return rows


def _known_sizes(campaign_id: int) -> dict[int, int]:
    """Per witness id, the largest size it cosigned of this log: where it stands."""
    return dict(
        db.session.execute(
            select(TlogCosignature.witness_id, func.max(TlogCheckpoint.size))
            .join(TlogCheckpoint, TlogCheckpoint.id == TlogCosignature.checkpoint_id)
            .where(TlogCheckpoint.campaign_id == campaign_id)
            .group_by(TlogCosignature.witness_id)
        ).all()
    )


def request_body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + note).encode()


def _post(url: str, body: bytes, timeout: float) -> Answer:
    request = urllib.request.Request(  # noqa: S310 - the operator's configured https URL
        url + "/add-checkpoint", data=body, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310  # nosec B310
            return Answer(response.status, response.read(65536))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(65536))
    except (OSError, ValueError) as exc:
        log.warning("witness %s unreachable: %s", url, exc)
        return Answer(0, b"")


def _ask(checkpoint: TlogCheckpoint, asks: dict[Witness, int]) -> dict[Witness, Answer]:
    """POST add-checkpoint to each witness from its old size, all at once."""
    campaign_id, size = checkpoint.campaign_id, checkpoint.size
    bodies = {}
    for witness, old in asks.items():
        proof = tlog_reader.consistency_proof(campaign_id, old, size) if 0 < old < size else []
        bodies[witness] = request_body(old, proof, checkpoint.note)
    # No transaction open while the witnesses answer: on SQLite the witness rows' flush
    # took the write lock, and holding it over a slow witness stalled every signature
    # and confirmation for as long (measured: bench/tlog_push.py, docs/benchmarks.md).
    db.session.commit()
    timeout = current_app.config.get("TLOG_WITNESS_TIMEOUT", 5)
    with ThreadPoolExecutor(max_workers=max(1, len(bodies))) as pool:
        futures = {w: pool.submit(_post, w.url, body, timeout) for w, body in bodies.items()}
        return {witness: future.result() for witness, future in futures.items()}


def push(checkpoint: TlogCheckpoint) -> int:
    """Ask every configured witness to cosign `checkpoint`; store what they answer and
    publish it if enough did. Returns how many witnesses cosigned it now."""
    witnesses = configured()
    if not witnesses:
        return 0
    rows = _rows(witnesses)
    known = _known_sizes(checkpoint.campaign_id)
    asks = {w: min(known.get(rows[w.name].id, 0), checkpoint.size) for w in witnesses}
    answers = _ask(checkpoint, asks)
    retry = {}
    for witness, answer in answers.items():
        if answer.status == 409 and answer.body.strip().isdigit():
            their_size = int(answer.body.strip())  # the witness stands elsewhere: follow it
            if their_size <= checkpoint.size and their_size != asks[witness]:
                retry[witness] = their_size
                continue
        if answer.status != 200:
            log.warning(
                "witness %s answered %s: %s", witness.name, answer.status, answer.body[:200]
            )
    if retry:
        answers.update(_ask(checkpoint, retry))
    cosigned = 0
    for witness, answer in answers.items():
        if answer.status != 200:
            continue
        lines = answer.body.decode("utf-8", "replace")
        try:
            tlog_witness.submit(checkpoint.campaign_id, checkpoint.note + lines, commit=False)
            cosigned += 1
        except tlog_witness.CosignatureRefused as exc:
            log.warning("witness %s sent no valid cosignature: %s", witness.name, exc)
    publish_if_witnessed(checkpoint, {rows[w.name].id for w in witnesses})
    db.session.commit()
    return cosigned


def publish_if_witnessed(checkpoint: TlogCheckpoint, witness_ids: set[int]) -> bool:
    """Publish `checkpoint` once enough of the configured witnesses cosigned it."""
    if checkpoint.published_at is not None:
        return True
    have = set(
        db.session.scalars(
            select(TlogCosignature.witness_id).where(TlogCosignature.checkpoint_id == checkpoint.id)
        )
    )
    if len(have & witness_ids) >= threshold():
        checkpoint.published_at = utcnow()
        return True
    return False


def push_due(latest: TlogCheckpoint | None, *, new: bool) -> None:
    """The worker's tick: push a new checkpoint now; an unpublished one again every
    RETRY_SECONDS; a published one every REFRESH_SECONDS, for fresh cosignatures."""
    if latest is None or not current_app.config.get("TLOG_WITNESSES"):
        return
    waited = time.monotonic() - _last_push.get(latest.campaign_id, float("-inf"))
    every = RETRY_SECONDS if latest.published_at is None else REFRESH_SECONDS
    if new or waited >= every:
        _last_push[latest.campaign_id] = time.monotonic()
        push(latest)
