"""`flask export open`'s fast reader and writer (issue 23): blocks cut at a record's end,
comma-split lines, joined rows. Whatever the cells hold and wherever a block ends, the
opened file is byte for byte what the `csv` module reads and writes."""

from __future__ import annotations

import csv
import io
import random
import secrets

import pytest

from campaign.services.exports import export_open
from campaign.services.exports.csv_stream import split_name
from campaign.services.sealing import organizer_key
from tests.helpers import ORGANIZER_KEY

BITS = ["a", "b c", ",", '"', "\n", "\r\n", "\r", "=1+1", "-x", "@y", "طومار", " ", "", "'q", "\t"]
HEADER = ["id", "name", "email", "country", "comment", "given_name", "family_name", "note"]


def tricky(rng: random.Random, bits: list[str] = BITS) -> str:
    return "".join(rng.choice(bits) for _ in range(rng.randint(0, 5)))


def exported(rows: int, *, bom: bool = False, end: str = "\r\n") -> tuple[bytes, list[list[str]]]:
    """An export as the server writes it (the `sealed` column last), and the cells the
    organizers should get back, opened with the `csv` module's own reader and writer."""
    rng = random.Random(23)
    # csv.writer quotes a cell with a carriage return only when its line ends hold one.
    bits = BITS if "\r" in end else [b for b in BITS if "\r" not in b]
    sealer = organizer_key.Sealer(ORGANIZER_KEY.public_key())
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=end)
    writer.writerow([*HEADER, "sealed"])
    expected = [HEADER]
    for i in range(rows):
        row = [str(i), "", tricky(rng, bits), "DE", tricky(rng, bits), "", "", tricky(rng, bits)]
        sealed = ""
        if i % 5:
            row_key = secrets.token_hex(16)
            name, email, comment = (
                tricky(rng, bits) or None,
                tricky(rng, bits),
                tricky(rng, bits) or None,
            )
            plain = organizer_key.pack(name, email, comment)
            sealed = f"{row_key}:{sealer.seal(plain, row_key)}"
            given, family = split_name(name)
            opened = [name or "", email, comment or "", given, family]
            safe = ["'" + v if v.startswith(export_open.DANGEROUS_PREFIXES) else v for v in opened]
            row_out = [row[0], safe[0], safe[1], "DE", safe[2], safe[3], safe[4], row[7]]
        else:
            row_out = list(row)
        writer.writerow([*row, sealed])
        expected.append(row_out)
    text = out.getvalue()
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"), expected


def written(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


@pytest.mark.parametrize(("processes", "block"), [(1, 1), (1, 300), (2, 777), (1, 1 << 20)])
def test_export_open_matches_the_csv_module_wherever_blocks_end(processes, block):
    source, expected = exported(400)
    out = io.BytesIO()
    report = export_open.open_export(
        io.BytesIO(source), out, [ORGANIZER_KEY], processes=processes, block_bytes=block
    )
    assert (report.rows, report.opened) == (400, 320)
    assert out.getvalue().decode("utf-8") == written(expected)


def test_export_open_keeps_the_bom_and_reads_lf_line_ends():
    source, expected = exported(60, bom=True, end="\n")  # as a spreadsheet may save it
    out = io.BytesIO()
    export_open.open_export(io.BytesIO(source), out, [ORGANIZER_KEY], block_bytes=100)
    assert out.getvalue().startswith(b"\xef\xbb\xbf")
    assert out.getvalue()[3:].decode("utf-8") == written(expected)


def test_a_wrong_key_or_a_moved_cell_is_a_clear_error_naming_the_row():
    row_key, other = secrets.token_hex(16), secrets.token_hex(16)
    token = organizer_key.Sealer(ORGANIZER_KEY.public_key()).seal(
        organizer_key.pack("Shirin Karimi", "s@example.org", None), row_key
    )
    good = f"id,name,sealed\r\n7,,{row_key}:{token}\r\n".encode()
    with pytest.raises(export_open.ExportOpenError, match=r"row '7': sealed to key"):
        export_open.open_export(io.BytesIO(good), io.BytesIO(), [organizer_key.generate()])
    moved = good.replace(row_key.encode(), other.encode())  # another row's key
    with pytest.raises(export_open.ExportOpenError, match=r"row '7': a sealed value does not"):
        export_open.open_export(io.BytesIO(moved), io.BytesIO(), [ORGANIZER_KEY])
    out = io.BytesIO()
    export_open.open_export(io.BytesIO(good), out, [ORGANIZER_KEY])
    assert out.getvalue() == b"id,name\r\n7,Shirin Karimi\r\n"


def test_not_an_export_is_a_clear_error():
    with pytest.raises(export_open.ExportOpenError, match="no 'sealed' column"):
        export_open.open_export(io.BytesIO(b"id,name\r\n1,x\r\n"), io.BytesIO(), [ORGANIZER_KEY])
    with pytest.raises(export_open.ExportOpenError, match="UTF-8"):
        export_open.open_export(io.BytesIO(b"id,\xff\r\n"), io.BytesIO(), [ORGANIZER_KEY])
