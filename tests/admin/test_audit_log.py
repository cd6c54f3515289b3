"""The audit log reads as sentences (who did what, to what, how many) and filters by
person, action and day (issue 24, item 12)."""

from __future__ import annotations

import re
from datetime import timedelta

from campaign.extensions import db
from campaign.models import utcnow
from campaign.services.sealing import audit
from tests.admin.helpers import campaign_row, make_signature
from tests.helpers import SLUG, deliver, hidden_fields


def sentences(client, query: str = "") -> list[str]:
    page = client.get(f"/admin/audit{query}").get_data(as_text=True)
    cells = re.findall(r'<td class="sentence">(.*?)</td>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in cells]


def busy_day(app, as_role) -> tuple:
    """An organizer searches, opens a signer and mails an update; the owner reads the log."""
    first = make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Nima Rahimi", "nima@example.org", "IR", language="fa")
    make_signature("Claire Martin", "claire@example.org", "FR", language="fr")
    organizer = as_role("organizer")
    organizer.get(f"/admin/{SLUG}/signers?q=Maryam+Ahmadi")
    organizer.get(f"/admin/{SLUG}/signers/{first.id}")
    form = hidden_fields(organizer.get(f"/admin/{SLUG}/updates").get_data(as_text=True))
    organizer.post(
        f"/admin/{SLUG}/updates",
        data={**form, "step": "publish", "send": "y", "title_en": "We met the UN", "body_en": "…"},
    )
    assert deliver(app) == 1
    return as_role("owner"), first


def test_audit_entries_read_as_sentences_naming_who_what_and_how_many(app, users, as_role):
    owner, first = busy_day(app, as_role)
    said = sentences(owner)
    assert "organizer@admin.test searched the signers of petition by name: 1 found." in [
        s.replace(SLUG, "petition") for s in said
    ]
    assert f"organizer@admin.test looked at the page of signer #{first.id}." in said
    assert (
        f"organizer@admin.test posted the update “We met the UN” in English on {SLUG}, "
        "to be mailed to 1 signer (2 not mailed: no text in their language)." in said
    )
    assert (
        f"mail worker mailed the update “We met the UN” on {SLUG} to 1 signer (English); "
        "2 not mailed: no text in their language." in said
    )
    # No raw entries: no key=value pairs, no Python None, no nameless "Someone".
    for sentence in said:
        assert "=" not in sentence and "None" not in sentence and "Someone" not in sentence
        assert sentence.endswith("."), sentence


def test_audit_log_filters_by_person_action_and_day(app, users, as_role):
    owner, _first = busy_day(app, as_role)
    page = owner.get("/admin/audit").get_data(as_text=True)
    assert '<option value="organizer@admin.test"' in page and 'name="since"' in page
    mine = sentences(owner, "?actor=organizer%40admin.test")
    assert mine and all(s.startswith("organizer@admin.test ") for s in mine)
    mailed = sentences(owner, "?action=update.mailed")
    assert len(mailed) == 1 and mailed[0].startswith("mail worker mailed")
    today = utcnow().date()
    assert sentences(owner, f"?actor=mail+worker&since={today}&until={today}") == mailed
    yesterday = today - timedelta(days=1)
    assert sentences(owner, f"?until={yesterday}") == []
    assert sentences(owner, f"?since={today + timedelta(days=1)}") == []


def test_a_bad_day_in_the_audit_filter_is_a_400(app, users, as_role):
    owner = as_role("owner")
    assert owner.get("/admin/audit?since=yesterday").status_code == 400
    assert owner.get("/admin/audit?until=2026-13-45").status_code == 400


def test_audit_counts_take_their_plural(app, users, as_role):
    """ "invalidated 1 signatures in bulk", "exported 1 signers": each count its plural,
    in French too (three forms: 0 and 1 singular)."""
    row = campaign_row()
    for rows in (1, 3):
        audit.record(
            "export",
            actor_email="organizer@admin.test",
            campaign_id=row.id,
            details={"preset": "full", "format": "csv", "rows": rows},
        )
        audit.record(
            "signature.bulk_invalidate",
            actor_email="organizer@admin.test",
            campaign_id=row.id,
            details={"rule": {"email_domain": "x.example"}, "reason": "bots", "rows": rows},
        )
    db.session.commit()
    owner = as_role("owner")
    said = " ".join(sentences(owner))
    for rows, noun in ((1, "signer"), (3, "signers")):
        assert f"exported {rows} {noun} (full preset, CSV) from {SLUG}." in said
    assert "invalidated 1 signature in bulk" in said and "invalidated 3 signatures in bulk" in said
    assert "1 signers" not in said and "1 signatures" not in said
    french = " ".join(sentences(owner, "?lang=fr"))
    assert "a exporté 1 signataire (" in french and "a exporté 3 signataires (" in french
    assert "a invalidé 1 signature en bloc" in french
