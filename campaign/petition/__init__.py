"""The public pages: a campaign's case, signing, confirming and withdrawing."""

from flask import Blueprint

bp = Blueprint("petition", __name__, template_folder="../../templates/petition")

from . import reach, rights, routes  # noqa: E402,F401  (reach: share, QR code, flyer, embed)
