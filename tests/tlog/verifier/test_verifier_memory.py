"""A verifier that trusts nothing it is served (issue 25, section 2): it pins the log's
key and origin, remembers the last checkpoint it verified per origin, and refuses a
rewrite, a rollback, a foreign origin, or a log that hid a receipt's leaf, printing the
signed notes that prove it. Each attack here passed `flask count verify` before."""

from __future__ import annotations

import gzip
import http.server
import json
import shutil
import threading
from functools import partial
from pathlib import Path

import pytest

from campaign.services.log import tlog_keys, transparency
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_note
from campaign.services.verifier.tlog_checks import Tree
from campaign.services.verifier.tlog_memory import Memory
from campaign.services.verifier.tlog_verify import verify
from tests.helpers import SLUG, free_port
from tests.tlog.helpers import mirror, sign_and_confirm

ORIGIN = f"petition.test/{SLUG}/log"


@pytest.fixture(autouse=True)
def uncached_counts(app_config):
    app_config.update(COUNT_CACHE_SECONDS=0, API_CACHE_SECONDS=0)


@pytest.fixture
def published(client, app):
    """Five signatures, one withdrawn, a checkpoint after each step."""
    signatures = [sign_and_confirm(client, f"m{n}@example.org")[0] for n in range(5)]
    transparency.checkpoint(SLUG)
    privacy.withdraw(signatures[1])
    transparency.checkpoint(SLUG)
    return signatures


def copy_of(client, root: Path) -> Path:
    mirror(lambda path: client.get(path).data, root)
    return root / SLUG / "log"


def rewrite(log: Path, entries: list[bytes], origin: str = ORIGIN, count: int | None = None):
    """What an operator holding the key can serve: a whole new history, self-consistent,
    every checkpoint re-signed (one tile, fewer than 256 entries)."""
    size = len(entries)
    shutil.rmtree(log / "tile")
    for folder, data in (
        ("entries", tlog.entry_bundle(entries)),
        ("0", b"".join(tlog.leaf_hash(e) for e in entries)),
    ):
        (log / "tile" / folder / "000.p").mkdir(parents=True)
        (log / "tile" / folder / "000.p" / str(size)).write_bytes(data)
    root = tlog.root_hash(Tree([tlog.leaf_hash(e) for e in entries]), size)
    note = tlog_note.sign_note(tlog_note.checkpoint_body(origin, size, root), origin, key())
    (log / "checkpoint").write_text(note)
    listing = json.loads((log / "checkpoints").read_text())  # one page
    listing["checkpoints"] = [{"size": size, "note": note, "published": ""}]
    listing["total"] = 1
    (log / "checkpoints").write_text(json.dumps(listing))
    if origin != ORIGIN:
        vkey = tlog_note.verifier_key(origin, key().public_key().public_bytes_raw())
        (log / "key").write_text(vkey + "\n")
    api = log.parent.parent / "api" / "v1" / "petitions" / SLUG
    adds = sum(e.startswith(b"add") for e in entries)
    total = adds - (size - adds) if count is None else count
    api.write_text(json.dumps({**json.loads(api.read_text()), "total_signatures": total}))


def key():
    return tlog_keys.signing_key()


def entries_of(log: Path) -> list[bytes]:
    [bundle] = (log / "tile" / "entries" / "000.p").iterdir()
    return tlog.parse_entry_bundle(bundle.read_bytes())


def test_a_full_rewrite_passes_alone_and_is_refused_by_a_verifier_that_remembers(
    published, client, tmp_path, static_server
):
    """Issue 25: an operator hid a withdrawal, appended a fake add, re-signed every later
    checkpoint and raised the count; `flask count verify` printed OK."""
    honest = copy_of(client, tmp_path / "honest")
    url = static_server(tmp_path / "honest") + f"/{SLUG}/"
    memory = Memory.load(tmp_path / "state.json")
    assert verify(url, tlog_keys.verifier_key(SLUG), memory=memory).ok
    memory.save()

    forged = entries_of(honest)
    forged = [e for e in forged if not e.startswith(b"remove")]
    forged.append(tlog.add_entry(b"\x33" * 32, "2026-12-06T07"))
    rewrite(honest, forged)
    assert verify(url, tlog_keys.verifier_key(SLUG)).ok  # self-consistent: alone, it passes
    report = verify(url, memory=Memory.load(tmp_path / "state.json"))
    assert not report.ok
    assert any("forked from the remembered checkpoint" in p for p in report.problems)
    # Both signed notes, as evidence anyone can check with the key.
    assert len(report.evidence) == 2
    for note in report.evidence:
        assert tlog_note.open_checkpoint(note, tlog_keys.verifier_key(SLUG))[0] == ORIGIN
    assert "EVIDENCE 2, a signed note" in "\n".join(report.lines())


def test_a_rollback_to_an_earlier_checkpoint_is_refused(published, client, tmp_path, static_server):
    """Issue 25: serving the log as it was one checkpoint earlier passed."""
    old = copy_of(client, tmp_path / "old")
    memory = Memory.load(tmp_path / "state.json")
    sign_and_confirm(client, "later@example.org")
    transparency.checkpoint(SLUG)
    copy_of(client, tmp_path / "new")
    assert verify(
        static_server(tmp_path / "new") + f"/{SLUG}/", tlog_keys.verifier_key(SLUG), memory=memory
    ).ok
    assert memory.get(ORIGIN).size == 7
    # The operator now serves the older log, counts and all.
    report = verify(static_server(tmp_path / "old") + f"/{SLUG}/", memory=memory)
    assert any("shrank below the remembered checkpoint (7 > 6)" in p for p in report.problems)
    assert old.exists() and len(report.evidence) == 2


def test_a_log_resigned_under_another_origin_is_refused_without_a_pin(
    published, client, tmp_path, static_server
):
    """Issue 25: without --key the verifier took the key the site served, and never
    compared the origin with the URL: a log re-signed as evil.example/… passed."""
    log = copy_of(client, tmp_path / "site")
    rewrite(log, entries_of(log), origin=f"evil.example/{SLUG}/log")
    report = verify(static_server(tmp_path / "site") + f"/{SLUG}/")
    assert not report.ok
    assert any("neither a pinned log nor this URL's own" in p for p in report.problems)


def test_a_mirror_is_held_to_the_memory_of_its_origin(published, client, tmp_path, static_server):
    """The memory is keyed by origin, not URL: a mirror of the same log, at another
    address, is checked with the pinned key and against the remembered checkpoint."""
    memory = Memory.load(tmp_path / "state.json")
    copy_of(client, tmp_path / "site")
    site = static_server(tmp_path / "site") + f"/{SLUG}/"
    assert verify(site, tlog_keys.verifier_key(SLUG), memory=memory).ok
    log = copy_of(client, tmp_path / "mirror")
    mirror_url = static_server(tmp_path / "mirror") + f"/{SLUG}/"
    assert verify(mirror_url, memory=memory).ok  # no --key: the pin answers for the origin
    (log / "key").write_text("evil.example/x+00000000+AQ==\n")  # a mirror's own key: unused
    assert verify(mirror_url, memory=memory).ok
    rewrite(log, entries_of(log)[:4])
    report = verify(mirror_url, memory=memory)
    assert any("shrank below the remembered checkpoint" in p for p in report.problems)
    other = tlog_note.verifier_key(ORIGIN, b"\x01" * 32)
    report = verify(mirror_url, other, memory=memory)
    assert any("--key is not the key pinned for" in p for p in report.problems)


def test_a_bundle_proves_that_its_leaf_was_hidden(published, client, app, tmp_path, static_server):
    """Issue 25: a signer whose add vanished in a rewrite held nothing signed; a receipt's
    evidence bundle and the rewritten log now prove the rewrite."""
    bundle = tmp_path / "bundle.json"
    bundle.write_bytes(client.get(f"/{SLUG}/log/bundle/2").data)
    log = copy_of(client, tmp_path / "site")
    url = static_server(tmp_path / "site") + f"/{SLUG}/"
    kept = [e for i, e in enumerate(entries_of(log)) if i != 2]
    rewrite(log, kept)
    result = app.test_cli_runner().invoke(
        args=[
            "count",
            "verify",
            url,
            "--key",
            tlog_keys.verifier_key(SLUG),
            "--evidence",
            str(bundle),
            "--state",
            str(tmp_path / "state.json"),
        ]
    )
    assert result.exit_code == 1
    assert "receipt bundle 1's leaf 2 is no longer in the log" in result.output
    assert "EVIDENCE 1, a signed note" in result.output


class GzipHandler(http.server.SimpleHTTPRequestHandler):
    """A mirror that serves every file gzipped, as C2SP tlog-tiles lets it."""

    def do_GET(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        body = gzip.compress(path.read_bytes())
        self.send_response(200)
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_an_honest_mirror_that_serves_gzip_verifies(published, client, tmp_path):
    """Issue 25: a mirror serving gzip failed with "truncated bundle"; Go reads it."""
    copy_of(client, tmp_path / "mirror")
    handler = partial(GzipHandler, directory=str(tmp_path / "mirror"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{SLUG}/"
        report = verify(url, tlog_keys.verifier_key(SLUG))
        assert report.ok, report.problems
    finally:
        server.shutdown()
        server.server_close()


def test_the_app_serves_tiles_and_bundles_gzipped_to_who_asks(published, client):
    plain = client.get(f"/{SLUG}/log/tile/entries/000.p/6")
    packed = client.get(f"/{SLUG}/log/tile/entries/000.p/6", headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == plain.data and "Content-Encoding" not in plain.headers


def test_monitor_records_each_check_and_fails_on_a_rewrite(
    published, client, app, tmp_path, static_server
):
    log = copy_of(client, tmp_path / "site")
    url = static_server(tmp_path / "site") + f"/{SLUG}/"
    runner = app.test_cli_runner()
    args = ["count", "monitor", url, "--key", tlog_keys.verifier_key(SLUG)]
    args += ["--state", str(tmp_path / "state.json"), "--record", str(tmp_path / "seen.jsonl")]
    result = runner.invoke(args=[*args, "--rounds", "2", "--every", "0"])
    assert result.exit_code == 0, result.output
    assert result.output.count("size 6 count 4 OK") == 2
    rewrite(log, entries_of(log)[:5] + [tlog.add_entry(b"\x44" * 32, "2026-12-06T07")])
    result = runner.invoke(args=args)
    assert result.exit_code == 1
    seen = [json.loads(line) for line in (tmp_path / "seen.jsonl").read_text().splitlines()]
    assert [item["ok"] for item in seen] == [True, True, False]
    assert any("forked" in p for p in seen[-1]["problems"])
