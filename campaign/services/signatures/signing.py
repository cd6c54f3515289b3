"""Signing: record each submission with its mail.

Confirming lives in services/signatures/confirmation.py, the keyed hashes in blind_index.py,
reminders in reminders.py.

The rules that matter most: a submission and the mail it causes commit in one
transaction; each submission is its own row whose link confirms exactly its data (a
stranger who typed the address first decides nothing); and only a confirmed row holds
the address's slot (a partial unique index). A repeat signing gets the same answer,
after the same work, as a first one, so no one can use the form to find out whether
an address has signed.
"""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import ARRAY, Boolean, DateTime, Integer, String, bindparam, func, insert, select
from sqlalchemy.exc import IntegrityError

from ...database import dbapi, sqlite_wal
from ...extensions import db
from ...models import ConsentWording, NameToken, OutboxMessage, Signature, SignatureStatus, utcnow
from ..intake import links
from ..intake.validation import FieldError, SignerFields, check_signer
from ..outbox import mail
from ..pages import cache
from ..pages.campaigns import campaign_ref
from ..pages.content import CampaignContent
from ..sealing import crypto
from ..sealing.blind_index import dedup_key, domain_hash, name_token_hashes
from ..sealing.sealed import seal
from ..signer_data import consents

SIGNATURES, NAME_TOKENS, OUTBOX = Signature.__table__, NameToken.__table__, OutboxMessage.__table__
INSERT_WORDING = insert(ConsentWording.__table__)
BASE_FIELDS = (
    "campaign_id status dedup_key row_key email_enc name_enc comment_enc email_domain_hash "
    "country language "
    "consent_wording_id comment_hidden source referrer_code referral_code ip_hash link_nonce "
    "flagged flag_reason already_signed_mails created_at"
).split()


def signature_fields() -> list[str]:
    """The columns a new submission writes: the base ones and every consent's."""
    return [*BASE_FIELDS, *(c.column for c in consents.all_consents())]


MAIL_FIELDS = {  # the outbox row's parameters in the one-statement write, with their types
    "idempotency_key": String,
    "kind": String,
    "status": String,
    "attempts": Integer,
    "next_attempt_at": DateTime,
    "created_at": DateTime,
    "language": String,
    "context": String,
}
# The hot path's statements (dbapi.Statement: compiled once, run on the DBAPI
# connection). Each names exactly the columns it writes; the two that write the
# consents are built once per consent registry (consents.per_registry).


def new_signature():
    return insert(SIGNATURES).values({name: bindparam(name) for name in signature_fields()})


insert_signature = consents.per_registry(
    lambda: dbapi.Statement(new_signature().returning(SIGNATURES.c.id))
)
INSERT_NAME_TOKEN = dbapi.Statement(
    insert(NAME_TOKENS).values({name: bindparam(name) for name in ("signature_id", "token_hash")})
)
INSERT_MAIL = dbapi.Statement(  # mail.render_row's row (its body-less mail)
    insert(OUTBOX).values({name: bindparam(name) for name in ("signature_id", *MAIL_FIELDS)})
)


def _one_statement():
    """PostgreSQL: the signature, its name tokens and its outbox row as one statement
    (data-modifying CTEs). Run in autocommit it is one round trip, and atomic as any
    single statement is: all three rows commit, or none does."""
    new = new_signature().returning(SIGNATURES.c.id).cte("new_signature")
    hashes = func.unnest(bindparam("token_hashes", type_=ARRAY(String)))
    tokens = insert(NAME_TOKENS).from_select(
        ["signature_id", "token_hash"], select(new.c.id, hashes)
    )
    mail_row = [bindparam(f"mail_{name}", type_=kind) for name, kind in MAIL_FIELDS.items()]
    outbox = insert(OUTBOX).from_select(
        ["signature_id", *MAIL_FIELDS],
        select(new.c.id, *mail_row).where(bindparam("send_mail", type_=Boolean)),
    )
    return select(new.c.id).add_cte(tokens.cte("new_tokens"), outbox.cte("new_mail"))


write_in_one = consents.per_registry(lambda: dbapi.Statement(_one_statement()))


# The flag and the mail kind of a blocked source's placeholder (`placeholder`).
BLOCKED = "blocked"

# Input the service refuses; `field` names the form field it belongs to.
SigningError = FieldError


@dataclass
class SignatureInput:
    """One submission as the service records it: fields already validated."""

    fields: SignerFields  # forms.read_sign_form's, or check_signer's (`from_raw`)
    # The keys of the consents ticked (services/signer_data/consents.py): a pre-filled choice on the
    # confirm page, which is where the mailbox owner grants them.
    consents: frozenset[str] = frozenset()
    language: str = "en"
    source: str | None = None
    referrer_code: str | None = None
    ip: str | None = None
    wording: dict[str, str] = field(default_factory=dict)  # each consent's text as shown

    @classmethod
    def from_raw(
        cls, name: str, email: str, country: str, comment: str | None = None, **rest
    ) -> SignatureInput:
        """For callers holding raw input (seeding, tests): validated here, with the
        form's rules; raises SigningError for the first field refused. A consent may be
        given by its column (`public_consent=True`) and its wording by
        `consent_<key>_text=`."""
        ticked, wording = set(rest.pop("consents", ())), dict(rest.pop("wording", {}))
        for consent in consents.all_consents():
            if rest.pop(consent.column, False):
                ticked.add(consent.key)
            text = rest.pop(f"consent_{consent.key}_text", None)
            if text is not None:
                wording[consent.key] = text
        fields = check_signer(name, email, country, comment)
        return cls(fields=fields, consents=frozenset(ticked), wording=wording, **rest)


@dataclass
class SignOutcome:
    signature_id: int | None
    repeat: bool  # always False now: the request doesn't know (the mail worker decides)
    flagged: bool = False


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


def consent_wording_id(language: str, texts: dict[str, str]) -> int:
    """The id of this exact consent wording (each consent's text by key, as the
    registry lists them), stored once and shared by signatures."""
    wording = consents.wording_digest_text(language, texts)
    digest = hashlib.sha256(wording.encode()).hexdigest()
    known = cache.store(cache.CONSENT_WORDINGS)
    if digest in known:
        return known[digest]
    select_wording = select(ConsentWording.id).where(ConsentWording.digest == digest)
    # Its own short transaction, committed before the signature that names it: a
    # wording is immutable and named by its digest, so one nobody signed harms no one,
    # and the id can be cached at once.
    with db.engine.begin() as connection:
        wording_id = connection.scalar(select_wording)
        if wording_id is None:
            try:
                with connection.begin_nested():
                    row = {"digest": digest, "language": language}
                    for consent in consents.all_consents():
                        row[consent.wording_column] = texts.get(consent.key) or None
                    # The first two were required before the registry: "" if absent.
                    row["public_text"] = row.get("public_text") or ""
                    row["contact_text"] = row.get("contact_text") or ""
                    connection.execute(INSERT_WORDING, row)
            except IntegrityError:  # written by a concurrent request
                pass
            wording_id = connection.scalar(select_wording)
    known[digest] = wording_id
    return wording_id


def sign(
    content: CampaignContent,
    data: SignatureInput,
    *,
    flag_reason: str | None = None,
    send_mail: bool = True,
    blocked: bool = False,
) -> SignOutcome:
    """Record one submission (pending) and its bodiless mail, in one transaction.

    Every submission is its own row with its own link, whether or not the address has
    signed before: the request does the same work either way (one signature INSERT,
    its name-token rows, one outbox INSERT, all Core), so neither its answer nor its
    timing says whether the address signed. The mail worker decides what to send
    (services/letters/signer_mail.py). `flag_reason` records a signature that abuse checks
    caught: it is kept, but not counted until an organizer restores it (or, for
    FAST, until its mailbox owner confirms). `send_mail=False` is for bot-made rows
    (the honeypot), which must not mail whoever they named. The abuse decision
    (`abuse.check_signing`, blocked addresses included) is the caller's, made before.
    A blocked source or address (`blocked`) gets the same writes holding nothing of
    theirs (`placeholder`), so its answer takes as long as anyone's (issue 21, M2).
    """
    fields = data.fields
    name, email, comment = fields.name, fields.email, fields.comment
    campaign = campaign_ref(content)  # cached: no SELECT of the campaign per signature
    now = utcnow()
    nonce, referrer = links.new_nonce(), clean_code(data.referrer_code)
    row_key = crypto.new_row_key()
    values = {
        "campaign_id": campaign.id,
        "status": SignatureStatus.PENDING,
        # Bot-made rows (never mailed) name no address: they can't stand for anyone.
        "dedup_key": None if flag_reason and not send_mail else dedup_key(email.canonical),
        "row_key": row_key,
        "email_enc": seal("email", email.address, row_key),
        "name_enc": seal("name", name, row_key),
        "comment_enc": seal("comment", comment, row_key),
        "email_domain_hash": domain_hash(email.domain),
        "country": fields.country,
        "language": data.language,
        "consent_wording_id": consent_wording_id(data.language, data.wording),
        "comment_hidden": False,
        "source": clean_source(data.source),
        # Keyed hashes only: a dump must not show who recruited whom (links.py).
        "referrer_code": links.referrer_hash(referrer) if referrer else None,
        "referral_code": links.own_referral_hash(nonce),
        "ip_hash": crypto.ip_hash(data.ip),
        "link_nonce": nonce,
        "flagged": flag_reason is not None,
        "flag_reason": flag_reason,
        "already_signed_mails": 0,
        "created_at": now,
    }
    # The ticks are a pre-filled choice: confirming stores what the owner leaves ticked.
    values |= consents.stored_values(data.consents, has=lambda column: values[column] is not None)
    tokens = sorted(name_token_hashes(name))
    kind = "confirm"
    if blocked:
        values, tokens, kind = placeholder(values, tokens)
    mail_row = mail.render_row(kind, None, data.language, {"slug": content.slug})
    signature_id = write_submission(values, tokens, mail_row if send_mail else None)
    return SignOutcome(signature_id, repeat=False, flagged=flag_reason is not None)


# Personal columns a blocked source's placeholder leaves empty.
PERSONAL = (
    "dedup_key email_enc name_enc comment_enc email_domain_hash source referrer_code ip_hash"
).split()


def placeholder(values: dict, tokens: list[str]) -> tuple[dict, list[str], str]:
    """What a blocked source or address writes instead of its submission: the same rows
    (a signature, as many name-token rows, one bodiless outbox row), with none of what
    they typed: no address, name, comment or hash of them, random tokens. The mail
    worker deletes it (`signer_mail.render_blocked`); until then it is a pending,
    flagged row with no address, which nothing counts, lists publicly or mails.

    Blocked addresses used to be dropped with no write at all, so the answer came three
    times sooner than a signing's: a timing oracle for "is this address blocked?"."""
    blank = dict.fromkeys(PERSONAL) | {"flagged": True, "flag_reason": BLOCKED}
    return values | blank, [secrets.token_hex(16) for _ in tokens], BLOCKED


def write_submission(values: dict, tokens: list[str], mail_row: dict | None) -> int:
    """Write one submission, its name tokens and (if any) its mail; all commit together.

    No ORM session and no SQLAlchemy Connection: statements compiled once, on a DBAPI
    connection (dbapi.py). On PostgreSQL one statement on this thread's held connection,
    in autocommit (one round trip, write_in_one); on SQLite three in one transaction on
    a pooled connection, in this process's turn among writers (sqlite_wal.writer_turn).
    """
    engine = db.engine
    if engine.dialect.name == "postgresql":
        params = {**values, "token_hashes": tokens, "send_mail": mail_row is not None}
        params |= {f"mail_{name}": (mail_row or {}).get(name) for name in MAIL_FIELDS}
        with dbapi.connect(engine, autocommit=True) as runner:
            return runner.first(write_in_one(), params).id
    with dbapi.connect(engine) as runner, sqlite_wal.writer_turn(runner.info):
        signature_id = runner.first(insert_signature(), values).id
        if tokens:
            rows = [{"signature_id": signature_id, "token_hash": h} for h in tokens]
            runner.execute_many(INSERT_NAME_TOKEN, rows)
        if mail_row is not None:
            runner.execute(INSERT_MAIL, mail_row | {"signature_id": signature_id})
        runner.commit()
    return signature_id
