"""The organizers' admin: sign-in, dashboard, signers, exports, delivery pack, updates,
paper sheets, audit, accounts."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import audit_log, auth, dashboard, signers, updates  # noqa: E402,F401
from .exports import delivery, export  # noqa: E402,F401
from .organizers import accounts, sessions  # noqa: E402,F401
from .paper import entry, sheets  # noqa: E402,F401
