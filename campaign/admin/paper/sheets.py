"""Printable sign-up sheets (issue 26): organizers choose a language, a paper size and
how many, and get a PDF whose every sheet has a number of its own and a check code."""

from __future__ import annotations

from flask import Response, render_template
from flask_babel import gettext as _
from flask_login import current_user

from ...services.paper import print_runs, sheets
from .. import bp
from ..auth import campaign_or_404, role_required
from ..forms import SheetsForm, offer_languages


@bp.route("/<slug>/sheets", methods=["GET", "POST"])
@role_required("organizer")
def sheets_page(slug: str):
    content, row = campaign_or_404(slug)
    form = SheetsForm()
    offer_languages(form.language, content, form.is_submitted())
    error, status = None, 200
    if form.validate_on_submit():
        try:
            allocation = print_runs.allocate(
                row,
                count=form.count.data,
                language=form.language.data,
                paper_size=form.paper.data,
                languages=content.languages,
                actor=current_user.user,
            )
        except print_runs.PrintRunError as exc:
            error, status = str(exc), 409
        else:
            response = Response(sheets.write_pdf(content, allocation), mimetype="application/pdf")
            name = sheets.filename(content, allocation)
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
            response.headers["X-Sheet-Numbers"] = f"{allocation.first}-{allocation.last}"
            return response
    elif form.is_submitted():
        error, status = _("Please check the form."), 422
    return render_template(
        "admin/paper/sheets.html",
        campaign=content,
        form=form,
        error=error,
        runs=print_runs.runs(row.id),
        printed=print_runs.printed_total(row.id),
        max_sheets=print_runs.MAX_SHEETS,
    ), status
