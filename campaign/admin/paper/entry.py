"""Paper sheets (issue 26): entering a sheet's rows by keyboard, a CSV of typed sheets,
and a second organizer's check of a sheet against the paper."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from ...i18n import LANGUAGE_NAMES, current_language
from ...i18n import number as number_text
from ...services.intake.validation import country_choices
from ...services.paper import check, entry, upload
from .. import bp
from ..auth import campaign_or_404, role_required
from ..forms import ActionForm

NEXT, SAVE = "next", "save"


def typed_rows(form) -> tuple[list[dict], list[entry.PaperRow], list[entry.RowProblem]]:
    """The rows as typed (to show again), the rows read, and their problems."""
    keys = [c.key for c in entry.paper_consents()]
    shown, rows, problems = [], [], []
    for index in range(entry.MAX_ROWS):
        if f"name-{index}" not in form:
            break
        raw = {
            "name": form.get(f"name-{index}", ""),
            "country": form.get(f"country-{index}", ""),
            "email": form.get(f"email-{index}", ""),
            "ticked": frozenset(k for k in keys if form.get(f"{k}-{index}")),
        }
        if not any(raw[f].strip() for f in ("name", "country", "email")):
            continue  # a blank row: dropped
        number = len(shown) + 1
        row, found = entry.read_row(
            number, raw["name"], raw["country"], raw["email"], raw["ticked"]
        )
        shown.append(raw)
        problems += found
        if row is not None:
            rows.append(row)
    return shown, rows, problems


def paper_page(content, row, **context):
    status = context.pop("status", 200)
    return render_template(
        "admin/paper/paper.html",
        campaign=content,
        sheets=entry.sheets(row.id),
        consents=entry.paper_consents(),
        sheet_languages=[(code, LANGUAGE_NAMES.get(code, code)) for code in content.languages],
        countries=country_choices(current_language()),
        form=ActionForm(),
        summary=check.summary(row.id),
        **context,
    ), status


@bp.route("/<slug>/paper", methods=["GET", "POST"])
@role_required("organizer")
def paper_entry(slug: str):
    """One sheet, by keyboard: its code, its language, then row after row. Enter (the
    first button) keeps the rows and opens the next; "Enter the sheet" saves them."""
    content, row = campaign_or_404(slug)
    if request.method == "GET":
        return paper_page(content, row, code="", language=current_language(), rows=[], problems=[])
    form = ActionForm()
    if not form.validate():
        abort(400)
    code = request.form.get("code", "").strip()[:40]
    language = request.form.get("language", "")
    shown, rows, problems = typed_rows(request.form)
    context = {"code": code, "language": language, "rows": shown, "problems": problems}
    if language not in content.languages:
        return paper_page(
            content, row, error=_("Please choose the sheet's language."), status=422, **context
        )
    try:
        number = entry.check_code(slug, row.id, code, language)
    except entry.SheetRefused as refused:
        status = 409 if refused.earlier is not None else 422
        return paper_page(content, row, error=str(refused.message), status=status, **context)
    if problems:
        message = _("Please check the rows marked below.")
        return paper_page(content, row, error=message, status=422, number=number, **context)
    if request.form.get("action") != SAVE:  # the next row, with the count so far
        return paper_page(content, row, number=number, focus_next=True, **context)
    try:
        entry.enter(slug, row.id, code, language, rows)
    except entry.SheetRefused as refused:
        status = 409 if refused.earlier is not None else 422
        return paper_page(content, row, error=str(refused.message), status=status, **context)
    flash(
        ngettext(
            "Sheet %(number)s entered: %(count)s row.",
            "Sheet %(number)s entered: %(count)s rows.",
            len(rows),
            number=number,
            count=number_text(len(rows)),
        )
    )
    return redirect(url_for("admin.paper_entry", slug=slug), 303)


@bp.post("/<slug>/paper/upload")
@role_required("organizer")
def paper_upload(slug: str):
    """A CSV of typed sheets: a dry run first (nothing entered), then apply."""
    content, row = campaign_or_404(slug)
    form = ActionForm()
    if not form.validate():
        abort(400)
    context = {"code": "", "language": current_language(), "rows": [], "problems": []}
    file = request.files.get("csv")
    try:
        if request.form.get("data"):
            text = request.form["data"]
        elif file is not None and file.filename:
            text = upload.decode(file.read())
        else:
            raise entry.SheetRefused(_("Please choose a CSV file."))
        found = upload.read(text, slug, row.id, tuple(content.languages))
        if request.form.get("action") != "apply" or not found.ok:
            status = 200 if found.ok else 422
            return paper_page(
                content, row, upload=found, upload_data=text, status=status, **context
            )
        entered = upload.apply(found, slug, row.id)
    except entry.SheetRefused as refused:
        return paper_page(content, row, error=str(refused.message), status=422, **context)
    flash(
        ngettext(
            "%(count)s sheet entered from the file.",
            "%(count)s sheets entered from the file.",
            len(entered),
            count=number_text(len(entered)),
        )
    )
    return redirect(url_for("admin.paper_entry", slug=slug), 303)


@bp.route("/<slug>/paper/<int:number>", methods=["GET", "POST"])
@role_required("organizer")
def paper_sheet(slug: str, number: int):
    """A sheet entered, and its check: a random sample of rows typed again by another
    organizer from the paper."""
    content, row = campaign_or_404(slug)
    sheet = check.find_sheet(row.id, number)
    if sheet is None:
        abort(404)
    form, error, status, results, rows = ActionForm(), None, 200, None, []
    actor = current_user.user
    try:
        if sheet.checked_at is None:
            rows = check.sample(sheet, actor)
        if request.method == "POST":
            if not form.validate():
                abort(400)
            typed = {
                n: (request.form.get(f"name-{n}", ""), request.form.get(f"country-{n}", ""))
                for n in rows
            }
            results = check.record(sheet, actor, typed)
    except check.CheckRefused as refused:
        error, status = str(refused.message), 403 if request.method == "POST" else 200
    return render_template(
        "admin/paper/paper_sheet.html",
        campaign=content,
        sheet=sheet,
        sample=rows,
        results=results,
        form=form,
        error=error,
        countries=country_choices(current_language()),
    ), status
