"""What organizers run where their private key is (issue 23): moving old rows to a new
organizer key (`flask keys reseal`), and the delivery pack's named list made from an
opened export (`flask delivery pack --from-export`).

The server never holds a private organizer key: these run on the organizers' own
computer (reseal against the database over a connection they open for it).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import groupby, islice
from operator import itemgetter
from typing import IO

from sqlalchemy import select, update

from ...extensions import db
from ...models import Signature
from ..intake.validation import country_name
from ..sealing import organizer_key
from .delivery import NAMES_PER_PARAGRAPH, NameGroup
from .export_open import SEALED, ExportOpenError

_S = Signature.__table__.c


@dataclass
class ResealReport:
    moved: int = 0
    current: int = 0
    changed_meanwhile: int = 0


def reseal(
    old: list[organizer_key.X25519PrivateKey],
    new: organizer_key.X25519PrivateKey,
    *,
    batch: int = 500,
) -> ResealReport:
    """Every organizer copy not under `new` opened with the old keys and sealed to
    `new`'s public key, in batches, each row only if unchanged meanwhile (resumable)."""
    opener = organizer_key.Opener(old)
    sealer = organizer_key.Sealer(new.public_key())
    report = ResealReport()
    after = 0
    while True:
        rows = db.session.execute(
            select(_S.id, _S.row_key, _S.organizer_sealed)
            .where(_S.id > after, _S.organizer_sealed.is_not(None))
            .order_by(_S.id)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            after = row.id
            if organizer_key.token_key_id(row.organizer_sealed) == sealer.key_id:
                report.current += 1
                continue
            plain = opener.open_raw(row.organizer_sealed, row.row_key)
            done = db.session.execute(
                update(Signature.__table__)
                .where(_S.id == row.id, _S.organizer_sealed == row.organizer_sealed)
                .values(organizer_sealed=sealer.seal(plain, row.row_key))
            )
            if done.rowcount:
                report.moved += 1
            else:
                report.changed_meanwhile += 1
        db.session.commit()
    return report


def opened_names(source: IO[str], keys: list[organizer_key.X25519PrivateKey]) -> list[tuple]:
    """(country, name) of every row of a delivery export, sealed names opened, sorted
    by country then name for the pack."""
    reader = csv.reader(line.lstrip("\ufeff") if n == 0 else line for n, line in enumerate(source))
    header = next(reader, None) or []
    if SEALED not in header or "name" not in header or "country" not in header:
        raise ExportOpenError("not a sealed delivery export (name, country, sealed columns)")
    at_sealed, at_name, at_country = (header.index(c) for c in (SEALED, "name", "country"))
    opener = organizer_key.Opener(keys)
    names = []
    for row in reader:
        name = row[at_name]
        if row[at_sealed]:
            row_key, _sep, token = row[at_sealed].partition(":")
            try:
                name = opener.open(token, row_key).name or ""
            except organizer_key.OrganizerKeyError as exc:
                raise ExportOpenError(f"row {row[0]!r}: {exc}") from exc
        if name:
            names.append((row[at_country].lstrip("'"), name))
    names.sort()
    return names


def name_groups_from(names: list[tuple], language: str) -> Iterator[NameGroup]:
    """The pack's name paragraphs from opened names, as `delivery.name_groups` makes
    them from the database."""
    for code, rows in groupby(names, key=itemgetter(0)):
        country = country_name(code, language)
        while chunk := [name for _code, name in islice(rows, NAMES_PER_PARAGRAPH)]:
            yield NameGroup(code, country, chunk)
