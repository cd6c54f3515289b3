"""Data rights without the mail: "mail me my links again", from /privacy."""

from __future__ import annotations

from flask import redirect, url_for

from ..extensions import limiter
from ..services import inbox
from ..services.content import library
from . import bp
from .forms import LinksForm
from .routes import config_limit, privacy_page


@bp.post("/privacy/links")
@limiter.limit(config_limit("RATELIMIT_RESEND"))
def mail_links_again():
    """Mail the signer's links again. The answer never says whether anything was sent."""
    form = LinksForm()
    if not form.validate():
        return privacy_page(form, 422)
    for content in library().all():  # one mail per petition this address signed
        inbox.mail_links_again(content, form.email.data)
    return redirect(url_for(".privacy_page", sent=1, _anchor="links-again"), 303)
