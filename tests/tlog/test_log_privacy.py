"""Attack: read every public log artifact looking for a signer. Nothing names one:
no name or email, and no hash of either (plain, keyed, hex or base64)."""

from __future__ import annotations

import base64
import hashlib
import json
import re

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Signature, TlogEntry
from campaign.services.log import receipts, tlog_store, transparency
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.sealing import crypto
from campaign.services.signatures import moderation
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_checks
from tests.helpers import SLUG
from tests.tlog.helpers import receipt_from, sign_and_confirm

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


# --- issue 25 §5: removals and restores --------------------------------------------


def entries() -> list[str]:
    cid = get_row(library().get(SLUG)).id
    rows = select(TlogEntry.data).where(TlogEntry.campaign_id == cid).order_by(TlogEntry.idx)
    return [bytes(d).decode() for d in db.session.scalars(rows)]


def receipt_check(client, receipt: str) -> str:
    page = client.post(f"/{SLUG}/log/verify", data={"receipt": receipt})
    assert page.status_code == 200
    return re.sub(r"\s+", " ", page.get_data(as_text=True))


def test_remove_leaf_names_its_add_and_reason(client, app):
    """Review finding: a remove leaf named the add it cancels and why (`remove 0
    withdrawn`), so whoever could place a person's add learned whether and when they
    left. Now a remove leaf is one commitment: no index, no reason; the holder of the
    receipt still learns that their add was removed, and the count still adds up."""
    people = [sign_and_confirm(client, f"p{n}@example.org") for n in range(4)]
    transparency.checkpoint(SLUG)
    privacy.withdraw(people[0][0])
    moderation.invalidate(people[1][0], "duplicate")
    moderation.bulk_invalidate(
        get_row(library().get(SLUG)).id,
        moderation.BulkRule(email_domain="example.org"),
        "bots",
        expected=2,
    )
    transparency.checkpoint(SLUG)
    log = entries()
    removes = [e for e in log if e.startswith("remove")]
    assert len(removes) == 4
    for entry in removes:
        assert re.fullmatch(r"remove [0-9a-f]{64}", entry), entry
    published = b"".join(artifacts(client).values())
    for word in (b"withdrawn", b"invalidated", b"erased", b"duplicate", b"bots"):
        assert word not in published
    report = tlog_checks.Report(SLUG)
    tlog_checks.check_entries([e.encode() for e in log], report)
    assert (report.adds, report.removes, report.problems) == (4, 4, [])
    for _signature, html in people:  # each holder, and only the holder, opens a removal
        assert "Removed from the count" in receipt_check(client, receipt_from(html))


def test_restore_re_adds_the_same_commitment(client, app):
    """Review finding: a restore re-added the same commitment, so the log showed one
    signature leaving and coming back. Now each restore's add carries the next restore
    counter: a fresh commitment, which the receipt check still finds."""
    signature, html = sign_and_confirm(client, "back@example.org")
    sign_and_confirm(client, "other@example.org")
    moderation.invalidate(signature, "mistake")
    moderation.restore(signature)
    moderation.invalidate(signature, "mistake again")
    transparency.checkpoint(SLUG)
    moderation.restore(signature)  # restored once the first restore is in the log
    transparency.checkpoint(SLUG)
    adds = [e.split(" ")[1] for e in entries() if e.startswith("add")]
    assert len(adds) == 4 and len(set(adds)) == 4
    secret = receipts.parse(receipt_from(html))
    assert adds[0] == tlog.commitment(secret).hex()
    assert adds[2:] == [tlog.commitment(secret, 1).hex(), tlog.commitment(secret, 2).hex()]
    assert "Your signature is counted" in receipt_check(client, receipt_from(html))
    check = tlog_store.check_receipt(get_row(library().get(SLUG)).id, secret)
    assert (check.state, check.index, check.restores) == ("included", 5, 2)
    moderation.invalidate(signature, "final")
    transparency.checkpoint(SLUG)
    assert entries()[-1] == tlog.remove_entry(tlog.removal(secret, 2)).decode()
    assert "Removed from the count" in receipt_check(client, receipt_from(html))


def test_verifier_refuses_a_reused_commitment_and_more_removes_than_adds():
    """adds − removes is the count only if every remove cancels something: more removes
    than adds at any point, or a commitment used twice (a restore that reused one, a
    removal counted twice), is a problem. An older log's legacy removes still verify."""
    secret = b"\x07" * 32
    add = tlog.add_entry(tlog.commitment(secret), "2026-12-06T08")
    gone = tlog.remove_entry(tlog.removal(secret))
    cases = {
        "reuses the commitment": [add, gone, add],
        "removes more than has been added": [gone, add],
        "reuses the commitment of entry 1": [add, gone, gone],
    }
    for problem, log in cases.items():
        report = tlog_checks.Report(SLUG)
        tlog_checks.check_entries(log, report)
        assert any(problem in p for p in report.problems), (problem, report.problems)
    legacy = tlog_checks.Report(SLUG)
    tlog_checks.check_entries([add, b"remove 0 withdrawn", add], legacy)
    assert (legacy.adds, legacy.removes, legacy.problems) == (2, 1, [])
