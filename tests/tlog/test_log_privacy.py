"""Attack: read every public log artifact looking for a signer. Nothing names one:
no name or email, and no hash of either (plain, keyed, hex or base64)."""

from __future__ import annotations

import base64
import hashlib
import json

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature
from campaign.services import crypto, privacy, tlog, transparency
from tests.helpers import SLUG
from tests.tlog.helpers import sign_and_confirm

SIGNERS = [
    ("Shirin Rahimi", "shirin.rahimi@example.org"),
    ("Kaveh Farahani", "kaveh@example.net"),
    ("Leila Moradi", "leila.m@example.com"),
]


def forms(value: str) -> list[bytes]:
    """The value and every hash of it someone might try, as text and as raw bytes."""
    out = []
    for variant in {value, value.lower(), value.casefold(), value.split("@")[-1]}:
        data = variant.encode()
        out.append(data)
        for name in ("md5", "sha1", "sha256", "sha512"):
            digest = hashlib.new(name, data).digest()
            out += [digest, digest.hex().encode(), base64.b64encode(digest).rstrip(b"=")]
    return out


def artifacts(client) -> dict[str, bytes]:
    prefix = f"/{SLUG}/log/"
    found = {p: client.get(prefix + p).data for p in ("checkpoint", "checkpoints", "key")}
    sizes = [c["size"] for c in json.loads(found["checkpoints"])["checkpoints"]]
    size = sizes[-1]
    for old, new in zip(sizes, sizes[1:], strict=False):  # the consistency proofs
        path = f"proof/consistency/{old}/{new}"
        found[path] = client.get(prefix + path).data
    for level, n, width in tlog.tiles_for(size):
        path = tlog.tile_path(level, n, width)
        found[path] = client.get(prefix + path).data
        if level == 0:
            path = tlog.tile_path("entries", n, width)
            found[path] = client.get(prefix + path).data
    return found


def test_public_log_artifacts_reveal_no_signer_name_email_or_hash_of_either(client, app):
    signatures = [sign_and_confirm(client, email, name)[0] for name, email in SIGNERS]
    transparency.checkpoint(SLUG)
    privacy.withdraw(signatures[0])
    transparency.checkpoint(SLUG)
    keyed = []
    for row in db.session.scalars(select(Signature)):
        keyed += [
            v.encode()
            for v in (row.dedup_key, row.email_domain_hash, row.ip_hash, row.link_nonce)
            if v
        ]
    for name, email in SIGNERS:
        keyed += [
            crypto.keyed_hash(p, v).encode()
            for p in ("email", "dedup", "name")
            for v in (name, email)
        ]
    needles = [n for name, email in SIGNERS for n in forms(name) + forms(email)] + keyed
    published = artifacts(client)
    assert len(published) >= 6 and any(p.startswith("proof/") for p in published)
    for path, blob in published.items():
        for needle in needles:
            assert needle not in blob, (path, needle)
        for word in (w for name, _ in SIGNERS for w in name.split()):
            assert word.encode().lower() not in blob.lower(), (path, word)
