"""The organizers' admin."""

from flask import Blueprint

bp = Blueprint("admin", __name__)

from . import auth  # noqa: E402,F401
