"""The audit log, for owners."""

from __future__ import annotations

import json

from flask import render_template, request

from ..services import audit
from ..services.validation import parse_id
from . import bp
from .auth import role_required


@bp.get("/audit")
@role_required("owner")
def audit_page():
    before = request.args.get("before", "")
    action = (request.args.get("action") or "").strip()[:64] or None
    events = audit.recent(101, parse_id(before), action)
    more = len(events) > 100
    events = events[:100]
    rows = [(e, json.loads(e.details) if e.details else {}) for e in events]
    return render_template("admin/audit.html", rows=rows, action=action or "",
                           next_id=events[-1].id if more and events else None)  # fmt: skip
