"""The organizers' key on the command line (issue 23): `flask keys organizer-keygen`,
`flask keys reseal`, `flask export open` and the offline half of `flask delivery pack`.

Every command here that takes a private key runs on the organizers' own computer; the
server has only ORGANIZER_PUBLIC_KEY. docs/organizers.md is the guide.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import current_app
from flask_babel import force_locale

from ..services.exports import delivery, export_open, organizer_tools
from ..services.pages.content import library
from ..services.sealing import organizer_key
from .files import open_private

PRIVATE_NAME = "organizer-private.key"
PUBLIC_NAME = "organizer-public.key"
PRINTABLE_NAME = "organizer-private-printable.txt"


def _passphrase(stdin: bool, prompt: str, *, confirm: bool = False) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)


def read_keys(paths: tuple[str, ...], passphrase_stdin: bool) -> list:
    """The private keys in `paths` (key files or printed copies; a passphrase is asked
    for each encrypted one)."""
    keys = []
    for path in paths:
        data = Path(path).read_bytes()
        secret = None
        if organizer_key.is_encrypted(data):
            secret = _passphrase(passphrase_stdin, f"Passphrase for {path}")
        try:
            keys.append(organizer_key.load_private(data, secret))
        except organizer_key.OrganizerKeyError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
    return keys


def write_private(path: Path, data: bytes) -> None:
    """A new file readable by its owner only; never overwrites a key."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as stream:
        stream.write(data)


@click.command("organizer-keygen")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to write the key files (an offline, encrypted disk; not the server).",
)
@click.option("--passphrase-stdin", is_flag=True, help="Read the printed copy's passphrase.")
@click.option(
    "--dev",
    is_flag=True,
    help="A development pair in instance/ for `make run` (no printed copy). Never in production.",
)
def organizer_keygen(directory: str, passphrase_stdin: bool, dev: bool) -> None:
    """Make the organizers' key pair: the private key file, a passphrase-protected copy
    to print, and the public key for ORGANIZER_PUBLIC_KEY."""
    key = organizer_key.generate()
    public = organizer_key.public_text(key)
    target = Path(current_app.instance_path if dev else directory)
    target.mkdir(parents=True, exist_ok=True)
    private_path = target / PRIVATE_NAME
    try:
        write_private(private_path, organizer_key.private_pem(key))
    except FileExistsError as exc:
        raise click.ClickException(f"{private_path} exists: keys are never overwritten") from exc
    (target / PUBLIC_NAME).write_text(public + "\n")
    if not dev:
        passphrase = _passphrase(
            passphrase_stdin, "Passphrase for the printed copy", confirm=not passphrase_stdin
        )
        try:
            printable = organizer_key.printable_copy(key, passphrase)
        except organizer_key.OrganizerKeyError as exc:
            private_path.unlink()
            raise click.ClickException(str(exc)) from exc
        write_private(target / PRINTABLE_NAME, printable.encode("ascii"))
    click.echo(f"Private key: {private_path}")
    if not dev:
        click.echo(f"Printed copy (passphrase protected): {target / PRINTABLE_NAME}")
    click.echo(f"Key id: {organizer_key.key_id(key)}")
    click.echo(f"Set on the server: ORGANIZER_PUBLIC_KEY={public}")
    click.echo("")
    click.echo(f"WARNING: {organizer_key.LOSS_WARNING}")
    if dev:
        click.echo("A DEVELOPMENT key, kept where the app can read it: never for real signers.")


@click.command("reseal")
@click.option("--old-key", "old", multiple=True, required=True, type=click.Path(exists=True))
@click.option("--new-key", "new", required=True, type=click.Path(exists=True))
@click.option("--passphrase-stdin", is_flag=True)
@click.option("--batch", default=500, show_default=True)
def keys_reseal(old: tuple[str, ...], new: str, passphrase_stdin: bool, batch: int) -> None:
    """Move every organizer copy to the new organizer key (run where both private keys
    are, never on the server). Set ORGANIZER_PUBLIC_KEY to the new key first."""
    old_keys = read_keys(old, passphrase_stdin)
    (new_key,) = read_keys((new,), passphrase_stdin)
    configured = current_app.config.get("ORGANIZER_PUBLIC_KEY", "")
    if configured and configured.strip() != organizer_key.public_text(new_key):
        click.echo("note: ORGANIZER_PUBLIC_KEY here is not the new key's public half", err=True)
    try:
        report = organizer_tools.reseal(old_keys + [new_key], new_key, batch=batch)
    except organizer_key.OrganizerKeyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"resealed {report.moved}, already under the new key {report.current}, "
        f"changed meanwhile {report.changed_meanwhile}"
    )


@click.command("open")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_paths", multiple=True, required=True, type=click.Path(exists=True))
@click.option("--output", type=click.Path(dir_okay=False, allow_dash=True), default="-")
@click.option("--processes", type=click.IntRange(1, 64), default=os.cpu_count() or 1)
@click.option("--passphrase-stdin", is_flag=True)
def export_open_command(
    file: str, key_paths: tuple[str, ...], output: str, processes: int, passphrase_stdin: bool
) -> None:
    """Open a downloaded export's sealed column with the organizers' private key(s),
    without the database."""
    keys = read_keys(key_paths, passphrase_stdin)
    out = sys.stdout.buffer if output == "-" else open_private(output)
    try:
        with open(file, "rb") as source:
            report = export_open.open_export(source, out, keys, processes=processes)
    except export_open.ExportOpenError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        if out is sys.stdout.buffer:
            out.flush()
        else:
            out.close()
    click.echo(f"opened {report.opened} of {report.rows} rows", err=True)


def offline_names_pack(
    slug: str,
    export_file: str,
    key_paths: tuple[str, ...],
    output: str | None,
    language: str | None,
) -> None:
    """`flask delivery pack --from-export`: the named list as a PDF, from a delivery
    export opened here; the server's pack carries the counts and the checkpoint."""
    content = library().get(slug)
    if content is None:
        raise click.ClickException(f"no campaign {slug!r} in content/")
    keys = read_keys(key_paths, False)
    language = language if language in content.texts else content.default_language
    try:
        with open(export_file, encoding="utf-8", newline="") as source:
            names = organizer_tools.opened_names(source, keys)
    except export_open.ExportOpenError as exc:
        raise click.ClickException(str(exc)) from exc
    groups = organizer_tools.name_groups_from(names, language)
    with force_locale(language):
        body = delivery.write_pdf(
            content, None, None, language=language, groups=groups, listed=len(names)
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    path = output or f"{slug}-delivery-names-{stamp}.pdf"
    with open_private(path) as stream:
        stream.write(body)
    click.echo(f"wrote {path}: {len(names)} named signer{'' if len(names) == 1 else 's'}")
