"""Operator commands: `flask --app wsgi <group> <command>`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign, OutboxMessage
from ..production import contact_problems
from ..services.intake import abuse
from ..services.letters import reminders
from ..services.log import transparency
from ..services.outbox import mail_processes, mail_worker
from ..services.pages import campaigns, counting
from ..services.pages.content import library
from ..services.paper import retention as paper_retention
from ..services.sealing import crypto, index_retention, rotation
from ..services.signer_data import retention
from . import sealing_cli
from .admin_cli import admin_cli, delivery_cli, export_command
from .progress import progress
from .tlog_cli import count_cli

content_cli = AppGroup("content", help="Campaign content in content/.")
mail_cli = AppGroup("mail", help="The mail outbox.")
signatures_cli = AppGroup("signatures", help="Reminders and expiry of unconfirmed signatures.")
counts_cli = AppGroup("counts", help="Signature counters.")
keys_cli = AppGroup("keys", help="Encryption keys.")
campaign_cli = AppGroup("campaign", help="Campaign lifecycle.")


@content_cli.command("load")
def content_load() -> None:
    """Check content/ and create database rows for new campaigns.

    Refuses (exit status 1) a campaign.toml naming a file outside its folder; warns
    about a placeholder organizer contact, which production refuses to start with."""
    problems = [f"{c.slug}: {p}" for c in library().all() for p in c.problems]
    if problems:
        raise click.ClickException("refused:\n" + "\n".join(problems))
    # Production refuses to start with these (campaign/production.py); say so early.
    for line in contact_problems(library().all()):
        click.echo(f"warning: {line}", err=True)
    for row in campaigns.sync_all():
        click.echo(f"{row.slug}: ok")


@mail_cli.command("work")
@click.option("--once", is_flag=True, help="Send what is due, then exit.")
@click.option("--poll", default=0.5, show_default=True, help="Seconds between polls.")
@click.option(
    "--threads",
    type=int,
    default=None,
    help="Sending threads, one SMTP connection each [default: MAIL_SMTP_CONNECTIONS].",
)
@click.option(
    "--processes",
    type=int,
    default=None,
    help="Worker processes, forked from this one [default: MAIL_WORKER_PROCESSES].",
)
def mail_work(once: bool, poll: float, threads: int | None, processes: int | None) -> None:
    """Deliver mail from the outbox (a worker loop; several may run at once)."""

    def work(first: bool) -> int:
        # The first process's first thread also appends pending changes to the
        # transparency log (and checkpoints) on each pass, and expands updates.
        return mail_worker.work(
            once=once,
            poll_seconds=poll,
            tick=transparency.publish_due if first else None,
            threads=threads,
            prepare=first,
        )

    count = 1 if once else (processes or mail_worker.processes())
    sent = mail_processes.run(count, work, mail_worker.request_stop)
    if once:
        click.echo(f"sent {sent}")


@mail_cli.command("status")
def mail_status() -> None:
    """Count outbox messages by status."""
    for status in ("pending", "sent", "dropped", "failed"):
        total = db.session.query(OutboxMessage).filter_by(status=status).count()
        click.echo(f"{status}: {total}")


@signatures_cli.command("remind")
def signatures_remind() -> None:
    """Queue the single reminder for signatures not yet confirmed."""
    click.echo(f"queued {reminders.send_reminders()} reminders")


@signatures_cli.command("purge")
def signatures_purge() -> None:
    """Delete expired unconfirmed signatures and old IP hashes; close the paper rows
    whose owner never answered the paper mail (their address no longer readable)."""
    click.echo(f"deleted {retention.purge_expired()} expired signatures")
    click.echo(f"closed {paper_retention.seal_unanswered()} unanswered paper addresses")
    click.echo(f"cleared {retention.purge_ip_hashes()} IP hashes")


@signatures_cli.command("trends")
@click.option(
    "--factor", default=abuse.TREND_FACTOR, show_default=True, help="Times the usual rate."
)
@click.option(
    "--minimum", default=abuse.TREND_MINIMUM, show_default=True, help="Signatures in the last hour."
)
def signatures_trends(factor: float, minimum: int) -> None:
    """Alert organizers (by mail) to IP hashes or domains signing far above normal."""

    for row in db.session.scalars(select(Campaign)).all():
        for trend in abuse.alert_trends(row.id, row.slug, factor=factor, minimum=minimum):
            click.echo(
                f"{row.slug}: {trend.kind} {trend.key} {trend.count} (usually {trend.expected})"
            )


@counts_cli.command("repair")
def counts_repair() -> None:
    """Recompute each campaign's counter from the signatures table."""
    for slug, (before, after) in counting.repair_all().items():
        click.echo(f"{slug}: {before} -> {after}")


@keys_cli.command("generate")
def keys_generate() -> None:
    """Print a new key for ENCRYPTION_KEYS (32 random bytes, urlsafe base64)."""
    click.echo(crypto.generate_key())


@keys_cli.command("rotate")
@click.option("--batch", default=500, show_default=True)
def keys_rotate(batch: int) -> None:
    """Re-encrypt every encrypted column under the first key in ENCRYPTION_KEYS.

    Put the new key first and keep the old ones while this runs: both decrypt, so
    the site keeps working. It can be interrupted and run again. Remove an old key
    only after a run that reports 0 unreadable and 0 skipped.
    """
    try:
        with progress("keys rotate", rotation.row_total()) as advance:
            report = rotation.rotate_all(batch, advance=advance)
    except rotation.RotationError as exc:
        raise click.ClickException(str(exc)) from exc
    for table, done in report.tables.items():
        click.echo(
            f"{table}: re-encrypted {done.rewritten}, already current {done.current}, "
            f"changed meanwhile {done.skipped}, unreadable {done.unreadable}"
        )


def _campaigns_and_closing(slug: str | None):
    """Each campaign row (or only `slug`'s) with its closing date from its files."""
    for row in db.session.scalars(select(Campaign)).all():
        if slug and row.slug != slug:
            continue
        content = library().get(row.slug)
        yield row, (content.closes if content else None)


@campaign_cli.command("anonymize")
@click.option("--slug", help="Only this campaign.")
@click.option("--force", is_flag=True, help="Erase now, even before the retention period ends.")
def campaign_anonymize(slug: str | None, force: bool) -> None:
    """Erase personal data of campaigns closed for longer than ANONYMIZE_AFTER_CLOSE_DAYS."""
    for row, closes in _campaigns_and_closing(slug):
        erased = retention.anonymize_campaign(row, closes, force=force)
        click.echo(f"{row.slug}: erased {erased}")


@campaign_cli.command("purge-indexes")
@click.option("--slug", help="Only this campaign.")
@click.option("--force", is_flag=True, help="Delete now, even before the retention period ends.")
def campaign_purge_indexes(slug: str | None, force: bool) -> None:
    """Delete the dedup keys and blind indexes of campaigns closed for longer than
    BLIND_INDEX_RETENTION_DAYS (issue 23; docs/SECURITY.md)."""
    for row, closes in _campaigns_and_closing(slug):
        changed = index_retention.purge_blind_indexes(row, closes, force=force)
        click.echo(f"{row.slug}: blind indexes deleted from {changed} signatures")


def register_commands(app: Flask) -> None:
    for group in (content_cli, mail_cli, signatures_cli, counts_cli, keys_cli, campaign_cli):
        app.cli.add_command(group)
    # The admin's commands (`flask admin …`, `flask export …`, `flask delivery …`) and
    # the transparency log's (`flask count …`).
    app.cli.add_command(count_cli)
    app.cli.add_command(admin_cli)
    app.cli.add_command(export_command)
    # Issue 23: the organizers' key (campaign/cli/sealing_cli.py).
    keys_cli.add_command(sealing_cli.organizer_keygen)
    keys_cli.add_command(sealing_cli.keys_reseal)
    export_command.add_command(sealing_cli.export_open_command)
    app.cli.add_command(delivery_cli)
