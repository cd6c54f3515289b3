"""Campaign updates: organizers write them (per language), preview them, send themselves
a test, see who they would reach, then publish; mail goes to consenters of each
language written (services/letters/updates.py states the language rule)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..services.letters import update_preview, updates
from . import bp
from .auth import campaign_or_404, role_required
from .forms import add_update_fields

STEPS = ("preview", "test", "publish")


@bp.route("/<slug>/updates", methods=["GET", "POST"])
@role_required("organizer")
def updates_page(slug: str):
    content, row = campaign_or_404(slug)
    languages = list(content.languages)
    form = add_update_fields(languages)()
    if not form.is_submitted():
        form.publish_key.data = updates.new_publish_key()  # one publish per form shown
    step = request.form.get("step", "publish")
    error, status, shown = None, 200, None
    if step not in STEPS:
        error, status = _("Choose preview, test or publish."), 400
    elif form.validate_on_submit():
        texts = {
            lang: (form[f"title_{lang}"].data or "", form[f"body_{lang}"].data or "")
            for lang in languages
        }
        try:
            if step == "preview":
                shown = update_preview.draft(content, row, texts)
            elif step == "test":
                shown = update_preview.send_test(content, row, texts, to=current_user.user.email)
                flash(
                    _(
                        "A test mail in each language written is on its way to %(email)s.",
                        email=current_user.user.email,
                    )
                )
            else:
                _posted, fresh = updates.post(
                    content,
                    row,
                    texts,
                    author_id=current_user.user.id,
                    send=form.send.data,
                    publish_key=form.publish_key.data,
                )
        except updates.UpdateError as exc:
            error, status = str(exc), 422
        else:
            if step == "publish":
                if not fresh:
                    flash(_("This update was already published; nothing was sent twice."))
                elif form.send.data:
                    flash(_("The update is published; its mails are being queued."))
                else:
                    flash(_("The update is published."))
                return redirect(url_for("admin.updates_page", slug=slug), 303)
    elif form.is_submitted():
        status = 422
    return render_template(
        "admin/updates.html",
        campaign=content,
        form=form,
        error=error,
        languages=languages,
        shown=shown,
        everyone=updates.audience(row.id, ()),  # all consenters, by language
        posted=updates.recent(row.id),
    ), status
