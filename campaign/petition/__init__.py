"""The public pages: a campaign's case, signing, confirming and withdrawing."""

from flask import Blueprint

from ..extensions import csrf
from ..web.security import refuse_cross_site
from .bound_forms import bound_field, require_bound_token

bp = Blueprint("petition", __name__, template_folder="../../templates/petition")
# The public forms change nothing a session owns, so they carry no session token
# (and the campaign page sets no cookie): cross-site posts are refused by where the
# browser says they came from instead (docs/SECURITY.md, "Public forms").
bp.before_request(refuse_cross_site)
csrf.exempt(bp)
# Old browsers say nowhere where a POST came from: the POSTs that act on a cookie
# carry a token bound to it (bound_forms.py, issue 21 S3).
bp.before_request(require_bound_token)
bp.add_app_template_global(bound_field)

# The view modules register their routes on `bp`; pages.py, limits.py and embedding.py
# are the helpers they share.
from . import paper, rights, tlog_views  # noqa: E402,F401
from .reach import embed, share  # noqa: E402,F401
from .signing import routes  # noqa: E402,F401
