"""The audit log, for owners."""

from __future__ import annotations

import json
from datetime import date

from flask import abort, render_template, request
from sqlalchemy import select

from ..extensions import db
from ..models import Campaign
from ..services.intake.validation import parse_id
from ..services.sealing import audit
from . import bp
from .auth import role_required


@bp.get("/audit")
@role_required("owner")
def audit_page():
    before = request.args.get("before", "")
    only = audit.LogFilter(
        action=(request.args.get("action") or "").strip()[:64] or None,
        actor=(request.args.get("actor") or "").strip()[:320] or None,
        since=_day(request.args.get("since")),
        until=_day(request.args.get("until")),
    )
    events = audit.read(101, parse_id(before), only)  # an audited look
    more = len(events) > 100
    events = events[:100]
    rows = [(e, json.loads(e.details) if e.details else {}) for e in events]
    # Targets link to their pages: a signature's page needs its campaign's slug.
    slugs = dict(db.session.execute(select(Campaign.id, Campaign.slug)).all())
    return render_template(
        "admin/audit.html",
        rows=rows,
        only=only,
        filters=only.as_dict(),
        slugs=slugs,
        actions=AUDIT_ACTIONS,
        actors=audit.actors(),
        next_id=events[-1].id if more and events else None,
    )


def _day(raw: str | None) -> date | None:
    """A day from a date field (YYYY-MM-DD); anything else is the sender's mistake."""
    if not raw:
        return None
    try:
        return date.fromisoformat(raw.strip()[:10]) if len(raw.strip()) == 10 else _bad()
    except ValueError:
        return _bad()


def _bad() -> None:
    abort(400, description="A date is written YYYY-MM-DD.")


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
    "update.test",
    "update.mailed",
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
