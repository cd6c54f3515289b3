"""The organizers' admin: sign-in, dashboard, signers, exports, updates, audit, accounts."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import (  # noqa: E402,F401
    accounts,
    audit_log,
    auth,
    dashboard,
    exports,
    sessions,
    signers,
    updates,
)
