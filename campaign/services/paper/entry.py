"""Entering a paper sheet: its code checked, its rows read, and each row written as a
signature collected on paper, counted, logged and (with an address) mailed.

The rules: a sheet is named by a code only this server printed (`sheet_codes.parse`),
and its number is entered once per campaign (a unique constraint: whoever races, one
wins, and the other is told when and by whom it was entered). A row is written like an
online signature (services/signatures/signing.py): name, email sealed (services/sealing/sealed.py),
and with an organizer key, sealed to the organizers at once: a row without an address
keeps no name the server can read; a row with one keeps its name and address readable
only until its owner answers the paper mail (services/paper/confirm.py), or for
CONFIRM_EXPIRY_DAYS if they never do (privacy.seal_unanswered_paper). The boxes a row
can tick are the registry's `on_paper` consents, stored with the wording printed on
the sheet in its language.

Every row counts, and every row with an address is mailed, whatever else that address
did: a written address is only what someone wrote, and anyone can write anyone's
address on a sheet at a rally and then watch the count, the API and the log. If entry
looked the address up (counting a row only if its address had not signed), the paper
part would tell whether that address signed online. So one address counts once from
the moment its owner confirms it (confirm.py links the row to the address's counted
signature then); until then a row holds no dedup key. The sheet, its rows, the count,
the log's batch, the mail and the audit entry commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...extensions import db
from ...i18n import LANGUAGE_NAMES
from ...models import (
    PAPER,
    NameToken,
    PaperSheet,
    Signature,
    SignatureStatus,
    utcnow,
)
from ..intake import links
from ..intake.validation import NormalizedEmail, country_code_for, normalize_email, normalize_name
from ..log import tlog_pending
from ..outbox import mail
from ..pages import cache, counting
from ..sealing import audit, crypto, sealed
from ..sealing.blind_index import domain_hash, name_token_hashes
from ..signatures.signing import consent_wording_id
from ..signer_data import consents
from . import print_runs, sheet_codes

MAX_ROWS = 60  # far more than a printed sheet holds
LINKED_REASON = "paper row: its address already counts"  # set by confirm.py


class SheetRefused(ValueError):
    """The sheet can't be entered: a code this server did not print, or entered before."""

    def __init__(self, message: Any, earlier: PaperSheet | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.earlier = earlier


@dataclass(frozen=True)
class PaperRow:
    """One row of a sheet, checked: what is written."""

    row: int  # its place on the sheet, from 1
    name: str
    country: str
    email: NormalizedEmail | None
    ticked: frozenset[str]  # keys of the on-paper consents ticked on the sheet


@dataclass(frozen=True)
class RowProblem:
    row: int
    field: str  # name | country | email
    message: str


def paper_consents() -> tuple[consents.Consent, ...]:
    """The consents a sheet carries as boxes (the registry's `on_paper`)."""
    return tuple(c for c in consents.all_consents() if c.on_paper)


def paper_wording(language: str) -> dict[str, str]:
    """Each on-paper consent's wording in `language`: what the sheet prints, and what a
    paper row stores (`consent_wordings`) as shown to its signer."""
    texts = consents.wordings(language)
    return {c.key: texts[c.key] for c in paper_consents()}


def sheet_number(slug: str, code: str) -> int:
    """The number a typed code names; SheetRefused if this server printed no such code."""
    number = sheet_codes.parse(slug, code)
    if number is None:
        raise SheetRefused(
            _l(
                "%(code)s is not a sheet code this site printed. Check the number and "
                "the six characters after it, as printed at the top of the sheet.",
                code=(code or "").strip()[:20] or "—",
            )
        )
    return number


def entered_before(campaign_id: int, number: int) -> PaperSheet | None:
    return db.session.scalar(
        select(PaperSheet).where(PaperSheet.campaign_id == campaign_id, PaperSheet.number == number)
    )


def refuse_twice(earlier: PaperSheet) -> SheetRefused:
    return SheetRefused(
        _l(
            "Sheet %(number)s was entered already, on %(when)s by %(who)s. A sheet is "
            "entered once.",
            number=earlier.number,
            when=earlier.entered_at.strftime("%Y-%m-%d %H:%M UTC"),
            who=earlier.entered_by_email or "—",
        ),
        earlier,
    )


def check_code(slug: str, campaign_id: int, code: str, language: str | None = None) -> int:
    """The sheet's number, if it may be entered now; SheetRefused otherwise.

    Given the language the sheet is entered in, a sheet printed in another language is
    refused: its rows' consents are stored with the wording printed on it."""
    number = sheet_number(slug, code)
    earlier = entered_before(campaign_id, number)
    if earlier is not None:
        raise refuse_twice(earlier)
    printed = print_runs.printed_sheet(campaign_id, number)
    if language is not None and printed is not None and printed.language != language:
        raise SheetRefused(
            _l(
                "Sheet %(number)s was printed in %(language)s: enter it in that language, "
                "so that its boxes keep the wording printed on it.",
                number=number,
                language=LANGUAGE_NAMES.get(printed.language, printed.language),
            )
        )
    return number


def read_row(
    row: int, name: str, country: str, email: str, ticked: frozenset[str]
) -> tuple[PaperRow | None, list[RowProblem]]:
    """One typed row, checked with the sign form's rules; a blank row is None."""
    if not any(part.strip() for part in (name, country, email)):
        return None, []
    problems, clean_name, code, address = [], "", None, None
    try:
        clean_name = normalize_name(name)
    except ValueError as exc:
        problems.append(RowProblem(row, "name", str(exc)))
    code = country_code_for(country)
    if code is None:
        problems.append(RowProblem(row, "country", str(_l("Please choose your country."))))
    if email.strip():
        try:
            address = normalize_email(email.strip())
        except ValueError as exc:
            problems.append(RowProblem(row, "email", str(exc)))
    known = {c.key for c in paper_consents()}
    if problems:
        return None, problems
    return PaperRow(row, clean_name, code, address, frozenset(ticked) & known), []


def enter(
    slug: str, campaign_id: int, code: str, language: str, rows: list[PaperRow]
) -> PaperSheet:
    """Enter one sheet's rows (already checked), audited, in one transaction.

    Raises SheetRefused for a code this server did not print, or a sheet entered before
    (also when another organizer enters it at the same moment)."""
    number = check_code(slug, campaign_id, code, language)
    if not rows:
        raise SheetRefused(_l("The sheet has no rows to enter."))
    if len(rows) > MAX_ROWS:
        raise SheetRefused(_l("A sheet holds at most %(max)d rows.", max=MAX_ROWS))
    try:
        return _write(slug, campaign_id, number, language, rows)
    except IntegrityError:
        db.session.rollback()
        earlier = entered_before(campaign_id, number)
        if earlier is not None:
            raise refuse_twice(earlier) from None
        raise


def _write(slug: str, campaign_id: int, number: int, language: str, rows: list[PaperRow]):
    now = utcnow()
    # Stored in a transaction of its own (signing.consent_wording_id): before any write
    # of this one, which on SQLite holds the database's one write lock.
    wording_id = consent_wording_id(language, paper_wording(language))
    actor = audit.current_actor()  # the organizer entering the sheet
    sheet = PaperSheet(
        campaign_id=campaign_id,
        number=number,
        language=language,
        rows=len(rows),
        entered_by=actor.id if actor else None,
        entered_by_email=actor.email if actor else None,
        entered_at=now,
    )
    db.session.add(sheet)
    db.session.flush()  # the unique (campaign, number) refuses a second entry here
    written = []
    for row in rows:  # no look-up of the address: see the module's docstring
        signature = _signature(campaign_id, sheet, language, wording_id, row, now)
        db.session.add(signature)
        db.session.flush()
        written.append(signature)
    counting.adjust(campaign_id, len(written), paper=True)
    for signature in written:  # one batch, in row order, tied to the sheet's number
        tlog_pending.queue(tlog_pending.paper_add_values(signature, number, now))
        if signature.email_enc is not None:
            mail.enqueue_render("paper-confirm", signature.id, language, {"slug": slug})
    audit.record(
        "paper.enter",
        campaign_id=campaign_id,
        target=f"sheet:{number}",
        details={"sheet": number, "rows": len(rows), "language": language},
    )
    db.session.commit()
    cache.signatures_changed(campaign_id)
    return sheet


def _signature(
    campaign_id: int,
    sheet: PaperSheet,
    language: str,
    wording_id: int,
    row: PaperRow,
    now,
) -> Signature:
    """A paper row as a signature: counted, sealed; its address holds no dedup key
    until its owner confirms it (confirm.py)."""
    row_key, nonce = crypto.new_row_key(), links.new_nonce()
    address = row.email.address if row.email else None
    organizer, own, secret = sealed.seal_copies(row.name, address, None, row_key)
    # With an organizer key, the server keeps readable only what the paper mail needs,
    # and only for a row it mails, until its owner answers or the row expires.
    mailed = address is not None
    readable = organizer is None or mailed
    values = {
        c.column: c.key in row.ticked and (c.keeps != "email_enc" or address is not None)
        for c in consents.all_consents()
    }
    signature = Signature(
        campaign_id=campaign_id,
        method=PAPER,
        sheet_id=sheet.id,
        sheet_row=row.row,
        status=SignatureStatus.CONFIRMED,
        dedup_key=None,
        row_key=row_key,
        name_enc=sealed.seal("name", row.name, row_key) if readable else None,
        email_enc=sealed.seal("email", address, row_key) if readable and address else None,
        email_domain_hash=domain_hash(row.email.domain) if row.email else None,
        organizer_sealed=organizer,
        signer_copy=own if mailed else None,
        link_secret=secret if mailed else None,
        country=row.country,
        language=language,
        consent_wording_id=wording_id,
        referral_code=links.own_referral_hash(nonce),
        link_nonce=nonce,
        flagged=False,
        already_signed_mails=0,
        created_at=now,
        confirmed_at=now,
        **values,
    )
    signature.name_tokens = [NameToken(token_hash=h) for h in sorted(name_token_hashes(row.name))]
    return signature


def sheets(campaign_id: int) -> list[PaperSheet]:
    """The campaign's sheets entered, newest first."""
    return list(
        db.session.scalars(
            select(PaperSheet)
            .where(PaperSheet.campaign_id == campaign_id)
            .order_by(PaperSheet.entered_at.desc(), PaperSheet.id.desc())
        )
    )
