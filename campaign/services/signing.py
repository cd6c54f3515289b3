"""Signing: validate, normalize, deduplicate and record a signature with its mail.

The one rule that matters most: a signature and the mail it causes commit in one
transaction, and the database's UNIQUE (campaign_id, dedup_key) decides who signed
first. A repeat signing gets the same answer as a first one, so no one can use the
form to find out whether an address has signed.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import (
    Campaign,
    ConsentWording,
    NameToken,
    Signature,
    SignatureStatus,
    utcnow,
)
from . import abuse, counting, crypto, links, mail, transparency
from .campaigns import CampaignRef, campaign_ref
from .content import CampaignContent
from .validation import (
    check_email_policy,
    clean_comment,
    country_codes,
    normalize_email,
    normalize_name,
)


class SigningError(ValueError):
    """Input the service refuses; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass
class SignatureInput:
    name: str
    email: str
    country: str
    comment: str | None = None
    public_consent: bool = False
    contact_consent: bool = False
    language: str = "en"
    source: str | None = None
    referrer_code: str | None = None
    ip: str | None = None
    consent_public_text: str = ""
    consent_contact_text: str = ""


@dataclass
class SignOutcome:
    signature_id: int | None
    repeat: bool
    flagged: bool = False
    dropped: bool = False  # a blocked address: nothing recorded, same answer


def clean_source(raw: str | None) -> str | None:
    """The ?source= tag as stored: printable, one line, at most 64 characters.

    It comes straight from a URL, so it may hold anything; PostgreSQL refuses NUL
    in text, and admin pages and CSV exports show it.
    """
    text = "".join(c if unicodedata.category(c)[0] != "C" else " " for c in raw or "")
    text = " ".join(text.split())[:64]
    return text or None


def clean_code(raw: str | None) -> str | None:
    """A sharer's referral code (?ref=): only the URL-safe characters codes are made of."""
    code = "".join(c for c in (raw or "") if c.isascii() and (c.isalnum() or c in "-_"))[:16]
    return code or None


def name_words(name: str) -> set[str]:
    """Normalized words of a name, for the blind name index."""
    return {word.casefold() for word in name.replace("\u200c", " ").split() if len(word) > 1}


def name_token_hashes(name: str) -> set[str]:
    return {crypto.keyed_hash("name", word, 32) for word in name_words(name)}


def dedup_key(canonical_email: str) -> str:
    return crypto.keyed_hash("email", canonical_email)


def domain_hash(domain: str) -> str:
    return crypto.keyed_hash("domain", domain.lower(), 32)


def consent_wording_id(language: str, public_text: str, contact_text: str) -> int:
    """The id of this exact consent wording, stored once and shared by signatures."""
    wording = f"{language}\x00{public_text}\x00{contact_text}"
    digest = hashlib.sha256(wording.encode()).hexdigest()
    known = current_app.extensions.setdefault("campaign.consent_wordings", {})
    if digest in known:
        return known[digest]
    select_wording = select(ConsentWording.id).where(ConsentWording.digest == digest)
    wording_id = db.session.scalar(select_wording)
    if wording_id is None:
        try:
            with db.session.begin_nested():
                record = ConsentWording(
                    digest=digest, language=language, public_text=public_text,
                    contact_text=contact_text,
                )  # fmt: skip
                db.session.add(record)
            # Not cached yet: this transaction may still roll back (e.g. the database
            # goes away), and a cached id of a row that never committed would break
            # every later signature's foreign key.
            return record.id
        except IntegrityError:  # written by a concurrent request
            wording_id = db.session.scalar(select_wording)
    known[digest] = wording_id
    return wording_id


def validate(data: SignatureInput) -> tuple[str, object, str | None]:
    """Normalize the input or raise `SigningError` for the first bad field."""
    try:
        name = normalize_name(data.name)
    except ValueError as exc:
        raise SigningError("name", str(exc)) from exc
    try:
        email = normalize_email(data.email)
        check_email_policy(email)
    except ValueError as exc:
        raise SigningError("email", str(exc)) from exc
    if data.country not in country_codes():
        raise SigningError("country", str(_l("Please choose your country.")))
    try:
        comment = clean_comment(data.comment)
    except ValueError as exc:
        raise SigningError("comment", str(exc)) from exc
    return name, email, comment


def sign(
    content: CampaignContent,
    data: SignatureInput,
    *,
    flag_reason: str | None = None,
    send_mail: bool = True,
) -> SignOutcome:
    """Record a signature (pending) and its confirmation mail, in one transaction.

    `flag_reason` records a signature that abuse checks caught: it is kept, but not
    counted until an organizer restores it. `send_mail=False` is for signatures
    that bots made (honeypot, too fast), which must not mail whoever they named.
    """
    name, email, comment = validate(data)
    if abuse.email_blocked(email.canonical):
        return SignOutcome(None, repeat=False, dropped=True)
    campaign = campaign_ref(content)  # cached: no SELECT of the campaign per signature
    key = dedup_key(email.canonical)
    signature = Signature(
        campaign_id=campaign.id,
        status=SignatureStatus.PENDING,
        # Bot-made rows (never mailed) take no dedup slot: a bot posting someone's
        # address must not stop that person's own signature from counting.
        dedup_key=None if flag_reason and not send_mail else key,
        email_enc=crypto.encrypt(email.address),
        name_enc=crypto.encrypt(name),
        comment_enc=crypto.encrypt(comment),
        email_domain_hash=domain_hash(email.domain),
        country=data.country,
        language=data.language,
        public_consent=data.public_consent,
        contact_consent=data.contact_consent,
        consent_wording_id=consent_wording_id(
            data.language, data.consent_public_text, data.consent_contact_text
        ),
        source=clean_source(data.source),
        referrer_code=clean_code(data.referrer_code),
        referral_code=secrets.token_urlsafe(9),
        ip_hash=crypto.ip_hash(data.ip),
        link_nonce=links.new_nonce(),
        flagged=flag_reason is not None,
        flag_reason=flag_reason,
        created_at=utcnow(),
    )
    signature.name_tokens = [NameToken(token_hash=h) for h in name_token_hashes(name)]
    db.session.add(signature)
    try:
        db.session.flush()
    except IntegrityError as exc:
        db.session.rollback()
        if not is_dedup_conflict(exc):
            raise  # anything else is a bug, not a repeat signing to answer silently
        return repeat_signing(content, campaign, key, flag_reason=flag_reason)
    if send_mail:
        mail.enqueue(confirmation_mail(content, signature, email.address, name),
                     kind="confirm", signature_id=signature.id)  # fmt: skip
    # Read before the commit: afterwards the row is expired and each read is a SELECT.
    outcome = SignOutcome(signature.id, repeat=False, flagged=signature.flagged)
    db.session.commit()
    return outcome


def is_dedup_conflict(error: IntegrityError) -> bool:
    """Whether the UNIQUE (campaign_id, dedup_key) constraint refused the insert.

    PostgreSQL names the constraint; SQLite names the columns.
    """
    message = str(error.orig)
    return "uq_signatures_campaign_dedup" in message or "signatures.dedup_key" in message


def take_extra_mail(signature_id: int) -> bool:
    """Count one more mail beyond the first (an "already signed" note or a resent
    confirmation, from the form or an organizer), or refuse past ALREADY_SIGNED_MAIL_LIMIT.

    Checked and raised in one statement, so parallel requests can't exceed the cap.
    """
    limit = current_app.config["ALREADY_SIGNED_MAIL_LIMIT"]
    return bool(
        db.session.execute(
            update(Signature)
            .where(Signature.id == signature_id, Signature.already_signed_mails < limit)
            .values(already_signed_mails=Signature.already_signed_mails + 1)
        ).rowcount
    )


def extra_mails_left(signature: Signature) -> int:
    return max(current_app.config["ALREADY_SIGNED_MAIL_LIMIT"] - signature.already_signed_mails, 0)


def repeat_signing(
    content: CampaignContent, campaign: Campaign | CampaignRef, key: str, *,
    flag_reason: str | None,
) -> SignOutcome:  # fmt: skip
    """Someone signed again with an address that has signed: mail it a note, capped."""
    signature = db.session.scalar(
        select(Signature).where(Signature.campaign_id == campaign.id, Signature.dedup_key == key)
    )
    if signature is None:  # erased between the insert and now; nothing to tell
        return SignOutcome(None, repeat=True)
    if flag_reason is None and signature.flagged and signature.status == SignatureStatus.PENDING:
        # First sent in a burst over the rate limit, now again within it: trust it as
        # any signature (it still counts only once its owner confirms).
        db.session.execute(
            update(Signature)
            .where(Signature.id == signature.id, Signature.status == SignatureStatus.PENDING)
            .values(flagged=False, flag_reason=None)
        )
    allowed = take_extra_mail(signature.id)
    if allowed and signature.email_enc:
        address = crypto.decrypt(signature.email_enc)
        name = crypto.decrypt(signature.name_enc)
        if signature.status == SignatureStatus.PENDING:
            message = confirmation_mail(content, signature, address, name)
        else:
            message = already_signed_mail(content, signature, address, name)
        mail.enqueue(message, kind="already-signed", signature_id=signature.id)
    db.session.commit()
    return SignOutcome(signature.id, repeat=True)


def resend_confirmation(content: CampaignContent, raw_email: str) -> bool:
    """Queue the confirmation mail again for an address whose signature waits for it.

    The caller answers the same whether or not anything was sent, so the form can't
    be used to learn who signed. Returns whether a mail was queued (for tests and
    logs only). Raises ValueError for an address that isn't one.
    """
    email = normalize_email(raw_email)
    if not content.accepts_signatures:
        return False
    campaign = campaign_ref(content)
    signature = db.session.scalar(
        select(Signature).where(
            Signature.campaign_id == campaign.id,
            Signature.dedup_key == dedup_key(email.canonical),
            Signature.status == SignatureStatus.PENDING,
            Signature.email_enc.is_not(None),
        )
    )
    # Only signatures we mailed before: bot-made ones (honeypot, too fast) never were.
    if signature is None or is_expired(signature) or not _was_mailed(signature.id):
        return False
    allowed = take_extra_mail(signature.id)
    if allowed:
        address, name = crypto.decrypt(signature.email_enc), crypto.decrypt(signature.name_enc)
        mail.enqueue(confirmation_mail(content, signature, address, name),
                     kind="resend", signature_id=signature.id)  # fmt: skip
    db.session.commit()
    return bool(allowed)


def _was_mailed(signature_id: int) -> bool:
    from ..models import OutboxMessage

    return db.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.signature_id == signature_id).limit(1)
    ) is not None


def _signer_links(content: CampaignContent, signature: Signature) -> dict[str, str]:
    language = signature.language
    manage = links.make_token(signature, "manage")
    return {
        "data_url": links.external_url(
            "petition.my_data", language, slug=content.slug, token=manage
        ),
        "confirm_url": links.external_url(
            "petition.confirm", language, slug=content.slug,
            token=links.make_token(signature, "confirm"),
        ),
        "withdraw_url": links.external_url(
            "petition.withdraw", language, slug=content.slug, token=manage
        ),
        "page_url": links.external_url("petition.campaign_page", language, slug=content.slug),
    }  # fmt: skip


def confirmation_mail(
    content: CampaignContent, signature: Signature, address: str, name: str
) -> mail.Mail:
    text = content.text(signature.language)
    return mail.render_mail(
        "confirm", signature.language, to=address, name=name, title=text.title,
        expiry_days=current_app.config["CONFIRM_EXPIRY_DAYS"],
        **_signer_links(content, signature),
    )  # fmt: skip


def already_signed_mail(
    content: CampaignContent, signature: Signature, address: str, name: str
) -> mail.Mail:
    text = content.text(signature.language)
    return mail.render_mail(
        "already_signed", signature.language, to=address, name=name, title=text.title,
        **_signer_links(content, signature),
    )  # fmt: skip


@dataclass
class ConfirmResult:
    state: str  # confirmed | already | invalid | expired | closed
    signature: Signature | None = None


def find_by_token(token: str, purpose: str) -> Signature | None:
    signature_id = links.parse_token(token)
    if signature_id is None:
        return None
    signature = db.session.get(Signature, signature_id)
    if signature is None or not links.token_matches(signature, token, purpose):
        return None
    return signature


def was_erased(token: str) -> bool:
    signature_id = links.parse_token(token)
    signature = db.session.get(Signature, signature_id) if signature_id else None
    return signature is not None and signature.erased_at is not None


def is_expired(signature: Signature) -> bool:
    expiry = timedelta(days=current_app.config["CONFIRM_EXPIRY_DAYS"])
    return signature.status == SignatureStatus.PENDING and signature.created_at < utcnow() - expiry


def check_confirmation(content: CampaignContent, token: str) -> ConfirmResult:
    """What the confirm link leads to, without changing anything (for the GET page)."""
    signature = find_by_token(token, "confirm")
    # By id, from the cached campaign: no lazy SELECT of the campaign row per confirm.
    if signature is None or signature.campaign_id != campaign_ref(content).id:
        return ConfirmResult("invalid")
    if signature.status != SignatureStatus.PENDING:
        state = "already" if signature.status == SignatureStatus.CONFIRMED else "invalid"
        return ConfirmResult(state, signature)
    if is_expired(signature):
        return ConfirmResult("expired", signature)
    if not content.accepts_signatures:
        return ConfirmResult("closed", signature)
    return ConfirmResult("pending", signature)


def confirm(content: CampaignContent, token: str) -> ConfirmResult:
    """Confirm a signature. Safe to repeat: a second confirm changes nothing."""
    result = check_confirmation(content, token)
    if result.state != "pending":
        return result
    signature = result.signature
    # Only the request that moves it out of pending counts it, however many race.
    changed = db.session.execute(
        update(Signature)
        .where(Signature.id == signature.id, Signature.status == SignatureStatus.PENDING)
        .values(status=SignatureStatus.CONFIRMED, confirmed_at=utcnow())
    ).rowcount
    if changed and not signature.flagged:
        counting.adjust(signature.campaign_id, +1)
        transparency.note_add(signature)  # the public log's add, same transaction
    db.session.commit()  # attributes reload on first use; the redirect needs none
    return ConfirmResult("confirmed" if changed else "already", signature)


def send_reminders(limit: int = 1000) -> int:
    """One reminder to each signer who hasn't confirmed after CONFIRM_REMINDER_HOURS."""
    from .content import library

    config = current_app.config
    now = utcnow()
    due = db.session.scalars(
        select(Signature)
        .where(
            Signature.status == SignatureStatus.PENDING,
            Signature.reminder_sent_at.is_(None),
            Signature.email_enc.is_not(None),
            Signature.flagged.is_(False),
            Signature.created_at < now - timedelta(hours=config["CONFIRM_REMINDER_HOURS"]),
            Signature.created_at > now - timedelta(days=config["CONFIRM_EXPIRY_DAYS"]),
        )
        .order_by(Signature.id)
        .limit(limit)
    ).all()
    sent = 0
    for signature in due:
        content = library().get(signature.campaign.slug)
        if content is None or not content.accepts_signatures:
            continue
        message = mail.render_mail(
            "reminder", signature.language, to=crypto.decrypt(signature.email_enc),
            name=crypto.decrypt(signature.name_enc), title=content.text(signature.language).title,
            expiry_days=config["CONFIRM_EXPIRY_DAYS"], **_signer_links(content, signature),
        )  # fmt: skip
        mail.enqueue(message, kind="reminder", signature_id=signature.id)
        signature.reminder_sent_at = now
        db.session.commit()  # one at a time: a crash can't re-send a whole batch
        sent += 1
    return sent
