"""`flask keys rotate`: rewrite every encrypted column under the newest key.

* Every column named `*_enc` in the schema is covered, found from the models, so a
  new encrypted column can't be forgotten: its table must name the column that its
  ciphertexts are bound to in `ROW_KEYS`, or rotation refuses to start.
* Each rewrite is a conditional UPDATE: it applies only if the row's encrypted values
  and row key are still the ones read. A withdrawal, erasure or sent mail committed
  between the read and the write wins; the row is left as it is now.
* It is resumable: rows already under the newest key are skipped without a write,
  so a rerun after a crash (or Ctrl-C) continues where the last one stopped.
* A signature without a row key (none after migration 0005_ops) gets one in the same
  conditional UPDATE.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Column, Table, and_, func, select, update

from ...extensions import db
from . import crypto

# Table -> the column its ciphertexts are bound to (the AES-GCM associated data).
ROW_KEYS = {
    "signatures": "row_key",
    "outbox": "idempotency_key",
    "admin_users": "id",
}


class RotationError(RuntimeError):
    pass


@dataclass
class TableReport:
    rewritten: int = 0
    current: int = 0  # already under the newest key: nothing to do
    skipped: int = 0  # changed (withdrawn, erased, sent) while being rotated
    unreadable: int = 0  # no key in ENCRYPTION_KEYS opens it (left as it is)


@dataclass
class RotationReport:
    tables: dict[str, TableReport] = field(default_factory=dict)


def encrypted_columns() -> dict[str, list[str]]:
    """Every `*_enc` column of the schema, by table."""
    found: dict[str, list[str]] = {}
    for table in db.metadata.sorted_tables:
        columns = [column.name for column in table.columns if column.name.endswith("_enc")]
        if columns:
            found[table.name] = columns
    return found


def _same(column: Column, value: object):
    return column.is_(None) if value is None else column == value


def rotate_table(
    table: Table,
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
    advance: Callable[[int], None] | None = None,
) -> TableReport:
    key_name = ROW_KEYS.get(table.name)
    if key_name is None:
        raise RotationError(f"{table.name} has encrypted columns but no entry in ROW_KEYS")
    (pk,) = table.primary_key.columns
    row_key = table.c[key_name]
    columns = [c for c in table.columns if c.name.endswith("_enc")]
    report, last = TableReport(), None
    while True:
        query = select(pk, row_key, *columns).order_by(pk).limit(batch)
        if last is not None:
            query = query.where(pk > last)
        rows = db.session.execute(query).all()
        if not rows:
            break
        for row in rows:
            ident, bound = row[0], row[1]
            old = list(row[2:])
            if bound is None and key_name == "row_key":
                bound = crypto.new_row_key()
            try:
                values = {
                    column.name: crypto.rotate_field(
                        token, column=f"{table.name}.{column.name}", row_key=bound
                    )
                    for column, token in zip(columns, old, strict=True)
                    if not crypto.is_current(token)
                }
            except crypto.CryptoError:
                report.unreadable += 1
                continue
            if not values:
                report.current += 1
                continue
            if row[1] is None:
                values[key_name] = bound
            done = db.session.execute(
                update(table)
                .where(
                    and_(
                        pk == ident,
                        _same(row_key, row[1]),
                        *(_same(c, v) for c, v in zip(columns, old, strict=True)),
                    )
                )
                .values(**values)
            ).rowcount
            if done:
                report.rewritten += 1
            else:
                report.skipped += 1
        db.session.commit()  # per batch: an interrupted run keeps what it did
        last = rows[-1][0]
        if advance:  # rows read, whatever became of them (the operator's progress bar)
            advance(len(rows))
        if progress:
            progress(table.name, report.rewritten)
    return report


def row_total() -> int:
    """Rows in every encrypted table: what a run reads (the progress bar's total)."""
    tables = [db.metadata.tables[name] for name in encrypted_columns()]
    return sum(db.session.scalar(select(func.count()).select_from(t)) or 0 for t in tables)


def rotate_all(
    batch: int = 500,
    progress: Callable[[str, int], None] | None = None,
    advance: Callable[[int], None] | None = None,
) -> RotationReport:
    tables = encrypted_columns()
    missing = sorted(set(tables) - set(ROW_KEYS))
    if missing:
        raise RotationError(f"no row key known for encrypted tables: {', '.join(missing)}")
    report = RotationReport()
    for name in tables:
        report.tables[name] = rotate_table(db.metadata.tables[name], batch, progress, advance)
    return report
