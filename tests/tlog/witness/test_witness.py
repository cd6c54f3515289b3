"""Witnesses: consistency proofs between checkpoints, cosignatures (C2SP cosignature/v1)
sent back by a witness and served with the checkpoint, and the verifier's --witness.

The witness here is a small real protocol peer with its own Ed25519 key: it keeps the
last checkpoint it cosigned, checks the log's signature and a consistency proof from
that checkpoint to the new one, and only then cosigns. Nothing of the app is mocked."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import TlogCosignature
from campaign.services.log import tlog_keys, transparency
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_cosign, tlog_note
from campaign.services.verifier.tlog_checks import Tree
from campaign.services.verifier.tlog_verify import verify
from tests.helpers import SLUG
from tests.tlog.helpers import mirror, sign_and_confirm


@dataclass
class Witness:
    """Fetches the checkpoint and, from its last one, a consistency proof; cosigns only
    a checkpoint consistent with everything it cosigned before."""

    get: object  # path → bytes
    log_key: str
    name: str = "witness.test/w1"
    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seen: tuple[int, bytes] | None = None

    @property
    def vkey(self) -> str:
        return tlog_cosign.witness_key(self.name, self.key.public_key().public_bytes_raw())

    def cosign(self, prefix: str = f"/{SLUG}/log/") -> str:
        note = self.get(prefix + "checkpoint").decode()
        _, size, root = tlog_note.open_checkpoint(note, self.log_key)
        if self.seen is not None:
            old, old_root = self.seen
            if size < old or (size == old and root != old_root):
                raise AssertionError("the log shrank or forked: refusing to cosign")
            proof = (
                [
                    base64.b64decode(line)
                    for line in self.get(f"{prefix}proof/consistency/{old}/{size}").split()
                ]
                if size > old
                else []
            )
            if not tlog.verify_consistency(old, size, old_root, root, proof):
                raise AssertionError("inconsistent checkpoint: refusing to cosign")
        self.seen = (size, root)
        body = note.partition("\n\n")[0] + "\n"
        return note + tlog_cosign.cosign(body, self.name, self.key, int(time.time())) + "\n"


@pytest.fixture(autouse=True)
def uncached_counts(app_config):
    app_config.update(COUNT_CACHE_SECONDS=0, API_CACHE_SECONDS=0)


@pytest.fixture
def witness(client, app):
    return Witness(lambda path: client.get(path).data, tlog_keys.verifier_key(SLUG))


def add_witness(app, witness: Witness):
    result = app.test_cli_runner().invoke(
        args=["count", "witness", "add", witness.name, witness.vkey]
    )
    assert result.exit_code == 0, result.output


def submit(client, note: str):
    return client.post(f"/{SLUG}/log/cosignature", data=note, content_type="text/plain")


def test_consistency_proof_endpoint_proves_the_log_only_grew(client, app):
    signatures = [sign_and_confirm(client, f"c{n}@example.org")[0] for n in range(3)]
    first = tlog_note.open_checkpoint(transparency.checkpoint(SLUG), tlog_keys.verifier_key(SLUG))
    privacy.withdraw(signatures[0])
    sign_and_confirm(client, "c9@example.org")
    second = tlog_note.open_checkpoint(transparency.checkpoint(SLUG), tlog_keys.verifier_key(SLUG))
    (_, old, old_root), (_, new, new_root) = first, second
    response = client.get(f"/{SLUG}/log/proof/consistency/{old}/{new}")
    assert response.status_code == 200 and "immutable" in response.headers["Cache-Control"]
    proof = [base64.b64decode(line) for line in response.data.split()]
    assert proof and tlog.verify_consistency(old, new, old_root, new_root, proof)
    assert not tlog.verify_consistency(old, new, b"\x00" * 32, new_root, proof)
    assert client.get(f"/{SLUG}/log/proof/consistency/{new}/{new}").data == b""
    for bad in (f"0/{new}", f"{new}/{old}", f"{old}/{new + 1}", "1/99999999999999999999"):
        assert client.get(f"/{SLUG}/log/proof/consistency/{bad}").status_code == 404, bad


def test_witness_cosigns_and_the_checkpoint_is_served_with_both_signatures(
    client, app, witness, live_server
):
    add_witness(app, witness)
    for n in range(3):
        sign_and_confirm(client, f"w{n}@example.org")
    transparency.checkpoint(SLUG)
    response = submit(client, witness.cosign())
    assert response.status_code == 200 and response.data == b"stored 1\n"
    assert submit(client, witness.cosign()).data == b"stored 0\n"  # idempotent
    sign_and_confirm(client, "w9@example.org")
    transparency.checkpoint(SLUG)
    assert submit(client, witness.cosign()).status_code == 200  # after a consistency proof
    note = client.get(f"/{SLUG}/log/checkpoint").get_data(as_text=True)
    lines = note.partition("\n\n")[2].splitlines()
    assert len(lines) == 2 and lines[1].startswith(f"— {witness.name} ")
    assert tlog_note.open_checkpoint(note, tlog_keys.verifier_key(SLUG))[1] == 4
    assert tlog_cosign.cosigned_by(note, witness.vkey) is not None
    history = json.loads(client.get(f"/{SLUG}/log/checkpoints").data)["checkpoints"]
    assert all(tlog_cosign.cosigned_by(item["note"], witness.vkey) for item in history)

    server = live_server(TLOG_ORIGIN="petition.test")
    report = verify(f"{server.url}/{SLUG}/", tlog_keys.verifier_key(SLUG), witnesses=[witness.vkey])
    assert report.ok, report.problems
    assert report.witnessed == {witness.name: 4}
    other = Witness(witness.get, witness.log_key, name="witness.test/absent")
    report = verify(f"{server.url}/{SLUG}/", tlog_keys.verifier_key(SLUG), witnesses=[other.vkey])
    assert "no checkpoint is cosigned by witness witness.test/absent" in report.problems
    result = app.test_cli_runner().invoke(
        args=[
            "count",
            "verify",
            f"{server.url}/{SLUG}/",
            "--key",
            tlog_keys.verifier_key(SLUG),
            "--witness",
            witness.vkey,
        ]
    )
    assert result.exit_code == 0 and f"witness {witness.name}: cosigned size 4" in result.output


def test_cosignatures_from_unknown_witnesses_or_forged_are_refused(client, app, witness):
    sign_and_confirm(client, "r@example.org")
    transparency.checkpoint(SLUG)
    cosigned = witness.cosign()
    refused = submit(client, cosigned)  # not configured yet
    assert (
        refused.status_code == 422 and b"no cosignature from a configured witness" in refused.data
    )
    add_witness(app, witness)
    body, lines = tlog_cosign.note_parts(cosigned)
    blob = bytearray(base64.b64decode(lines[-1].split(" ")[-1]))
    blob[-1] ^= 1
    forged = body + "\n" + lines[0] + "\n" + lines[-1].rsplit(" ", 1)[0] + " "
    forged += base64.b64encode(bytes(blob)).decode() + "\n"
    assert submit(client, forged).status_code == 422
    never = cosigned.replace(body.split("\n")[2], base64.b64encode(b"\x01" * 32).decode())
    response = submit(client, never)
    assert response.status_code == 422 and b"never signed that checkpoint" in response.data
    for junk in (
        "",
        "hello",
        "a\n\nb",
        "x\n99999999999999999999999\ny\n\n— a b\n",
        "x\n9999999999999999999\ny\n\n— a b\n",
    ):
        assert submit(client, junk).status_code == 422, junk
    assert db.session.scalar(select(func.count()).select_from(TlogCosignature)) == 0
    assert submit(client, cosigned).status_code == 200
    bad_key = app.test_cli_runner().invoke(args=["count", "witness", "add", "other", witness.vkey])
    assert bad_key.exit_code != 0 and "not 'other'" in bad_key.output


def test_a_forked_history_is_refused_by_the_witness_and_caught_by_the_verifier(
    client, app, witness, tmp_path, static_server
):
    """The compromised server hides a removal: it rewrites the leaves, re-signs a whole
    new checkpoint history with its own key, and serves it with the old cosignatures.
    Every internal check passes; only the witness catches it."""
    add_witness(app, witness)
    signatures = [sign_and_confirm(client, f"f{n}@example.org")[0] for n in range(4)]
    transparency.checkpoint(SLUG)
    assert submit(client, witness.cosign()).status_code == 200
    privacy.withdraw(signatures[0])
    transparency.checkpoint(SLUG)
    assert submit(client, witness.cosign()).status_code == 200

    root = tmp_path / "mirror"
    mirror(lambda path: client.get(path).data, root)
    log = root / SLUG / "log"
    entries = tlog.parse_entry_bundle((log / "tile/entries/000.p/5").read_bytes())
    entries = entries[:4] + [tlog.add_entry(b"\x33" * 32, "2026-01-01T00")]  # remove → add
    for name in ("tile/entries/000.p/5", "tile/0/000.p/5"):
        (log / name).unlink()
    (log / "tile/entries/000.p/5").write_bytes(tlog.entry_bundle(entries))
    leaves = [tlog.leaf_hash(e) for e in entries]
    (log / "tile/0/000.p/5").write_bytes(b"".join(leaves))
    listing = json.loads((log / "checkpoints").read_text())  # one page
    history = listing["checkpoints"]
    old_cosignature = history[-1]["note"].partition("\n\n")[2].splitlines()[-1]
    origin = f"petition.test/{SLUG}/log"
    forged = tlog_note.sign_note(
        tlog_note.checkpoint_body(origin, 5, tlog.root_hash(Tree(leaves), 5)),
        origin,
        tlog_keys.signing_key(),
    )
    history[-1]["note"] = forged + old_cosignature + "\n"  # the old line, pasted on
    (log / "checkpoints").write_text(json.dumps(listing))
    (log / "checkpoint").write_text(history[-1]["note"])
    api = root / "api/v1/petitions" / SLUG
    data = json.loads(api.read_text())
    api.write_text(json.dumps({**data, "total_signatures": 5}))
    proof = tlog.consistency_proof(Tree(leaves), 4, 5)
    (log / "proof/consistency/4").mkdir(parents=True)
    (log / "proof/consistency/4/5").write_text(
        "".join(base64.b64encode(h).decode() + "\n" for h in proof)
    )

    url = static_server(root) + f"/{SLUG}/"
    plain = verify(url, tlog_keys.verifier_key(SLUG))
    assert plain.ok, plain.problems  # the forgery is self-consistent
    with pytest.raises(AssertionError, match="refusing to cosign"):
        Witness(
            lambda path: (root / path.lstrip("/")).read_bytes(),
            witness.log_key,
            witness.name,
            witness.key,
            seen=witness.seen,
        ).cosign()
    report = verify(url, tlog_keys.verifier_key(SLUG), witnesses=[witness.vkey])
    assert not report.ok
    assert any(f"bad cosignature from {witness.name}" in p for p in report.problems)
    # Without the pasted line: the older, honest cosignature vouches only for size 4.
    for name in ("checkpoints", "checkpoint"):
        (log / name).write_text((log / name).read_text().replace(old_cosignature, ""))
    report = verify(url, tlog_keys.verifier_key(SLUG), witnesses=[witness.vkey])
    assert report.witnessed == {witness.name: 4}
    assert any(
        f"the latest checkpoint is not cosigned by witness {witness.name}" in p
        for p in report.problems
    ), report.problems
