"""The privacy page, and data rights without the mail: "mail me my links again"."""

from __future__ import annotations

from flask import current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from ..extensions import limiter
from ..services import inbox
from ..services.content import library
from . import bp
from .forms import LinksForm
from .limits import config_limit


def privacy_page_html(
    links_form: LinksForm | None = None, status: int = 200
) -> ResponseReturnValue:
    """What is kept and for how long, with the "mail me my links again" form."""
    config = current_app.config
    return render_template(
        "petition/privacy.html",
        expiry_days=config["CONFIRM_EXPIRY_DAYS"],
        ip_days=config["IP_HASH_RETENTION_DAYS"],
        anonymize_days=config["ANONYMIZE_AFTER_CLOSE_DAYS"],
        # "Mail me my links again": data rights for a signer who lost their mail.
        links_form=links_form or LinksForm(formdata=None),
        links_sent=request.args.get("sent") == "1",
    ), status


@bp.get("/privacy")
def privacy_page() -> ResponseReturnValue:
    return privacy_page_html()


@bp.post("/privacy/links")
@limiter.limit(config_limit("RATELIMIT_RESEND"))
def mail_links_again() -> ResponseReturnValue:
    """Mail the signer's links again. The answer never says whether anything was sent."""
    form = LinksForm()
    if not form.validate():
        return privacy_page_html(form, 422)
    for content in library().all():  # one mail per petition this address signed
        inbox.mail_links_again(content, form.email.data)
    return redirect(url_for(".privacy_page", sent=1, _anchor="links-again"), 303)
