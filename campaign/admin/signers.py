"""The signers table (keyset-paginated), one signer's page, moderation and bulk rules."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..extensions import db
from ..i18n import current_language, number
from ..models import Signature
from ..services.intake.validation import country_choices, parse_id
from ..services.letters.signer_mail import extra_mails_left
from ..services.signatures import moderation
from ..services.signer_data import signers
from . import bp
from .auth import campaign_or_404, role_required
from .forms import ActionForm, BulkForm, ExportForm, InvalidateForm


def _signature_or_404(row, signature_id: int) -> Signature:
    signature = db.session.get(Signature, signature_id)
    if signature is None or signature.campaign_id != row.id:
        abort(404)
    return signature


@bp.get("/<slug>/signers")
@role_required("organizer")
def signers_table(slug: str):
    content, row = campaign_or_404(slug)
    error, status = None, 200
    try:
        filters = signers.SignerFilter.from_args(request.args)
    except signers.FilterError as exc:
        filters, error, status = signers.SignerFilter(), str(exc), 400
    before = request.args.get("before", "")
    before_id = parse_id(before)
    fuzzy = request.args.get("fuzzy") == "1" and bool(filters.q)
    listing = signers.browse(row.id, content.slug, filters, before=before_id, fuzzy=fuzzy)
    export_form = ExportForm(formdata=None, data=filters.as_dict())
    total = len(listing.records) if fuzzy else signers.matching_count(row.id, filters)
    return render_template(
        "admin/signers.html",
        campaign=content,
        filters=filters,
        error=error,
        total=total,
        countries=country_choices(current_language()),
        records=listing.records,
        signatures=listing.signatures,
        next_id=listing.next_id,
        fuzzy=fuzzy,
        scanned=listing.scanned,
        export_form=export_form,
        states=signers.STATES,
        args={k: v for k, v in filters.as_dict().items()},
    ), status


@bp.get("/<slug>/signers/<int:signature_id>")
@role_required("organizer")
def signer(
    slug: str, signature_id: int, invalidate_form: InvalidateForm | None = None, status: int = 200
):
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    return render_template(
        "admin/signer.html",
        campaign=content,
        signature=signature,
        record=signers.look_at(row.id, signature),
        action_form=ActionForm(),
        invalidate_form=invalidate_form or InvalidateForm(formdata=None),
        resends_left=extra_mails_left(signature),
    ), status


def _back(slug: str, signature_id: int):
    return redirect(url_for("admin.signer", slug=slug, signature_id=signature_id), 303)


@bp.post("/<slug>/signers/<int:signature_id>/invalidate")
@role_required("organizer")
def signer_invalidate(slug: str, signature_id: int):
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    form = InvalidateForm()
    if not form.validate_on_submit():  # the message goes beside the reason field
        if not (form.reason.data or "").strip():
            form.reason.errors = [_("Please give a reason for the invalidation.")]
        return signer(slug, signature_id, invalidate_form=form, status=422)
    if moderation.invalidate(signature, form.reason.data):
        flash(_("The signature is invalidated and no longer counted."))
    else:
        flash(_("Only pending or confirmed signatures can be invalidated."))
    return _back(slug, signature_id)


@bp.post("/<slug>/signers/<int:signature_id>/restore")
@role_required("organizer")
def signer_restore(slug: str, signature_id: int):
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    if ActionForm().validate_on_submit():
        changed = moderation.restore(signature)
        flash(_("The signature is restored.") if changed else _("Nothing to restore."))
    return _back(slug, signature_id)


@bp.post("/<slug>/signers/<int:signature_id>/resend")
@role_required("organizer")
def signer_resend(slug: str, signature_id: int):
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    if ActionForm().validate_on_submit():
        try:
            sent = moderation.resend_confirmation(signature)
        except moderation.ModerationError as exc:
            flash(str(exc))
        else:
            flash(
                _("The confirmation mail is queued again.")
                if sent
                else _("This signer has had all the confirmation mails allowed.")
            )
    return _back(slug, signature_id)


@bp.post("/<slug>/signers/<int:signature_id>/comment")
@role_required("organizer")
def signer_comment(slug: str, signature_id: int):
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    if ActionForm().validate_on_submit():
        moderation.set_comment_hidden(signature, not signature.comment_hidden)
        flash(
            _("The comment is hidden.") if signature.comment_hidden else _("The comment is shown.")
        )
    return _back(slug, signature_id)


@bp.route("/<slug>/signers/<int:signature_id>/erase", methods=["GET", "POST"])
@role_required("owner")
def signer_erase(slug: str, signature_id: int):
    """Irreversible, so never one click: GET (or a POST without `confirm`) asks first."""
    content, row = campaign_or_404(slug)
    signature = _signature_or_404(row, signature_id)
    form = ActionForm()
    if request.method == "POST" and request.form.get("confirm") == "erase":
        if form.validate_on_submit():
            moderation.erase(signature)
            flash(_("The signer's personal data is erased. Country, date and count remain."))
        return _back(slug, signature_id)
    return render_template(
        "admin/erase.html",
        campaign=content,
        signature=signature,
        record=signers.look_at(row.id, signature),
        action_form=form,
    )


@bp.route("/<slug>/signers/bulk", methods=["GET", "POST"])
@role_required("organizer")
def signers_bulk(slug: str):
    content, row = campaign_or_404(slug)
    form = BulkForm()
    count, status, error = None, 200, None
    if form.validate_on_submit():
        rule = moderation.BulkRule(
            email_domain=(form.email_domain.data or "").strip(),
            ip_hash=(form.ip_hash.data or "").strip(),
            since=form.since.data,
            until=form.until.data,
            name_pattern=(form.name_pattern.data or "").strip(),
        )
        reason = (form.reason.data or "").strip()
        try:
            if request.form.get("apply") == "1" and reason:
                # One audited match: applied only if it still finds what was confirmed
                # (no confirmed count: -1, which no match has, so the count is shown).
                confirmed = parse_id(form.confirm_count.data or "")
                done = moderation.bulk_invalidate(
                    row.id, rule, reason, expected=-1 if confirmed is None else confirmed
                )
                # flask_babel's ngettext names its count `num`: the digits shown go as `count`.
                flash(
                    ngettext(
                        "%(count)s signature invalidated.",
                        "%(count)s signatures invalidated.",
                        done,
                        count=number(done),
                    )
                )
                return redirect(url_for("admin.signers_bulk", slug=slug), 303)
            count = moderation.dry_run(row.id, rule)  # an audited look, then the count
            if request.form.get("apply") == "1":
                error, status = _("Please give a reason before invalidating."), 422
        except moderation.CountChanged as exc:
            count, error, status = exc.count, str(exc), 409
        except moderation.ModerationError as exc:
            error, status = str(exc), 422
        if count is not None:
            form.confirm_count.data = str(count)
    elif request.method == "POST":
        status = 422
    return render_template(
        "admin/bulk.html", campaign=content, form=form, count=count, error=error
    ), status
