"""Typed sheets as a CSV file: read, shown as a dry run, then entered sheet by sheet.

One line per row, with a header naming the columns: `sheet` (the code printed on the
sheet, "42-7KQ3XM"), `language`, `name`, `country` (a code or a name), `email`
(optional) and one column per on-paper consent, by its key (`contact`, `delivery`):
yes, y, x, 1 or true ticks it. A sheet's rows are its lines, in order. The dry run
enters nothing and lists every sheet with its rows, or every problem; a file with any
problem is applied not at all.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l

from .entry import MAX_ROWS, PaperRow, SheetRefused, check_code, enter, paper_consents, read_row

REQUIRED = ("sheet", "language", "name", "country")
TICKED = {"yes", "y", "x", "1", "true", "✓", "✔", "oui", "بله"}
MAX_SHEETS = 200


@dataclass
class UploadSheet:
    code: str
    language: str
    number: int | None = None
    rows: list[PaperRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class Upload:
    sheets: list[UploadSheet] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # the file's own

    @property
    def ok(self) -> bool:
        return bool(self.sheets) and not self.problems and not any(s.problems for s in self.sheets)

    @property
    def rows(self) -> int:
        return sum(len(s.rows) for s in self.sheets)


def decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SheetRefused(_l("The file is not UTF-8 text: save it as CSV UTF-8.")) from None


def read(text: str, slug: str, campaign_id: int, languages: tuple[str, ...]) -> Upload:
    """The dry run: every sheet and row checked; nothing written."""
    upload = Upload()
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        upload.problems.append(
            str(_l("The header row lacks: %(columns)s.", columns=", ".join(missing)))
        )
        return upload
    reader.fieldnames = header
    by_code: dict[str, UploadSheet] = {}
    keys = [c.key for c in paper_consents()]
    for line, record in enumerate(reader, start=2):
        record = {k: (v or "").strip() for k, v in record.items() if k is not None}
        code = record.get("sheet", "").upper()
        sheet = by_code.get(code)
        if sheet is None:
            if len(by_code) >= MAX_SHEETS:
                upload.problems.append(str(_l("At most %(max)d sheets per file.", max=MAX_SHEETS)))
                break
            sheet = by_code[code] = UploadSheet(code, record.get("language", "").lower())
            try:
                sheet.number = check_code(slug, campaign_id, code, sheet.language)
            except SheetRefused as exc:
                sheet.problems.append(str(exc.message))
            if sheet.language not in languages:
                sheet.problems.append(
                    str(
                        _l(
                            "Language must be one of: %(languages)s.",
                            languages=", ".join(languages),
                        )
                    )
                )
        elif record.get("language", "").lower() != sheet.language:
            sheet.problems.append(
                str(_l("Line %(line)d: another language for the same sheet.", line=line))
            )
        ticked = frozenset(k for k in keys if record.get(k, "").casefold() in TICKED)
        number = len(sheet.rows) + 1
        row, problems = read_row(
            number,
            record.get("name", ""),
            record.get("country", ""),
            record.get("email", ""),
            ticked,
        )
        for problem in problems:
            sheet.problems.append(
                str(
                    _l(
                        "Line %(line)d, %(field)s: %(message)s",
                        line=line,
                        field=problem.field,
                        message=problem.message,
                    )
                )
            )
        if row is not None:
            sheet.rows.append(row)
        if len(sheet.rows) > MAX_ROWS:
            sheet.problems.append(str(_l("A sheet holds at most %(max)d rows.", max=MAX_ROWS)))
    upload.sheets = list(by_code.values())
    if not upload.sheets and not upload.problems:
        upload.problems.append(str(_l("The file has no rows.")))
    return upload


def apply(upload: Upload, slug: str, campaign_id: int) -> list[int]:
    """Enter every sheet of a clean dry run, each in its own transaction (and audit
    entry). Returns the numbers entered; SheetRefused stops at the first refused."""
    if not upload.ok:
        raise SheetRefused(_l("The file has problems: nothing was entered."))
    entered = []
    for sheet in upload.sheets:
        enter(slug, campaign_id, sheet.code, sheet.language, sheet.rows)
        entered.append(sheet.number)
    return entered
