"""A receipt's evidence bundle: served by leaf index, linked from the thank-you page and
the receipt mail, checked offline by `flask count verify-receipt FILE` (issue 25, §4)."""

from __future__ import annotations

import base64
import json

from campaign.services.log import tlog_keys, transparency
from campaign.services.verifier import tlog
from tests.helpers import SLUG
from tests.tlog.helpers import receipt_from, sign_and_confirm


def test_a_bundle_proves_the_receipts_leaf_offline(client, app, tmp_path):
    signature, html = sign_and_confirm(client, "evidence@example.org")
    receipt = receipt_from(html)
    assert client.get(f"/{SLUG}/log/bundle/0").status_code == 404  # not yet checkpointed
    transparency.checkpoint(SLUG)
    response = client.get(f"/{SLUG}/log/bundle/0")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    path = tmp_path / "bundle.json"
    path.write_bytes(response.data)
    runner = app.test_cli_runner()
    key = tlog_keys.verifier_key(SLUG)
    result = runner.invoke(
        args=["count", "verify-receipt", str(path), "--key", key, "--receipt", receipt]
    )
    assert result.exit_code == 0, result.output
    assert "OK: the leaf is in the signed log" in result.output
    assert f"{SLUG}/log" in result.output and "leaf 0: add" in result.output
    # Someone else's receipt does not open this leaf.
    other = receipt[:-43] + base64.urlsafe_b64encode(b"\x01" * 32).decode().rstrip("=")
    result = runner.invoke(args=["count", "verify-receipt", str(path), "--receipt", other])
    assert result.exit_code == 1 and "does not open this leaf" in result.output
    # A changed entry breaks the proof; another key breaks the checkpoint.
    bundle = json.loads(path.read_text())
    bundle["entry"] = base64.b64encode(tlog.add_entry(b"\x02" * 32, "2026-01-01T00")).decode()
    path.write_text(json.dumps(bundle))
    result = runner.invoke(args=["count", "verify-receipt", str(path), "--key", key])
    assert result.exit_code == 1 and "not in the signed tree" in result.output


def test_the_thank_you_page_downloads_the_evidence_once_checkpointed(client, app):
    """The page offers the same form to every signer (issue 21, L1: a held signer's page
    is no different); the receipt goes by POST, never in a URL."""
    signature, html = sign_and_confirm(client, "page@example.org")
    assert 'name="download" value="1"' in html and receipt_from(html) in html
    form = {"receipt": receipt_from(html), "download": "1"}
    transparency.publish(signature.campaign_id)  # appended; no checkpoint covers it yet
    early = client.post(f"/{SLUG}/log/verify", data=form)
    assert early.status_code == 200 and early.mimetype == "text/html"
    transparency.checkpoint(SLUG)
    response = client.post(f"/{SLUG}/log/verify", data=form)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert json.loads(response.data)["index"] == 0
