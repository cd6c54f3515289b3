"""Exports through the admin and the CLI: downloads, audit entries, role limits."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import AuditEvent, Signature
from tests.admin.helpers import make_signature, token_for
from tests.helpers import SLUG


def export_events() -> list[dict]:
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export"))
    return [{"actor": e.actor_email, **json.loads(e.details)} for e in events]


def test_each_preset_downloads_and_is_audited(app, users, as_role):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Reza Karimi", "reza@example.net", "FR", contact=False).delivery_consent = True
    db.session.commit()
    client = as_role("organizer")
    token = token_for(client, f"/admin/{SLUG}/export")
    expected = {"mailing": 1, "delivery": 1, "full": 2}
    for preset, rows in expected.items():
        response = client.post(
            f"/admin/{SLUG}/export", data={"csrf_token": token, "preset": preset, "format": "csv"}
        )
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert response.headers["Cache-Control"] == "no-store"
        data = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert len(data) == rows, preset
    jsonl = client.post(
        f"/admin/{SLUG}/export",
        data={"csrf_token": token, "preset": "full", "format": "jsonl", "country": "FR"},
    )
    lines = jsonl.get_data(as_text=True).splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["family_name"] == "Karimi"
    summary = client.post(
        f"/admin/{SLUG}/export",
        data={"csrf_token": token, "preset": "delivery", "format": "summary-json"},
    )
    assert json.loads(summary.get_data(as_text=True))["total_signatures"] == 2
    events = export_events()
    assert [(e["preset"], e["rows"]) for e in events[:3]] == [
        ("mailing", 1),
        ("delivery", 1),
        ("full", 2),
    ]
    assert events[3]["filters"] == {"country": "FR"} and events[3]["format"] == "jsonl"
    assert all(e["actor"] == "organizer@admin.test" for e in events)


def test_bad_export_request_is_a_clear_4xx(app, users, as_role):
    client = as_role("owner")
    token = token_for(client, f"/admin/{SLUG}/export")
    response = client.post(
        f"/admin/{SLUG}/export", data={"csrf_token": token, "preset": "everything", "format": "csv"}
    )
    assert response.status_code == 422
    response = client.post(
        f"/admin/{SLUG}/export",
        data={"csrf_token": token, "preset": "full", "format": "csv", "since": "last week"},
    )
    assert response.status_code == 422 and "must be a date" in response.get_data(as_text=True)
    assert export_events() == []


def test_cli_export_writes_the_same_file_and_is_audited(app, tmp_path):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Evil Name", "evil@example.org", "DE", raw_name="=cmd|' /C calc'!A0")
    db.session.execute(update(Signature).values(delivery_consent=True))  # named in a delivery
    db.session.commit()
    out = tmp_path / "delivery.csv"
    result = app.test_cli_runner().invoke(
        args=[
            "export",
            "--campaign",
            SLUG,
            "--preset",
            "delivery",
            "--format",
            "csv",
            "--excel",
            "--output",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [r["name"] for r in rows] == ["Maryam Ahmadi", "'=cmd|' /C calc'!A0"]
    [event] = export_events()
    assert event["via"] == "cli" and event["actor"] == "cli" and event["rows"] == 2
    stdout = app.test_cli_runner().invoke(
        args=["export", "--campaign", SLUG, "--format", "summary-json"]
    )
    assert json.loads(stdout.stdout)["total_signatures"] == 2  # progress is on stderr
    bad = app.test_cli_runner().invoke(args=["export", "--campaign", "nope"])
    assert bad.exit_code != 0 and "no campaign" in bad.output
