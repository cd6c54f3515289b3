"""The log pushes each checkpoint to its witnesses (C2SP tlog-witness) and publishes it
once enough cosigned it (issue 25, section 1), against witnesses written from the spec
(tests/tlog/witness/witness_server.py)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import delete, select

from campaign.extensions import db
from campaign.models import TlogCheckpoint, TlogCosignature
from campaign.services.log import tlog_keys, tlog_push, tlog_store, transparency
from campaign.services.pages.campaigns import get_row
from campaign.services.pages.content import library
from campaign.services.verifier import tlog_cosign
from campaign.services.verifier.tlog_verify import verify
from tests.helpers import SLUG, free_port, sign
from tests.tlog.helpers import sign_and_confirm
from tests.tlog.witness.witness_server import SpecWitness


@pytest.fixture
def witnesses(app):
    """Three witnesses of this log: cosignature/v1, plain Ed25519, and one that is down."""
    log_key = tlog_keys.verifier_key(SLUG)
    made = [SpecWitness("w1.test/a", [log_key]), SpecWitness("w2.test/b", [log_key], plain=True)]
    urls = [w.start() for w in made]
    down = SpecWitness("w3.test/down", [log_key])
    urls.append(f"http://127.0.0.1:{free_port()}/w")  # nothing listens there
    made.append(down)
    app.config["TLOG_WITNESSES"] = "\n".join(
        f"{u} {w.vkey}" for u, w in zip(urls, made, strict=True)
    )
    app.config["TLOG_WITNESS_THRESHOLD"] = 2
    app.config["TLOG_WITNESS_TIMEOUT"] = 1
    tlog_push._last_push.clear()
    yield made
    for witness in made:
        witness.stop()


def campaign_id() -> int:
    return get_row(library().get(SLUG)).id


def published() -> list[int]:
    return [c.size for c in tlog_store.all_checkpoints(campaign_id())]


def test_each_checkpoint_is_pushed_and_published_once_two_witnesses_cosign(client, app, witnesses):
    w1, w2, w3 = witnesses
    sign_and_confirm(client, "push1@example.org")
    assert w1.requests == [] and w2.requests == []  # signing and confirming pushed nothing
    transparency.publish_due(force_checkpoint=True)
    assert published() == [1]
    assert w1.requests[0].startswith("old 0\n\n")  # the first push: no proof
    note = client.get(f"/{SLUG}/log/checkpoint").get_data(as_text=True)
    assert tlog_cosign.cosigned_by(note, w1.vkey) > time.time() - 60
    assert tlog_cosign.cosigned_by(note, w2.vkey) == 0  # plain Ed25519: undated
    sign_and_confirm(client, "push2@example.org")
    sign_and_confirm(client, "push3@example.org")
    transparency.publish_due(force_checkpoint=True)
    assert published() == [1, 3]
    # The second push carried the RFC 6962 proof from the size each witness held.
    old, *proof = w1.requests[-1].split("\n\n")[0].split("\n")
    assert old == "old 1" and len(proof) == 2


def test_the_verifier_counts_witnesses_to_its_threshold(client, app, witnesses, live_server):
    w1, w2, w3 = witnesses
    sign_and_confirm(client, "verify@example.org")
    transparency.publish_due(force_checkpoint=True)
    server = live_server(TLOG_ORIGIN="petition.test")
    url = f"{server.url}/{SLUG}/"
    key = tlog_keys.verifier_key(SLUG)
    all_three = [w.vkey for w in witnesses]
    assert not verify(url, key, witnesses=all_three).ok  # w3 never cosigned
    report = verify(url, key, witnesses=all_three, threshold=2, max_age=3600)
    assert report.ok, report.problems
    report = verify(url, key, witnesses=[w2.vkey], max_age=3600)
    assert any("may be frozen" in p for p in report.problems)  # Ed25519 dates nothing


def test_until_the_threshold_the_previous_checkpoint_stays_current(client, app, witnesses):
    w1, w2, w3 = witnesses
    sign_and_confirm(client, "keep1@example.org")
    transparency.publish_due(force_checkpoint=True)
    assert published() == [1]
    w2.stop()  # now only one witness answers: below the threshold of two
    sign_and_confirm(client, "keep2@example.org")
    transparency.publish_due(force_checkpoint=True)
    assert published() == [1]
    assert tlog_store.latest_signed(campaign_id()).size == 2
    served = client.get(f"/{SLUG}/log/checkpoint").get_data(as_text=True)
    assert served.split("\n")[1] == "1"
    assert client.get(f"/{SLUG}/log/bundle/1").status_code == 404
    back = w2.start()  # the witness is back, at a new address
    configured = app.config["TLOG_WITNESSES"]
    app.config["TLOG_WITNESSES"] = configured.replace(configured.split("\n")[1].split(" ")[0], back)
    tlog_push._last_push.clear()  # as RETRY_SECONDS later
    transparency.publish_due()
    assert published() == [1, 2]


def test_a_witness_that_answers_409_is_asked_again_from_its_own_size(client, app, witnesses):
    w1, w2, w3 = witnesses
    sign_and_confirm(client, "conflict1@example.org")
    transparency.publish_due(force_checkpoint=True)
    # The log forgets what the witnesses cosigned (a restored backup, say).
    db.session.execute(delete(TlogCosignature))
    db.session.commit()
    sign_and_confirm(client, "conflict2@example.org")
    transparency.publish_due(force_checkpoint=True)
    assert published() == [1, 2]
    bodies = [r.split("\n", 1)[0] for r in w1.requests]
    assert bodies == ["old 0", "old 0", "old 1"]  # 409 "1", then from size 1


def test_a_slow_witness_holds_up_nothing_but_its_own_cosignature(client, app, witnesses):
    w1, w2, w3 = witnesses
    w2.delay = 5  # over TLOG_WITNESS_TIMEOUT
    sign_and_confirm(client, "slow@example.org")
    started = time.monotonic()
    transparency.publish_due(force_checkpoint=True)
    assert time.monotonic() - started < 4  # the witnesses are asked at once, with a timeout
    assert published() == []  # one cosignature of the two needed


def test_a_push_to_a_slow_witness_stalls_signing(client, app, witnesses):
    """Found by bench/tlog_push.py: the worker's push flushed the witness rows (on SQLite,
    the database's write lock) and kept that transaction open while the witnesses took
    their time, so every signature and confirmation waited as long as the slowest
    witness. Now no transaction is open while witnesses answer."""
    w1, w2, w3 = witnesses
    w1.delay = w2.delay = 4
    app.config["TLOG_WITNESS_TIMEOUT"] = 6
    sign_and_confirm(client, "before@example.org")

    def tick() -> None:
        with app.app_context():
            transparency.publish_due(force_checkpoint=True)

    worker = threading.Thread(target=tick)
    worker.start()
    assert w1.asked.wait(10)  # the push is waiting on the witnesses now
    started = time.monotonic()
    assert sign(client, email="during@example.org").status_code == 303
    waited = time.monotonic() - started
    worker.join()
    assert waited < 2, f"signing waited {waited:.1f} s for a witness"
    assert published() == [1]


def test_the_cosignature_endpoint_takes_a_witness_reply(client, app, witnesses):
    """Issue 25: the log's own endpoint refused a standard witness reply (422)."""
    w1, w2, w3 = witnesses
    app.config["TLOG_WITNESSES"] = ""
    app.config["TLOG_WITNESS_THRESHOLD"] = 0
    app.test_cli_runner().invoke(args=["count", "witness", "add", w1.name, w1.vkey])
    sign_and_confirm(client, "reply@example.org")
    note = transparency.checkpoint(SLUG)
    status, _, reply = w1.add_checkpoint(f"old 0\n\n{note}".encode())
    assert status == 200 and reply.startswith("— w1.test/a ".encode())
    response = client.post(
        f"/{SLUG}/log/cosignature", data=reply, headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 200 and response.data == b"stored 1\n"
    rows = db.session.scalars(select(TlogCheckpoint)).all()
    assert len(rows) == 1 and rows[0].published_at is not None
