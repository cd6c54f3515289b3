"""Long operator commands show their progress (issue 24, item 19): click's bar on a
terminal (rows done, rate, time left), and under cron, with no terminal, one summary
line. click's test runner is not a terminal; a pseudo-terminal (pty) stands in for one.
"""

from __future__ import annotations

import os
import re
import sys

from sqlalchemy import update

from campaign.cli.admin_cli import export_command
from campaign.extensions import db
from campaign.models import Signature
from tests.admin.helpers import make_signature
from tests.helpers import SLUG

SUMMARY = re.compile(r"^(?P<label>.+): (?P<done>[\d,]+) of (?P<total>[\d,]+) \w+ in [\d.]+ s \(")


def signers(count: int = 3) -> None:
    for n in range(count):
        make_signature(f"Signer {'ABCDEFGH'[n]}", f"signer{n}@example.org", "DE")
    db.session.execute(update(Signature).values(delivery_consent=True))
    db.session.commit()


def summary_lines(stderr: str) -> list[re.Match]:
    return [m for line in stderr.splitlines() if (m := SUMMARY.match(line))]


def test_long_commands_print_one_summary_line_without_a_terminal(app, tmp_path):
    signers(3)
    runner = app.test_cli_runner()
    runs = {
        "export": ["export", "--campaign", SLUG, "--output", str(tmp_path / "e.csv")],
        "keys rotate": ["keys", "rotate"],
        f"{SLUG}: backfill": ["count", "backfill"],
        "delivery pack": [
            "delivery", "pack", "--campaign", SLUG, "--format", "html",
            "--output", str(tmp_path / "p.html"),
        ],
    }  # fmt: skip
    for label, args in runs.items():
        result = runner.invoke(args=args)
        assert result.exit_code == 0, (args, result.output)
        [line] = summary_lines(result.stderr)  # one line, no bar drawn
        assert line["label"] == label
        assert line["done"] == line["total"], line.group(0)
        assert "\r" not in result.stderr and "#" not in result.stderr
    [export] = summary_lines(runner.invoke(args=runs["export"]).stderr)
    assert export["total"] == "3"


def test_export_draws_the_progress_bar_on_a_terminal(app, tmp_path, monkeypatch):
    signers(3)
    master, replica = os.openpty()
    terminal = os.fdopen(replica, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stderr", terminal)
    out = tmp_path / "e.csv"
    export_command.main(
        ["--campaign", SLUG, "--output", str(out), "--processes", "1"], standalone_mode=False
    )
    terminal.flush()
    terminal.close()  # then read everything drawn: a pty hands it over in pieces
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other end is closed and all was read
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    drawn = b"".join(chunks).decode()
    assert "export" in drawn and "3/3" in drawn  # rows done of total
    assert "rows/s" in drawn  # the rate
    assert "[####" in drawn  # the bar itself, drawn and redrawn (\r)
    assert "\r" in drawn
    assert not summary_lines(drawn)  # the bar, not cron's line
