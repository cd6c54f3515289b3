"""The audit log, for owners."""

from __future__ import annotations

import json

from flask import render_template, request
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign
from ..services import audit
from ..services.validation import parse_id
from . import bp
from .auth import role_required


@bp.get("/audit")
@role_required("owner")
def audit_page():
    before = request.args.get("before", "")
    action = (request.args.get("action") or "").strip()[:64] or None
    events = audit.read(101, parse_id(before), action)  # an audited look
    more = len(events) > 100
    events = events[:100]
    rows = [(e, json.loads(e.details) if e.details else {}) for e in events]
    # Targets link to their pages: a signature's page needs its campaign's slug.
    slugs = dict(db.session.execute(select(Campaign.id, Campaign.slug)).all())
    return render_template(
        "admin/audit.html",
        rows=rows,
        action=action or "",
        slugs=slugs,
        actions=AUDIT_ACTIONS,
        next_id=events[-1].id if more and events else None,
    )


# Every action the code records, for the filter's list (labels are in the template).
AUDIT_ACTIONS = (
    "export",
    "signature.invalidate",
    "signature.bulk_invalidate",
    "signature.bulk_dry_run",
    "signature.bulk_dry_run.result",
    "signature.bulk_match",
    "signature.bulk_match.result",
    "signers.view",
    "signers.search",
    "signers.search.result",
    "signer.view",
    "abuse.trends",
    "abuse.trend",
    "delivery_pack",
    "audit.view",
    "signature.restore",
    "signature.erase",
    "signature.resend",
    "signature.comment_hidden",
    "signature.comment_shown",
    "update.post",
    "login",
    "login.failed",
    "login.locked",
    "logout",
    "account.create",
    "account.role",
    "account.disable",
    "account.enable",
    "account.password",
    "account.totp_enabled",
    "account.totp_reset",
)
