"""New submissions' mail decided a whole batch at a time (issue 22, "a confirmation
mail in seconds"), before the worker renders and sends it.

`signer_mail.render_submission` decides one submission under a lock on its address's
rows: a lock, an update and a commit per message. `decide` makes the same decisions for
every new submission in a claimed batch in one transaction: one statement locks all
their addresses' rows (in id order, as render_submission does, so two workers can't
deadlock), one UPDATE records `mailed_at` for those that get their link, one commit.
The renderers then find each submission decided (`mailed_at` set, or the message turned
into an "already signed" note) and render outside any transaction.

The rules are render_submission's, applied in submission order, so two submissions of
one address in one batch are decided as if one after the other.
"""

from __future__ import annotations

from flask import current_app
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.orm.attributes import set_committed_value

from ...extensions import db
from ...models import OutboxMessage, Signature, SignatureStatus, utcnow
from ..letters.signer_mail import delete_submissions, pending_submission
from ..sealing import sealed
from ..signer_data import privacy


def decide(messages: list[OutboxMessage]) -> set[int]:
    """Decide the batch's undecided "confirm" messages (their rows already in the
    session); returns the ids of those dropped here (marked dropped in the same commit).
    Messages it leaves alone (not pending any more,
    expired, decided on an earlier attempt) are decided by their renderer as before."""
    todo: list[tuple[OutboxMessage, Signature]] = []
    for outbox in messages:
        found = pending_submission(outbox)
        if found is None or found[0].mailed_at is not None or found[0].dedup_key is None:
            continue
        todo.append((outbox, found[0]))
    if not todo:
        return set()
    todo.sort(key=lambda pair: pair[1].id)
    privacy.take_write_lock()
    addresses = (
        select(
            Signature.id,
            Signature.campaign_id,
            Signature.dedup_key,
            Signature.status,
            Signature.confirmed_at,
            Signature.mailed_at,
        )
        .where(
            Signature.campaign_id.in_(sorted({s.campaign_id for _, s in todo})),
            Signature.dedup_key.in_(sorted({s.dedup_key for _, s in todo})),
        )
        .with_for_update()
    )
    # PostgreSQL locks the rows in id order. SQLite holds its write lock already, and
    # asked for id order it walked every signature of the campaign (by
    # ix_signatures_campaign_id_id) rather than the batch's addresses' (by
    # ix_signatures_campaign_dedup): they are put in order here instead.
    if db.session.get_bind().dialect.name != "sqlite":
        addresses = addresses.order_by(Signature.id)
    rows = sorted(db.session.execute(addresses).all(), key=lambda row: row.id)
    by_address: dict[tuple[int, str], list[dict]] = {}
    for row in rows:
        by_address.setdefault((row.campaign_id, row.dedup_key), []).append(row._asdict())
    now = utcnow()
    mailed: list[Signature] = []
    dropped: set[int] = set()
    for outbox, signature in todo:
        address = by_address.get((signature.campaign_id, signature.dedup_key), [])
        if all(row["id"] != signature.id for row in address):
            dropped.add(outbox.id)  # deleted meanwhile (withdrawn, or decided elsewhere)
            continue
        held = next((row for row in address if row["confirmed_at"] is not None), None)
        if held is not None:
            # The address has signed: left to signer_mail.render_submission, which mails
            # the capped note to this submission's address before deleting it (a sealed
            # signature keeps no readable address, issue 23). Rare: repeat signings.
            continue
        earlier = sum(
            1
            for row in address
            if row["id"] != signature.id
            and row["mailed_at"] is not None
            and row["status"] == SignatureStatus.PENDING
        )
        if earlier > current_app.config["ALREADY_SIGNED_MAIL_LIMIT"]:
            delete_submissions([signature.id], keep_outbox_id=outbox.id)  # over the cap
            address[:] = [row for row in address if row["id"] != signature.id]
            dropped.add(outbox.id)
            continue
        next(row for row in address if row["id"] == signature.id)["mailed_at"] = now
        mailed.append(signature)
    # Issue 23: a submission is sealed to the organizers as its link is first mailed
    # (signer_mail.render_submission does the same for one): its own values per row.
    sealings = {s.id: sealed.seal_pending(s, privacy.public_name) for s in mailed}
    plain = [s.id for s in mailed if not sealings[s.id]]
    if plain:
        db.session.execute(
            update(Signature)
            .where(Signature.id.in_(plain))
            .values(mailed_at=now)
            .execution_options(synchronize_session=False)
        )
    sealed_rows = [
        {"signature_id": signature_id, "mailed_at": now, **sealing}
        for signature_id, sealing in sealings.items()
        if sealing
    ]
    if sealed_rows:  # one statement for the batch, not one per row
        _seal_mailed(sealed_rows)
    if dropped:
        db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sorted(dropped)), OutboxMessage.status == "pending")
            .values(status="dropped", payload_enc=None, locked_until=None)
            .execution_options(synchronize_session=False)
        )
    db.session.commit()
    for signature in mailed:  # as stored, without reading the rows again (its link
        set_committed_value(signature, "mailed_at", now)  # secret goes into the mail)
        for column, value in sealings[signature.id].items():
            set_committed_value(signature, column, value)
    return dropped


# A submission's sealed columns and `mailed_at`, by its id: executed with one parameter
# set per row (the SET clause is the parameters' other keys, the columns).
SEAL_MAILED = update(Signature.__table__).where(
    Signature.__table__.c.id == bindparam("signature_id")
)
SEALED_COLUMNS = ("organizer_sealed", "signer_copy", "link_secret", "display_enc")
# On PostgreSQL the batch is one UPDATE joined to its values as arrays, one per column:
# one statement of constant text (prepared once per connection), where the executemany
# sent a statement per row through psycopg's pipeline.
SEAL_MAILED_ARRAYS = text(
    "UPDATE signatures AS s SET mailed_at = :mailed_at,"
    " organizer_sealed = v.organizer_sealed, signer_copy = v.signer_copy,"
    " link_secret = v.link_secret, display_enc = v.display_enc"
    " FROM unnest(CAST(:ids AS bigint[]), CAST(:organizer_sealed AS text[]),"
    " CAST(:signer_copy AS text[]), CAST(:link_secret AS text[]),"
    " CAST(:display_enc AS text[]))"
    " AS v(id, organizer_sealed, signer_copy, link_secret, display_enc)"
    " WHERE s.id = v.id"
)


def _seal_mailed(rows: list[dict]) -> None:
    """Write the batch's sealed columns and `mailed_at` (the same for every row)."""
    connection = db.session.connection()
    every = {"signature_id", "mailed_at", *SEALED_COLUMNS}
    if connection.dialect.name != "postgresql" or any(set(row) != every for row in rows):
        connection.execute(SEAL_MAILED, rows)
        return
    arrays = {column: [row.get(column) for row in rows] for column in SEALED_COLUMNS}
    ids = [row["signature_id"] for row in rows]
    connection.execute(
        SEAL_MAILED_ARRAYS, {"ids": ids, "mailed_at": rows[0]["mailed_at"], **arrays}
    )
