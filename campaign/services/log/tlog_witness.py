"""Witnesses of the transparency logs: the operator configures their keys (`flask count
witness add NAME KEY`), witnesses send back cosigned checkpoints (POST
/<slug>/log/cosignature), and every checkpoint is served with the cosignatures it got.

Only a valid cosignature from a configured witness is stored, so anyone may submit: a
forged or foreign line is refused. A witness fetches the checkpoint and a consistency
proof from its last one (/<slug>/log/proof/consistency/OLD/NEW) itself, or the log
pushes each checkpoint to the witnesses of TLOG_WITNESSES (services/log/tlog_push.py).
"""

from __future__ import annotations

from sqlalchemy import select

from ...extensions import db
from ...models import TlogCheckpoint, TlogCosignature, TlogWitness, utcnow
from ..verifier import tlog_cosign
from ..verifier.tlog_note import EM_DASH
from . import tlog_store


class CosignatureRefused(ValueError):
    """A submission with no valid cosignature from a configured witness."""


def add_witness(name: str, vkey: str, *, commit: bool = True) -> TlogWitness:
    """Trust (or re-key) a witness; its vkey must carry the same name."""
    key_name = tlog_cosign.parse_witness_key(vkey)[0]
    if key_name != name:
        raise ValueError(f"the key is for {key_name!r}, not {name!r}")
    row = db.session.scalar(select(TlogWitness).where(TlogWitness.name == name))
    if row is None:
        row = TlogWitness(name=name, vkey=vkey.strip(), created_at=utcnow())
        db.session.add(row)
    else:
        row.vkey = vkey.strip()
    if commit:
        db.session.commit()
    return row


def remove_witness(name: str) -> bool:
    row = db.session.scalar(select(TlogWitness).where(TlogWitness.name == name))
    if row is None:
        return False
    db.session.execute(
        TlogCosignature.__table__.delete().where(TlogCosignature.witness_id == row.id)
    )
    db.session.delete(row)
    db.session.commit()
    return True


def witnesses() -> list[TlogWitness]:
    return list(db.session.scalars(select(TlogWitness).order_by(TlogWitness.name)))


def submit(campaign_id: int, note: str, *, commit: bool = True) -> int:
    """Store the configured witnesses' cosignatures on one of this campaign's checkpoints.
    `note` is the checkpoint as the witness returns it (body, signature lines), or only
    the signature lines, as a witness answers add-checkpoint (then for the latest signed
    checkpoint). A witness's newer cosignature of a checkpoint replaces its older one.
    Returns how many were stored; CosignatureRefused if none is valid."""
    if note.startswith(EM_DASH):
        latest = tlog_store.latest_signed(campaign_id)
        if latest is None:
            raise CosignatureRefused("this log has signed no checkpoint")
        note = latest.note + note
    try:
        body, lines = tlog_cosign.note_parts(note)
    except ValueError:
        raise CosignatureRefused("not a signed note") from None
    head = body.split("\n")
    if len(head) < 4 or not (head[1].isascii() and head[1].isdigit()) or len(head[1]) > 18:
        raise CosignatureRefused("not a checkpoint")  # (18 digits: within a BIGINT)
    stored = db.session.scalars(
        select(TlogCheckpoint).where(
            TlogCheckpoint.campaign_id == campaign_id, TlogCheckpoint.size == int(head[1])
        )
    ).all()
    checkpoint = next((c for c in stored if tlog_cosign.note_parts(c.note)[0] == body), None)
    if checkpoint is None:
        raise CosignatureRefused("this log never signed that checkpoint")
    have = {
        row.witness_id: row
        for row in db.session.scalars(
            select(TlogCosignature).where(TlogCosignature.checkpoint_id == checkpoint.id)
        )
    }
    added, valid = 0, 0
    for witness in witnesses():
        for line in lines:
            try:
                timestamp = tlog_cosign.check(body, line, witness.vkey)
            except ValueError as exc:
                raise CosignatureRefused(str(exc)) from None
            if timestamp is None:
                continue
            valid += 1
            old = have.get(witness.id)
            if old is None:
                have[witness.id] = TlogCosignature(
                    checkpoint_id=checkpoint.id,
                    witness_id=witness.id,
                    timestamp=timestamp,
                    line=line,
                    created_at=utcnow(),
                )
                db.session.add(have[witness.id])
                added += 1
            elif timestamp > old.timestamp:
                old.timestamp, old.line = timestamp, line
                added += 1
            break
    if not valid:
        raise CosignatureRefused("no cosignature from a configured witness")
    if commit:
        db.session.commit()
    return added


def cosigned_notes(checkpoints: list[TlogCheckpoint]) -> list[str]:
    """Each checkpoint's note with its witnesses' lines appended (one query for all)."""
    ids = [c.id for c in checkpoints]
    lines: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        for checkpoint_id, line in db.session.execute(
            select(TlogCosignature.checkpoint_id, TlogCosignature.line)
            .join(TlogWitness, TlogWitness.id == TlogCosignature.witness_id)
            .where(TlogCosignature.checkpoint_id.in_(ids))
            .order_by(TlogWitness.name)
        ):
            lines[checkpoint_id].append(line)
    return [c.note + "".join(line + "\n" for line in lines[c.id]) for c in checkpoints]
