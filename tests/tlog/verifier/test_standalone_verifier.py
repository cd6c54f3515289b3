"""`flask count verify URL` against a live gunicorn instance, and against tampered
static copies of its log: a changed leaf, a forked checkpoint, a hidden removal."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from campaign.services.log import tlog_keys, transparency
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_note
from campaign.services.verifier.tlog_checks import Tree
from campaign.services.verifier.tlog_verify import verify
from tests.helpers import SLUG
from tests.tlog.helpers import mirror, sign_and_confirm


@pytest.fixture(autouse=True)
def uncached_counts(app_config):
    app_config.update(COUNT_CACHE_SECONDS=0, API_CACHE_SECONDS=0)


def sign_note(note_body: str) -> str:
    """The compromised server's own key signs whatever it likes."""
    name = note_body.split("\n")[0]
    return tlog_note.sign_note(note_body, name, tlog_keys.signing_key())


@pytest.fixture
def published(client, app):
    """Five signatures, one withdrawn, checkpoints after each step."""
    signatures = [sign_and_confirm(client, f"v{n}@example.org")[0] for n in range(5)]
    transparency.checkpoint(SLUG)
    privacy.withdraw(signatures[1])
    transparency.checkpoint(SLUG)
    return signatures


def test_verifier_accepts_the_live_instance_and_prints_both_counts(published, app, live_server):
    server = live_server(TLOG_ORIGIN="petition.test", API_CACHE_SECONDS=0)
    report = verify(f"{server.url}/{SLUG}/", tlog_keys.verifier_key(SLUG))
    assert report.ok, report.problems
    assert (report.adds, report.removes, report.count, report.site_count) == (5, 1, 4, 4)
    assert report.checkpoints == 2 and report.consistency_proofs == 1
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["count", "verify", f"{server.url}/{SLUG}/", "--key", tlog_keys.verifier_key(SLUG)]
    )
    assert result.exit_code == 0, result.output
    assert "verified count: 4" in result.output and "site count: 4" in result.output


def tampered_copy(client, tmp_path) -> Path:
    """A static mirror (as a CDN would hold) of what the site serves, to tamper with."""
    root = tmp_path / "mirror"
    mirror(lambda path: client.get(path).data, root)
    return root / SLUG / "log"


def test_a_changed_leaf_is_detected(published, client, tmp_path, static_server):
    log = tampered_copy(client, tmp_path)
    bundle_path = log / "tile" / "entries" / "000.p" / "6"
    entries = tlog.parse_entry_bundle(bundle_path.read_bytes())
    entries[0] = tlog.add_entry(b"\x11" * 32, "2026-01-01T00")
    bundle_path.write_bytes(tlog.entry_bundle(entries))
    report = verify(static_server(tmp_path / "mirror") + f"/{SLUG}/", tlog_keys.verifier_key(SLUG))
    assert not report.ok
    assert any("tile 0/0 does not match" in p or "not a prefix" in p for p in report.problems)


def test_a_forked_checkpoint_is_detected(published, client, tmp_path, static_server):
    log = tampered_copy(client, tmp_path)
    listing = json.loads((log / "checkpoints").read_text())  # one page
    history = listing["checkpoints"]
    first = history[0]["note"].split("\n")
    forged_root = base64.b64encode(b"\x22" * 32).decode()
    history[0]["note"] = sign_note(f"{first[0]}\n{first[1]}\n{forged_root}\n")
    (log / "checkpoints").write_text(json.dumps(listing))
    report = verify(static_server(tmp_path / "mirror") + f"/{SLUG}/", tlog_keys.verifier_key(SLUG))
    assert any("checkpoint 0" in p and "fork" in p for p in report.problems), report.problems
    # and the RFC 9162 consistency proof from the served tiles fails against the old root
    assert any("checkpoints 0 and 1 are not consistent" in p for p in report.problems)


def test_a_hidden_removal_is_detected(published, client, tmp_path, static_server):
    """The server drops the remove leaf, rebuilds the tiles, and signs a new checkpoint."""
    log = tampered_copy(client, tmp_path)
    bundle_path = log / "tile" / "entries" / "000.p" / "6"
    entries = [
        e for e in tlog.parse_entry_bundle(bundle_path.read_bytes()) if not e.startswith(b"remove")
    ]
    shutil.rmtree(log / "tile")
    (log / "tile" / "entries" / "000.p").mkdir(parents=True)
    (log / "tile" / "entries" / "000.p" / "5").write_bytes(tlog.entry_bundle(entries))
    (log / "tile" / "0" / "000.p").mkdir(parents=True)
    (log / "tile" / "0" / "000.p" / "5").write_bytes(b"".join(tlog.leaf_hash(e) for e in entries))
    root = tlog.root_hash(Tree([tlog.leaf_hash(e) for e in entries]), 5)
    origin = f"petition.test/{SLUG}/log"
    note = sign_note(tlog_note.checkpoint_body(origin, 5, root))
    listing = json.loads((log / "checkpoints").read_text())  # one page
    history = listing["checkpoints"]
    history[-1] = {"size": 5, "note": note, "published": "x"}
    (log / "checkpoints").write_text(json.dumps(listing))
    (log / "checkpoint").write_text(note)
    report = verify(static_server(tmp_path / "mirror") + f"/{SLUG}/", tlog_keys.verifier_key(SLUG))
    assert not report.ok
    assert any("the site shows 4, the log counts 5" in p for p in report.problems), report.problems
