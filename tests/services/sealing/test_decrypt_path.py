"""One decrypt path: only services/sealing/sealed.py opens personal data, each read for a reason."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import AuditEvent, Signature
from campaign.services.sealing import sealed
from tests.helpers import sign

PACKAGE = Path(__file__).resolve().parents[3] / "campaign"
LOW_LEVEL = {"decrypt_field", "field_decryptor", "decrypt", "signer_value"}
OWNER = "services/sealing/sealed.py"
# Modules that may call crypto's decrypt functions, and why.
ALLOWED = {
    "services/sealing/crypto.py": "defines them",
    OWNER: "the one decrypt path for personal data",
    "services/admins/totp.py": "organizers' own TOTP secrets: credentials, not personal data",
    # Issue 23: neither opens anything with a key the server holds.
    "services/sealing/organizer_key.py": (
        "HPKE open with the organizers' private key (offline tools)"
    ),
    "services/sealing/signer_copy.py": "the signer's copy, with the secret only their link carries",
}


def low_level_uses(source: str) -> list[str]:
    """Names of crypto's decrypt functions the module's code reaches (called, imported,
    or passed around), and any use of sealed's private proof of an audited look."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in LOW_LEVEL | {"_AUDITED"}:
            found.append(node.attr)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("crypto"):
            found += [alias.name for alias in node.names if alias.name in LOW_LEVEL]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").endswith("sealed"):
            found += [alias.name for alias in node.names if alias.name == "_AUDITED"]
    return found


def test_the_walk_finds_a_decrypt_call():
    assert low_level_uses("from . import crypto\nx = crypto.decrypt_field(t, column=c)") == [
        "decrypt_field"
    ]
    assert low_level_uses("from .crypto import field_decryptor as f") == ["field_decryptor"]
    assert low_level_uses("reason = Reason(Purpose.ORGANIZER, sealed._AUDITED)") == ["_AUDITED"]
    assert low_level_uses("x = sealed.unseal(sealed.PUBLIC, 'name', t, k)") == []


def test_no_module_but_the_owner_decrypts():
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = path.relative_to(PACKAGE).as_posix()
        if name == OWNER:
            continue
        uses = low_level_uses(path.read_text(encoding="utf-8"))
        if "_AUDITED" in uses or (uses and name not in ALLOWED):
            offenders[name] = uses
    assert offenders == {}, f"decrypt personal data through {OWNER}: {offenders}"


def test_a_reason_opens_only_its_fields(client, app):
    sign(client, name="Leila Hosseini", email="leila@example.org", comment="For my sister")
    with app.app_context():
        row = db.session.scalars(select(Signature)).one()
        assert sealed.unseal(sealed.DELIVERY, "name", row.name_enc, row.row_key) == (
            "Leila Hosseini"
        )
        for reason, column in (
            (sealed.DELIVERY, "email"),
            (sealed.PUBLIC, "email"),
            (sealed.Reason(sealed.Purpose.MODERATION), "comment"),
            (sealed.SIGNER_MAIL, "comment"),
        ):
            with pytest.raises(sealed.NotAllowed):
                sealed.unseal(reason, column, getattr(row, f"{column}_enc"), row.row_key)
        with pytest.raises(ValueError):
            sealed.unsealer(sealed.EXPORT, "dedup_key")


def test_an_organizers_view_opens_rows_only_after_its_audit_entry(client, app):
    sign(client, name="Dariush Kamali", email="dariush@example.org")
    with app.app_context():
        row = db.session.scalars(select(Signature)).one()
        # A reason made by hand, without the audit look(), opens nothing.
        forged = sealed.Reason(sealed.Purpose.ORGANIZER)
        with pytest.raises(sealed.NotAllowed):
            sealed.unseal(forged, "name", row.name_enc, row.row_key)
        before = db.session.scalar(select(func.count(AuditEvent.id)))
        reason = sealed.look(
            "signer.view", campaign_id=row.campaign_id, target="test", details={"rows": 1}
        )
        after = db.session.scalar(select(func.count(AuditEvent.id)))
        assert after == before + 1
        assert sealed.unseal(reason, "email", row.email_enc, row.row_key) == "dariush@example.org"


def test_a_bulk_rule_or_search_opens_and_matches_only_after_its_audit_entry(client, app):
    """The bulk rule's and the substring search's reasons were constants anyone could
    use without an audit entry (M1): now only `look()` makes them."""
    sign(client, name="Dariush Kamali", email="dariush@example.org")
    with app.app_context():
        row = db.session.scalars(select(Signature)).one()
        forged = sealed.Reason(sealed.Purpose.MODERATION)
        with pytest.raises(sealed.NotAllowed):
            sealed.unseal(forged, "name", row.name_enc, row.row_key)
        with pytest.raises(sealed.NotAllowed):
            sealed.require_look(forged, sealed.Purpose.MODERATION)
        reason = sealed.look(
            "signature.bulk_dry_run",
            campaign_id=row.campaign_id,
            target=None,
            details={},
            purpose=sealed.Purpose.MODERATION,
        )
        sealed.require_look(reason, sealed.Purpose.MODERATION)
        assert sealed.unseal(reason, "name", row.name_enc, row.row_key) == "Dariush Kamali"
        with pytest.raises(sealed.NotAllowed):
            sealed.unseal(reason, "email", row.email_enc, row.row_key)
        sealed.outcome(reason, {"matched": 1})
        entries = db.session.execute(
            select(AuditEvent.action, AuditEvent.target).order_by(AuditEvent.id)
        ).all()
        assert entries[-2:] == [
            ("signature.bulk_dry_run", None),
            ("signature.bulk_dry_run.result", f"audit:{reason.look.id}"),
        ]
