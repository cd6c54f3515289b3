"""The organizers' admin: sign-in, dashboard, signers, exports, delivery pack, updates,
paper sheets, audit, accounts."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import (  # noqa: E402,F401
    accounts,
    audit_log,
    auth,
    dashboard,
    delivery,
    exports,
    paper,
    sessions,
    sheets,
    signers,
    updates,
)
