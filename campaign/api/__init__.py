"""The read-only public JSON API."""

from flask import Blueprint

bp = Blueprint("api", __name__)
