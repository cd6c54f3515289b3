"""`flask admin …` (accounts), `flask export …` (the same files as the admin's exports) and
`flask delivery pack` (the admin's delivery pack)."""

from __future__ import annotations

import os
import sys

import click
from flask.cli import AppGroup
from sqlalchemy import select

from ..extensions import db
from ..models import AdminUser
from ..services.admins import accounts, sign_in, totp
from ..services.exports import delivery, export, export_presets
from ..services.exports.export_parallel import Part
from ..services.pages.campaigns import get_row
from ..services.pages.content import library
from ..services.signer_data.signers import FilterError, SignerFilter
from . import sealing_cli
from .files import open_private
from .progress import progress

admin_cli = AppGroup("admin", help="Admin accounts.")


def _read_password(password_stdin: bool, prompt: str = "Password") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


def _user(email: str) -> AdminUser:
    user = accounts.find(email)
    if user is None:
        raise click.ClickException(f"no account {email}")
    return user


@admin_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice(accounts.ROLES), default="organizer", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
def admin_create(email: str, role: str, password_stdin: bool) -> None:
    """Create an admin account (prompts for the password)."""
    try:
        user = accounts.create(email, _read_password(password_stdin), role)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {user.email} ({user.role})")


@admin_cli.command("list")
def admin_list() -> None:
    """List admin accounts."""
    for user in db.session.scalars(select(AdminUser).order_by(AdminUser.email)):
        flags = ["disabled"] if user.disabled else []
        if user.totp_enabled:
            flags.append("2fa")
        if sign_in.is_locked(user):
            flags.append("locked")
        click.echo(
            f"{user.email}\t{user.role}\t{','.join(flags) or 'active'}\t{user.last_login_at or '-'}"
        )


@admin_cli.command("disable")
@click.argument("email")
def admin_disable(email: str) -> None:
    """Disable an account and end its sessions."""
    accounts.set_disabled(_user(email), True)
    click.echo(f"disabled {email}")


@admin_cli.command("enable")
@click.argument("email")
def admin_enable(email: str) -> None:
    """Enable a disabled account."""
    accounts.set_disabled(_user(email), False)
    click.echo(f"enabled {email}")


@admin_cli.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option("--reset-2fa", is_flag=True, help="Also remove the account's two-factor secret.")
def admin_reset_password(email: str, password_stdin: bool, reset_2fa: bool) -> None:
    """Set a new password (ends the account's sessions and unlocks it)."""
    user = _user(email)
    try:
        accounts.set_password(user, _read_password(password_stdin, "New password"))
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    if reset_2fa:
        totp.disable_totp(user)
    click.echo(f"password reset for {email}")


@click.group("export", invoke_without_command=True)
@click.option("--campaign", "slug", help="The campaign's slug (required to export).")
@click.option(
    "--preset",
    type=click.Choice(sorted(export_presets.PRESETS)),
    default="delivery",
    show_default=True,
)
@click.option(
    "--format", "fmt", type=click.Choice(export.FORMATS), default="csv", show_default=True
)
@click.option("--excel", is_flag=True, help="CSV with a byte-order mark, for Excel.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True),
    default="-",
    help="File to write (default: stdout).",
)
@click.option("--q", default="", help="Search: name words, email, or @domain.")
@click.option("--country", default="")
@click.option("--state", default="")
@click.option("--since", default="", help="YYYY-MM-DD")
@click.option("--until", default="", help="YYYY-MM-DD (inclusive)")
@click.option("--contact", type=click.Choice(["", "yes", "no"]), default="")
@click.option("--source", default="")
@click.option("--language", default="en", help="Language of the summary's petition text.")
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=os.cpu_count() or 1,
    show_default="the number of CPUs",
    help="Processes for a large CSV export (decrypting is CPU-bound).",
)
@click.pass_context
def export_command(
    ctx, slug, preset, fmt, excel, output, language, processes, **filter_args
) -> None:
    """Export signers as the admin does (recorded in the audit log). `flask export open`
    opens a sealed export offline (campaign/cli/sealing_cli.py)."""
    if ctx.invoked_subcommand is not None:
        return
    if not slug:
        raise click.UsageError("Missing option '--campaign'.")
    content = library().get(slug)
    if content is None:
        raise click.ClickException(f"no campaign {slug!r} in content/")
    try:
        filters = SignerFilter.from_args(filter_args)
    except FilterError as exc:
        raise click.ClickException(str(exc)) from exc
    job = export.build(
        content,
        get_row(content),
        preset=preset,
        fmt=fmt,
        filters=filters,
        excel=excel,
        language=language,
        via="cli",
        processes=processes,
    )
    # Bytes out: text is encoded as the file's text mode would (UTF-8, no newline
    # translation); a large export's ranges are copied from its workers' memory by the
    # kernel (export_parallel.Part).
    if output == "-":
        sys.stdout.flush()
    stream = sys.stdout.buffer if output == "-" else open_private(output)
    try:
        # Rows done are counted by lines written (the header too: capped at the total).
        with progress("export", job.rows) as advance:
            for chunk in job.chunks:
                if isinstance(chunk, Part):
                    advance(chunk.write_to(stream))
                    continue
                data = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8")
                stream.write(data)
                advance(data.count(b"\n"))
            advance(job.rows)  # formats whose rows aren't lines: done is done
    finally:
        if output == "-":
            stream.flush()
        else:
            stream.close()
    if output != "-":
        click.echo(f"wrote {job.rows} rows to {output}", err=True)


delivery_cli = AppGroup("delivery", help="The delivery pack for a petition's addressees.")


@delivery_cli.command("pack")
@click.option("--campaign", "slug", required=True, help="The campaign's slug.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False),
    default=None,
    help="File to write (default: <slug>-delivery-<time>.pdf here).",
)
@click.option(
    "--language", default=None, help="Language of the headings (default: the campaign's)."
)
@click.option(
    "--format", "fmt", type=click.Choice(["pdf", "html"]), default="pdf", show_default=True
)
@click.option(
    "--from-export",
    "export_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Offline: the named list from a downloaded delivery export (needs --key).",
)
@click.option("--key", "key_paths", multiple=True, type=click.Path(exists=True))
def delivery_pack(
    slug: str,
    output: str | None,
    language: str | None,
    fmt: str,
    export_file: str | None,
    key_paths: tuple[str, ...],
) -> None:
    """Make the delivery pack, as the admin does (recorded in the audit log). With
    --from-export and --key, on the organizers' computer: the named list alone."""
    if export_file:
        if not key_paths:
            raise click.UsageError("--from-export needs --key (the organizers' private key)")
        sealing_cli.offline_names_pack(slug, export_file, key_paths, output, language)
        return
    content = library().get(slug)
    if content is None:
        raise click.ClickException(f"no campaign {slug!r} in content/")
    with progress("delivery pack", delivery.PACK_STEPS, unit="steps") as step:
        pack = delivery.build(
            content, get_row(content), language=language, fmt=fmt, via="cli", step=step
        )
    path = output or pack.filename
    with open_private(path) as stream:
        stream.write(pack.body)
    click.echo(
        f"wrote {path}: {pack.numbers.total} confirmed signatures, "
        f"{pack.numbers.named} named, {pack.numbers.unnamed} not named"
    )
