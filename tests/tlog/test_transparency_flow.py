"""The log follows the count: adds on confirm, removes on withdraw/invalidate/erase,
re-adds on restore; checkpoints, tiles, receipts and the verify page."""

from __future__ import annotations

import base64
import logging
import re

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import OutboxMessage, TlogEntry, TlogPending
from campaign.services.intake import links
from campaign.services.log import tlog_keys, tlog_pending, tlog_store, transparency
from campaign.services.outbox import mail_worker
from campaign.services.pages import counting
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.signatures import moderation
from campaign.services.signer_data import privacy
from campaign.services.verifier import tlog, tlog_note
from tests.helpers import SLUG, deliver, sign
from tests.tlog.helpers import receipt_from, sign_and_confirm


def campaign_id() -> int:
    return get_row(library().get(SLUG)).id


def entries() -> list[str]:
    return [
        bytes(d).decode()
        for d in db.session.scalars(
            select(TlogEntry.data)
            .where(TlogEntry.campaign_id == campaign_id())
            .order_by(TlogEntry.idx)
        )
    ]


def test_confirm_queues_an_add_in_the_same_transaction_and_publish_appends_it(client, app):
    signature, html = sign_and_confirm(client, "first@example.org")
    assert db.session.scalar(select(func.count()).select_from(TlogPending)) == 1
    assert "Your receipt" in receipt_from(html) or receipt_from(html)
    assert transparency.publish(campaign_id()) == 1
    [entry] = entries()
    assert re.fullmatch(r"add [0-9a-f]{64} \d{4}-\d\d-\d\dT\d\d", entry)
    assert db.session.scalar(select(func.count()).select_from(TlogPending)) == 0


def test_count_in_the_log_equals_the_page_count_through_every_change(client, app):
    one, _ = sign_and_confirm(client, "one@example.org")
    two, _ = sign_and_confirm(client, "two@example.org")
    three, _ = sign_and_confirm(client, "three@example.org")
    four, _ = sign_and_confirm(client, "four@example.org")
    privacy.withdraw(one)
    moderation.invalidate(two, "bot")
    moderation.restore(two)
    moderation.erase(three)  # an organizer's erasure keeps the signature counted
    note = transparency.checkpoint(library().get(SLUG))
    cid = campaign_id()
    assert counting.confirmed_count(cid, fresh=True) == 3 == tlog_store.log_count(cid)
    kinds = [e.split(" ")[0] for e in entries()]
    assert kinds == ["add", "add", "add", "add", "remove", "remove", "add"]
    # the restored signature's new add carries a new commitment (issue 25 §5)
    assert entries()[6].split(" ")[1] != entries()[1].split(" ")[1]
    origin, size, _ = tlog_note.open_checkpoint(note, tlog_keys.verifier_key(SLUG))
    assert (origin, size) == (f"petition.test/{SLUG}/log", 7)


def test_bulk_invalidation_appears_as_numbers_without_names(client, app):
    sign_and_confirm(client, "a@bots.example", name="Bot One")
    sign_and_confirm(client, "b@bots.example", name="Bot Two")
    sign_and_confirm(client, "real@example.org")
    moderation.bulk_invalidate(
        campaign_id(), moderation.BulkRule(email_domain="bots.example"), "bots", expected=2
    )
    transparency.checkpoint(SLUG)
    assert [e.split(" ")[0] for e in entries()].count("remove") == 2
    assert tlog_store.log_count(campaign_id()) == 1


def test_thank_you_page_shows_the_receipt_and_the_mail_brings_it(client, app, mailbox):
    signature, html = sign_and_confirm(client, "receipt@example.org")
    receipt = receipt_from(html)
    # No leaf index, ever: a held signature has none, and the page must not tell (L1).
    assert receipt.startswith(f"petition.test/{SLUG}/log - ")
    assert 'src="data:image/svg+xml' in html
    transparency.checkpoint(SLUG)
    [mailed] = [m for m in db.session.scalars(select(OutboxMessage.kind))][-1:]
    assert mailed == "receipt"
    deliver(app)
    [message] = [m for m in mailbox.to("receipt@example.org") if "receipt" in m["Subject"].lower()]
    body = message.get_body(("plain",)).get_content()
    secret = receipt.split(" ")[-1]
    assert f"petition.test/{SLUG}/log - {secret}" in body
    assert f"/{SLUG}/log/verify" in body
    assert mailbox.links(message, "withdraw") and mailbox.links(message, "my-data")
    # the thank-you page, seen again, shows the same receipt once appended
    token = links.make_token(signature, "confirm")
    again = client.get(f"/{SLUG}/confirm/{token}").get_data(as_text=True)
    assert receipt_from(again) == receipt


def test_verify_page_says_included_then_removed(client, app):
    signature, html = sign_and_confirm(client, "check@example.org")
    receipt = receipt_from(html)
    transparency.checkpoint(SLUG)
    page = client.post(f"/{SLUG}/log/verify", data={"receipt": receipt})
    assert page.status_code == 200
    assert "Your signature is counted" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    privacy.withdraw(signature)
    transparency.checkpoint(SLUG)
    page = client.post(f"/{SLUG}/log/verify", data={"receipt": receipt.split(" ")[-1]})
    assert "Removed from the count" in page.get_data(as_text=True)
    bad = client.post(f"/{SLUG}/log/verify", data={"receipt": "nonsense"})
    assert bad.status_code == 422


def test_tiles_and_entries_are_served_as_c2sp_static_resources(client, app):
    for n in range(3):
        sign_and_confirm(client, f"t{n}@example.org")
    transparency.checkpoint(SLUG)
    checkpoint = client.get(f"/{SLUG}/log/checkpoint")
    assert (
        checkpoint.mimetype == "text/plain" and "max-age=5" in checkpoint.headers["Cache-Control"]
    )
    tile = client.get(f"/{SLUG}/log/tile/0/000.p/3")
    assert tile.status_code == 200 and len(tile.data) == 96
    assert "immutable" in tile.headers["Cache-Control"]
    bundle = client.get(f"/{SLUG}/log/tile/entries/000.p/3")
    assert [tlog.leaf_hash(e) for e in tlog.parse_entry_bundle(bundle.data)] == [
        tile.data[i : i + 32] for i in range(0, 96, 32)
    ]
    # beyond the checkpoint, malformed or full-but-partial: 404, never a 500
    for path in (
        "tile/0/000.p/4",
        "tile/0/000",
        "tile/0/0",
        "tile/0/000.p/0",
        "tile/99/000",
        "tile/entries/x1/000",
        "tile/1/000.p/1",
    ):
        assert client.get(f"/{SLUG}/log/{path}").status_code == 404, path


def test_campaign_page_publishes_the_verifier_key(client, app):
    body = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert tlog_keys.verifier_key(SLUG) in body


def test_backfill_logs_signatures_counted_before_the_log_existed(client, app):
    sign_and_confirm(client, "early@example.org")
    sign_and_confirm(client, "early2@example.org")
    db.session.execute(TlogPending.__table__.delete())  # as if confirmed before the log
    db.session.commit()
    assert tlog_pending.backfill(campaign_id()) == 2
    assert tlog_pending.backfill(campaign_id()) == 0  # queued already: not twice
    transparency.checkpoint(SLUG)
    assert tlog_pending.backfill(campaign_id()) == 0  # appended: not twice either
    assert tlog_store.log_count(campaign_id()) == 2


def test_cli_publish_and_verify_receipt(client, app):
    signature, html = sign_and_confirm(client, "cli@example.org")
    runner = app.test_cli_runner()
    published = runner.invoke(args=["count", "publish"])
    assert published.exit_code == 0 and f"{SLUG}: size 1, count 1" in published.output
    result = runner.invoke(args=["count", "verify-receipt", SLUG], input=receipt_from(html) + "\n")
    assert result.exit_code == 0, result.output
    assert "included and not removed" in result.output
    assert "proof verified against the signed checkpoint" in result.output
    privacy.withdraw(signature)
    runner.invoke(args=["count", "publish"])
    result = runner.invoke(args=["count", "verify-receipt", SLUG], input=receipt_from(html) + "\n")
    assert result.exit_code == 0, result.output
    assert "removed by leaf 1: the receipt opens its commitment" in result.output


def test_receipt_check_is_not_logged(client, app, caplog):
    """Attack: read the server's logs for the receipts people checked."""
    signature, html = sign_and_confirm(client, "quiet@example.org")
    transparency.checkpoint(SLUG)
    secret = receipt_from(html).split(" ")[-1]
    with caplog.at_level(logging.DEBUG):
        response = client.post(f"/{SLUG}/log/verify", data={"receipt": secret})
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert secret not in caplog.text
    assert client.get(f"/{SLUG}/log/verify?receipt={secret}").status_code == 200  # a GET ignores it
    assert secret not in client.get(f"/{SLUG}/log/verify").get_data(as_text=True)


def test_mail_worker_appends_and_checkpoints(client, app):
    sign_and_confirm(client, "worker@example.org")
    result = app.test_cli_runner().invoke(args=["mail", "work", "--once"])
    assert result.exit_code == 0, result.output
    assert tlog_store.latest_checkpoint(campaign_id()).size == 1


def test_a_failing_log_tick_does_not_stop_mail_delivery(client, app, mailbox):
    def broken() -> None:
        raise RuntimeError("log unavailable")

    sign(client, email="still@example.org")
    assert mail_worker.work(once=True, tick=broken) == 1
    assert mailbox.to("still@example.org")


def test_keygen_prints_a_key_and_key_prints_the_published_verifier_key(client, app):
    client.get(f"/{SLUG}/")  # the campaign's row
    runner = app.test_cli_runner()
    printed = runner.invoke(args=["count", "keygen", "--print-only"]).output.strip()
    assert len(base64.b64decode(printed)) == 32
    shown = runner.invoke(args=["count", "key"]).output
    assert f"{SLUG}: {tlog_keys.verifier_key(SLUG)}" in shown
