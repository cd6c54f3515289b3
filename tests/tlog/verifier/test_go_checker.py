"""The log checked by an implementation no one here wrote: Go's checksum-database code
(golang.org/x/mod/sumdb/note and sumdb/tlog, Debian's golang-golang-x-mod-dev), built in
GOPATH mode from tests/tlog/verifier/gocheck (glue only), against a live gunicorn instance."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import insert

from campaign.extensions import db
from campaign.models import TlogPending
from campaign.services.log import tlog_keys, transparency
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.signer_data import privacy
from tests.helpers import SLUG
from tests.tlog.helpers import sign_and_confirm

SOURCE = Path(__file__).parent / "gocheck"
GOPATH = "/usr/share/gocode"  # where Debian's golang-golang-x-mod-dev installs


@pytest.fixture(scope="session")
def gocheck(tmp_path_factory) -> Path:
    go = shutil.which("go")
    assert go, "needs Debian's golang-go (make test installs it: .ci/system-packages)"
    assert (Path(GOPATH) / "src/golang.org/x/mod/sumdb/tlog").is_dir(), (
        "needs Debian's golang-golang-x-mod-dev"
    )
    out = tmp_path_factory.mktemp("gocheck")
    env = {
        **os.environ,
        "GO111MODULE": "off",
        "GOPATH": GOPATH,
        "GOCACHE": str(out / "cache"),
        "GOFLAGS": "",
    }
    subprocess.run(
        [go, "build", "-o", str(out / "gocheck"), "."],
        cwd=SOURCE,
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    return out / "gocheck"


def run(gocheck: Path, *args: str) -> str:
    done = subprocess.run(
        [str(gocheck), *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback
        return response.read()


def grow(count: int) -> None:
    """`count` more adds, as if that many more had confirmed (tiles past one full width)."""
    campaign_id = get_row(library().get(SLUG)).id
    db.session.execute(
        insert(TlogPending),
        [
            {
                "campaign_id": campaign_id,
                "signature_id": 1_000_000 + n,
                "action": "add",
                "commitment": secrets.token_hex(32),
            }
            for n in range(count)
        ],
    )
    db.session.commit()


def test_go_sumdb_verifies_checkpoints_tiles_proofs_and_receipts(
    client, app, live_server, gocheck, tmp_path
):
    first = [sign_and_confirm(client, f"go{n}@example.org")[0] for n in range(3)]
    transparency.checkpoint(SLUG)
    privacy.withdraw(first[1])
    grow(600)  # three tiles at level 0, a level-1 tile, partial tiles at both
    transparency.checkpoint(SLUG)
    server = live_server(TLOG_ORIGIN="petition.test")
    prefix = f"{server.url}/{SLUG}/log/"
    vkey = tlog_keys.verifier_key(SLUG)

    # note.Open on the live checkpoint.
    (tmp_path / "latest").write_bytes(get(prefix + "checkpoint"))
    origin, size, _root = run(gocheck, "open", vkey, str(tmp_path / "latest")).split()
    assert (origin, size) == (f"petition.test/{SLUG}/log", "604")

    # Every tile through tlog.TileHashReader, every entry bundle against its leaves.
    assert run(gocheck, "tiles", prefix, vkey) == "ok 604"

    # tlog.CheckTree from each earlier checkpoint to the latest, with the served proof.
    for number, item in enumerate(json.loads(get(prefix + "checkpoints"))["checkpoints"][:-1]):
        (tmp_path / f"old{number}").write_text(item["note"])
        assert run(gocheck, "tree", prefix, vkey, str(tmp_path / f"old{number}")).startswith("ok")

    # tlog.CheckRecord on a receipt's evidence bundle, for the first and a late leaf.
    for index in (0, 500):
        (tmp_path / f"bundle{index}").write_bytes(get(f"{prefix}bundle/{index}"))
        assert run(gocheck, "record", vkey, str(tmp_path / f"bundle{index}")) == f"ok {index} 604"


def test_go_rejects_what_the_verifier_rejects(client, app, gocheck, tmp_path):
    """The outside check agrees: a note with text after its signature is refused."""
    sign_and_confirm(client, "strict@example.org")
    note = transparency.checkpoint(SLUG)
    (tmp_path / "note").write_text(note + "unsigned words\n")
    done = subprocess.run(
        [str(gocheck), "open", tlog_keys.verifier_key(SLUG), str(tmp_path / "note")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1 and "note.Open" in done.stderr
