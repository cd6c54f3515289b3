"""`flask count …`: the transparency log's operator commands (services/log/transparency.py)."""

from __future__ import annotations

import base64
import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign
from ..services.log import receipts, tlog_keys, tlog_pending, tlog_store, tlog_witness, transparency
from ..services.verifier import tlog, tlog_memory, tlog_note, tlog_offline, tlog_verify
from .progress import progress

count_cli = AppGroup("count", help="The public, verifiable log of the count.")


@count_cli.command("keygen")
@click.option("--force", is_flag=True, help="Replace an existing instance/ key file.")
@click.option("--print-only", is_flag=True, help="Print a key for TLOG_SIGNING_KEY; write nothing.")
def count_keygen(force: bool, print_only: bool) -> None:
    """Make the Ed25519 key that signs checkpoints (keep it like ENCRYPTION_KEYS)."""
    if print_only:
        click.echo(tlog_keys.generate_key())
        return
    tlog_keys.write_key_file(overwrite=force)
    for slug in db.session.scalars(select(Campaign.slug)):
        click.echo(f"{slug}: {tlog_keys.verifier_key(slug)}")


@count_cli.command("key")
def count_key() -> None:
    """Print each campaign's verifier key (publish it in docs, give it to witnesses)."""
    for slug in db.session.scalars(select(Campaign.slug)):
        click.echo(f"{slug}: {tlog_keys.verifier_key(slug)}")


@count_cli.command("publish")
def count_publish() -> None:
    """Append pending changes and sign a checkpoint for every campaign (run hourly)."""
    try:
        appended = transparency.publish_due(force_checkpoint=True)
    except transparency.OriginMismatch as exc:
        raise click.ClickException(str(exc)) from None
    for row in db.session.scalars(select(Campaign)).all():
        last = tlog_store.latest_signed(row.id)
        click.echo(
            f"{row.slug}: size {last.size if last else 0}, count {last.count if last else 0}"
        )
    click.echo(f"appended {appended}")


@count_cli.command("backfill")
def count_backfill() -> None:
    """Queue adds for signatures counted before the log existed, then publish."""
    for row in db.session.scalars(select(Campaign)).all():
        missing = tlog_pending.backfill_missing(row.id)
        with progress(f"{row.slug}: backfill", len(missing)) as advance:
            queued = tlog_pending.queue_adds(missing, advance)
        click.echo(f"{row.slug}: queued {queued}")
    try:
        transparency.publish_due(force_checkpoint=True)
    except transparency.OriginMismatch as exc:
        raise click.ClickException(str(exc)) from None


witness_cli = AppGroup("witness", help="Witnesses whose checkpoint cosignatures are kept.")
count_cli.add_command(witness_cli)


@witness_cli.command("add")
@click.argument("name")
@click.argument("key")
def witness_add(name: str, key: str) -> None:
    """Accept cosignatures from witness NAME, whose vkey is KEY (name+id+base64)."""
    try:
        tlog_witness.add_witness(name, key)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"witness {name} added")


@witness_cli.command("remove")
@click.argument("name")
def witness_remove(name: str) -> None:
    """Stop accepting (and serving) witness NAME's cosignatures."""
    if not tlog_witness.remove_witness(name):
        raise click.ClickException(f"no witness {name}")
    click.echo(f"witness {name} removed")


@witness_cli.command("list")
def witness_list() -> None:
    """Print each configured witness's key."""
    for row in tlog_witness.witnesses():
        click.echo(row.vkey)


def verifier_options(command):
    """The options `verify` and `monitor` share: what to trust, what to remember."""
    options = [
        click.argument("url"),
        click.option("--key", help="The log's verifier key (pinned; else pinned on first use)."),
        click.option(
            "--witness",
            "witnesses",
            multiple=True,
            help="A witness vkey (C2SP, Ed25519 or cosignature/v1); repeatable.",
        ),
        click.option(
            "--witness-threshold",
            type=click.IntRange(min=0),
            help="How many of the witnesses must cosign the latest checkpoint (all).",
        ),
        click.option(
            "--max-age",
            type=click.IntRange(min=1),
            help="Seconds: refuse a latest checkpoint no witness cosigned this recently.",
        ),
        click.option(
            "--state",
            type=click.Path(dir_okay=False, path_type=Path),
            help=f"The verifier's memory (default {tlog_memory.default_path()}).",
        ),
        click.option(
            "--evidence",
            multiple=True,
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="A receipt's evidence bundle the log must still agree with; repeatable.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def run_verifier(url, key, witnesses, witness_threshold, max_age, state, evidence):
    """One verification with the memory loaded and, when the log passes, saved."""
    try:
        memory = tlog_memory.Memory.load(state)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    report = tlog_verify.verify(
        url,
        key,
        witnesses=list(witnesses),
        memory=memory,
        threshold=witness_threshold,
        max_age=max_age,
        bundles=[path.read_bytes() for path in evidence],
    )
    if report.ok:
        memory.save()
    return report


@count_cli.command("verify")
@verifier_options
def count_verify(url: str, **options) -> None:
    """Verify a campaign's log over HTTP, without this app's database, trusting nothing
    it is served: the key and the last checkpoint seen are remembered per log (--state),
    and a log that shrank, forked or changed its key is refused, with the evidence."""
    report = run_verifier(url, **options)
    click.echo("\n".join(report.lines()))
    sys.exit(0 if report.ok else 1)


@count_cli.command("monitor")
@verifier_options
@click.option("--every", type=click.IntRange(min=0), default=0, help="Seconds between checks.")
@click.option("--rounds", type=click.IntRange(min=1), default=1, help="How many checks to run.")
@click.option(
    "--record",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Append what each check saw, one JSON line, to this file.",
)
def count_monitor(url: str, every: int, rounds: int, record: Path | None, **options) -> None:
    """Run `verify`'s checks on a schedule (or from cron, once a run), keeping the state;
    one line per check, a non-zero exit if any check found a problem."""
    failed = False
    for round_ in range(rounds):
        if round_:
            time.sleep(every)
        report = run_verifier(url, **options)
        failed = failed or not report.ok
        seen = {
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "url": url,
            "size": report.size,
            "count": report.count,
            "site_count": report.site_count,
            "ok": report.ok,
            "problems": report.problems,
            "checkpoint": report.note,
        }
        if record is not None:
            with record.open("a", encoding="utf-8") as out:
                out.write(json.dumps(seen) + "\n")
        status = "OK" if report.ok else "PROBLEM: " + "; ".join(report.problems)
        click.echo(f"{seen['checked_at']} size {report.size} count {report.count} {status}")
        if not report.ok:
            click.echo("\n".join(report.lines()), err=True)
    sys.exit(1 if failed else 0)


@count_cli.command("verify-receipt")
@click.argument("target")
@click.option("--receipt", help="The receipt line (asked for when TARGET is a campaign).")
@click.option("--key", help="The log's verifier key, to pin (a bundle's own key otherwise).")
def count_verify_receipt(target: str, receipt: str | None, key: str | None) -> None:
    """TARGET an evidence bundle (a file): check it offline, without the database or the
    network. TARGET a campaign's slug: show a receipt's inclusion proof against the
    latest checkpoint, from the database, and check it."""
    if Path(target).is_file():
        lines = tlog_offline.verify_bundle(Path(target).read_bytes(), key, receipt or "")
        click.echo("\n".join(lines))
        sys.exit(0 if lines[-1].startswith("OK") else 1)
    slug = target
    if receipt is None:  # asked for, so it stays out of shell history
        receipt = click.prompt("Receipt", hide_input=True)
    campaign_id = db.session.scalar(select(Campaign.id).where(Campaign.slug == slug))
    raw = receipts.parse(receipt)
    if campaign_id is None or raw is None:
        raise click.ClickException("unknown campaign or not a receipt")
    check = tlog_store.check_receipt(campaign_id, raw)
    if check.state in ("unknown", "pending"):
        click.echo(
            {"unknown": "not in the log", "pending": "appended, not yet checkpointed"}[check.state]
        )
        sys.exit(1)
    _, size, root = tlog_note.open_checkpoint(check.note, tlog_keys.verifier_key(slug))
    leaf = tlog.leaf_hash(tlog_store.entry_at(campaign_id, check.index))
    ok = tlog.verify_inclusion(leaf, check.index, size, check.proof, root)
    click.echo(f"leaf {check.index} of {size}; proof:")
    for node in check.proof:
        click.echo("  " + base64.b64encode(node).decode())
    if check.state == "removed":
        entry = tlog_store.entry_at(campaign_id, check.removal_index)
        ok = ok and tlog.verify_inclusion(
            tlog.leaf_hash(entry), check.removal_index, size, check.removal_proof, root
        )
        # The remove leaf names no add: the receipt's secret opens it (or, for a leaf
        # written before removal commitments, only the server's bookkeeping links it).
        opens = entry == tlog.remove_entry(tlog.removal(raw, check.restores))
        click.echo(
            f"removed by leaf {check.removal_index}"
            + (": the receipt opens its commitment" if opens else " (an older removal)")
        )
    else:
        click.echo("included and not removed")
    click.echo("proof verified against the signed checkpoint" if ok else "PROOF FAILED")
    sys.exit(0 if ok else 1)
