""" "Counted" has one definition (`models.is_counted`, `Signature.counted` in SQL): the
page, the API, the exports, the delivery pack and the public log agree on it."""

from __future__ import annotations

import re

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Campaign, Signature
from campaign.services.exports import export_presets, export_signers, export_summary, pack_numbers
from campaign.services.intake import links
from campaign.services.log import tlog_store, transparency
from campaign.services.pages import cache, counting, stats
from campaign.services.pages.content import library
from campaign.services.signatures import moderation
from campaign.services.signer_data import privacy
from campaign.services.signer_data.signers import SignerFilter
from tests.helpers import SLUG, sign


def newest() -> Signature:
    return db.session.scalars(select(Signature).order_by(Signature.id.desc()).limit(1)).one()


def confirm(client, signature: Signature) -> None:
    token = links.make_token(signature, "confirm")
    # The owner leaves the delivery box ticked: every signer here is named in the pack.
    response = client.post(f"/{SLUG}/confirm/{token}", data={"delivery_consent": "y"})
    assert response.status_code in (200, 303)


def signed(client, email: str, *, confirmed: bool = True) -> Signature:
    assert sign(client, email=email, delivery_consent="y").status_code == 303
    signature = newest()
    if confirmed:
        confirm(client, signature)
    db.session.expire_all()
    return db.session.get(Signature, signature.id)


def test_every_reader_of_counted_agrees(client, app):
    for n in range(3):
        signed(client, f"counted{n}@example.org")
    signed(client, "pending@example.org", confirmed=False)
    privacy.withdraw(signed(client, "withdrawn@example.org"))
    moderation.invalidate(signed(client, "invalid@example.org"), "bot")
    # Confirmed but flagged (the honeypot field filled in): held back from the count.
    assert (
        sign(client, email="bot@example.org", website="x", delivery_consent="y").status_code == 303
    )
    confirm(client, newest())
    db.session.expire_all()

    rows = db.session.scalars(select(Signature)).all()
    states = sorted((s.status, s.flagged) for s in rows)
    assert states == sorted(
        [("confirmed", False)] * 3
        + [("pending", False), ("withdrawn", False), ("invalidated", False)]
        + [("confirmed", True)]
    )
    # The rule on a row and the rule in SQL pick the same signatures.
    in_python = {s.id for s in rows if s.counted}
    in_sql = set(db.session.scalars(select(Signature.id).where(Signature.counted)))
    assert in_python == in_sql and len(in_sql) == 3

    content = library().get(SLUG)
    campaign = db.session.scalars(select(Campaign).where(Campaign.slug == SLUG)).one()
    cache.signatures_changed()
    page = client.get(f"/{SLUG}/").get_data(as_text=True)
    on_page = int(re.search(r'<p class="count"><strong>([^<]+)</strong>', page).group(1))
    api = client.get(f"/api/v1/petitions/{SLUG}").get_json()["total_signatures"]
    delivery_rows = export_presets.count_rows(campaign.id, "delivery", SignerFilter())
    csv_text = "".join(export_signers.export_csv(campaign.id, "delivery", SignerFilter()))
    summary = export_summary.summary(content, campaign)["total_signatures"]
    pack = pack_numbers.gather(campaign)
    transparency.checkpoint(content)
    logged = tlog_store.log_count(campaign.id)
    totals = stats.totals(campaign.id)
    assert (
        on_page
        == api
        == delivery_rows
        == len(csv_text.strip().splitlines()) - 1
        == summary
        == pack.total
        == pack.named
        == logged
        == totals.confirmed
        == counting.counted_in_table(campaign.id)
        == 3
    )
    assert totals.flagged == 1 and totals.pending == 1
    assert totals.withdrawn == 1 and totals.invalidated == 1
