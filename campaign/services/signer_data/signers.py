"""Finding signers: the filters shared by the admin's table, bulk rules and exports.

Personal data is encrypted, so search uses the blind indexes: an exact email by its
dedup key, a domain by its domain hash, name words by `NameToken`. Anything fuzzier
decrypts rows in a streamed, capped pass (`fuzzy_matches`), after its audited look.
Every answer here that depends on personal data or a blind index is an audited look
(`sealed.look`): the table, a search, one signer, the dashboard's trend alerts.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, select

from ...extensions import db
from ...models import NameToken, Signature, SignatureStatus
from ..intake import abuse, links
from ..intake.validation import country_code_for, normalize_email
from ..sealing import sealed
from ..sealing.blind_index import dedup_key, domain_hash, name_token_hashes
from .privacy import SignerRecord, signer_record

STATES = SignatureStatus.ALL + ("flagged",)
PAGE_SIZE = 50
FUZZY_SCAN_LIMIT = 20000


class FilterError(ValueError):
    pass


@dataclass
class SignerFilter:
    """Every field optional; empty means "any"."""

    q: str = ""  # name words, an email address, or a domain (@example.org)
    country: str = ""
    state: str = ""  # pending | confirmed | invalidated | withdrawn | flagged
    since: date | None = None
    until: date | None = None  # inclusive
    contact: str = ""  # "yes" | "no"
    source: str = ""

    def as_dict(self) -> dict:
        return {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in asdict(self).items()
            if v not in ("", None)
        }

    @classmethod
    def from_args(cls, args) -> SignerFilter:
        """From a query string (or form); raises FilterError with a readable message."""

        def day(name: str) -> date | None:
            raw = (args.get(name) or "").strip()
            if not raw:
                return None
            try:
                return date.fromisoformat(raw)
            except ValueError as exc:
                message = _("“%(name)s” must be a date like 2026-01-31.", name=name)
                raise FilterError(message) from exc

        state = (args.get("state") or "").strip()
        if state and state not in STATES:
            raise FilterError(_("Unknown state."))
        contact = (args.get("contact") or "").strip()
        if contact and contact not in ("yes", "no"):
            raise FilterError(_("Consent to contact must be yes or no."))
        typed = (args.get("country") or "").strip()
        country = country_code_for(typed) if typed else ""
        if typed and not country:  # a name in any of our languages, or an ISO code
            raise FilterError(
                _("No country is called “%(name)s”. Pick one from the list.", name=typed[:60])
            )
        q = (args.get("q") or "").strip()[:200]
        return cls(
            q=q,
            country=country,
            state=state,
            since=day("since"),
            until=day("until"),
            contact=contact,
            source=(args.get("source") or "").strip()[:64],
        )


def search_condition(q: str):
    """A SQL condition for the search box, using only blind indexes."""
    q = q.strip()
    if not q:
        return None
    if q.startswith("@") or ("@" not in q and "." in q and " " not in q):
        return Signature.email_domain_hash == domain_hash(q.lstrip("@").strip().lower())
    if "@" in q:
        try:
            email = normalize_email(q)
        except ValueError:
            return Signature.id.is_(None)  # matches nothing
        return Signature.dedup_key == dedup_key(email.canonical)
    hashes = name_token_hashes(q)
    if not hashes:
        return Signature.id.is_(None)
    conditions = [
        Signature.id.in_(select(NameToken.signature_id).where(NameToken.token_hash == h))
        for h in hashes
    ]
    return and_(*conditions)


def apply_filter(query: Select, campaign_id: int, filters: SignerFilter) -> Select:
    query = query.where(Signature.campaign_id == campaign_id)
    if filters.state == "flagged":
        query = query.where(Signature.flagged.is_(True))
    elif filters.state:
        query = query.where(Signature.status == filters.state)
    if filters.country:
        query = query.where(Signature.country == filters.country)
    if filters.since:
        query = query.where(
            Signature.created_at >= datetime.combine(filters.since, datetime.min.time())
        )
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), datetime.min.time())
        query = query.where(Signature.created_at < end)
    if filters.contact:
        query = query.where(Signature.contact_consent.is_(filters.contact == "yes"))
    if filters.source:
        query = query.where(
            (Signature.source == filters.source)
            | (Signature.referrer_code == links.referrer_hash(filters.source))  # kept hashed
        )
    condition = search_condition(filters.q)
    if condition is not None:
        query = query.where(condition)
    return query


def matching_count(campaign_id: int, filters: SignerFilter) -> int:
    """How many signers the filters match (the table shows them a page at a time)."""
    query = apply_filter(select(func.count(Signature.id)), campaign_id, filters)
    return db.session.scalar(query) or 0


def page(
    campaign_id: int, filters: SignerFilter, *, before: int | None = None, size: int | None = None
) -> tuple[list[Signature], int | None]:
    """One page, newest first, keyset-paginated on id: (rows, id for the next page)."""
    size = size or PAGE_SIZE
    query = apply_filter(select(Signature), campaign_id, filters)
    if before:
        query = query.where(Signature.id < before)
    rows = db.session.scalars(query.order_by(Signature.id.desc()).limit(size + 1)).all()
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more and rows else None)


def fuzzy_matches(
    campaign_id: int,
    filters: SignerFilter,
    text: str,
    reason: sealed.Reason,
    *,
    limit: int = PAGE_SIZE,
    scan_limit: int = FUZZY_SCAN_LIMIT,
) -> tuple[list[Signature], int]:
    """Substring search in decrypted names and emails, streamed and capped; `reason` is
    the audited look (`browse` writes it first).

    Returns (matches, rows scanned). Meant for "I only remember part of the name".
    """
    needle = text.casefold().strip()
    query = apply_filter(
        select(Signature), campaign_id, SignerFilter(**{**asdict(filters), "q": ""})
    )
    query = query.where(Signature.email_enc.is_not(None)).order_by(Signature.id.desc())
    matches, scanned = [], 0
    name_of = sealed.unsealer(reason, "name")
    email_of = sealed.unsealer(reason, "email")
    for signature in db.session.scalars(query.limit(scan_limit).execution_options(yield_per=500)):
        scanned += 1
        name = (name_of(signature.name_enc, signature.row_key) or "").casefold()
        email = (email_of(signature.email_enc, signature.row_key) or "").casefold()
        if needle and (needle in name or needle in email):
            matches.append(signature)
            if len(matches) >= limit:
                break
    return matches, scanned


# --- looking at signers, audited ---------------------------------------------------


def masked_filters(filters: SignerFilter) -> dict:
    """The filters as the audit log keeps them: a search text can be a signer's name or
    address, and the audit log can't be erased, so only the kind of search is kept."""
    described = filters.as_dict()
    if "q" in described:
        query = described["q"]
        described["q"] = (
            "(email)"
            if "@" in query.strip("@")
            else ("(domain)" if query.startswith("@") or "." in query else "(name)")
        )
    return described


@dataclass
class Listing:
    records: list[SignerRecord]
    signatures: dict[int, Signature]
    next_id: int | None
    scanned: int | None  # rows decrypted by a substring search


def browse(
    campaign_id: int,
    slug: str,
    filters: SignerFilter,
    *,
    before: int | None = None,
    fuzzy: bool = False,
) -> Listing:
    """A page of the signers table (or a substring search), audited before it is shown:
    who, which filters (search text masked), which kind of search, how many rows.

    A substring search decrypts to find its rows, so its look is written before the
    scan, and what it found (rows, rows decrypted) is the look's outcome."""
    scanned = next_id = None
    search = ("substring" if fuzzy else "exact") if filters.q else None
    details = {"filters": masked_filters(filters), "search": search, "before": before}
    if fuzzy:
        reason = sealed.look(
            "signers.search", campaign_id=campaign_id, target=slug, details=details
        )
        rows, scanned = fuzzy_matches(campaign_id, filters, filters.q, reason)
        sealed.outcome(reason, {"rows": len(rows), "scanned": scanned})
    else:
        rows, next_id = page(campaign_id, filters, before=before)  # blind indexes, in SQL
        reason = sealed.look(
            "signers.search" if search else "signers.view",
            campaign_id=campaign_id,
            target=slug,
            details={**details, "rows": len(rows), "scanned": None},
        )
    records = [signer_record(s, reason) for s in rows]
    return Listing(records, {s.id: s for s in rows}, next_id, scanned)


def look_at(campaign_id: int, signature: Signature) -> SignerRecord:
    """One signer's page: audited, then decrypted."""
    reason = sealed.look(
        "signer.view",
        campaign_id=campaign_id,
        target=f"signature {signature.id}",
        details={"rows": 1},
    )
    return signer_record(signature, reason)


def trends(campaign_id: int, slug: str) -> list[abuse.Trend]:
    """The dashboard's trend alerts: IP hashes and email domains signing far above their
    usual rate. They group signers by blind indexes and show the keys, so the check is an
    audited look, written before it runs, and only organizers see it."""
    sealed.look("abuse.trends", campaign_id=campaign_id, target=slug, details={})
    return abuse.trending(campaign_id)
