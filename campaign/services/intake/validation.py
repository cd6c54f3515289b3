"""Input rules for signatures: names, emails, comments, countries.

Plain functions raising `ValueError` with a translatable message, used by the
sign form (for messages next to fields) and by the signing service.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache

from babel import Locale
from disposable_email_domains import blocklist
from email_validator import EmailNotValidError, caching_resolver, validate_email
from flask import current_app
from flask_babel import lazy_gettext as _l

from . import email_typos

NAME_MAX = 100
COMMENT_MAX = 500
# Ordinary punctuation found in names; ZWNJ/ZWJ join letters in Persian and Indic names.
# U+30FB (katakana middle dot) separates given and family names written in katakana.
NAME_PUNCTUATION = set(" .,'’‘-‐‑()·\u30fb\u200c\u200d")
FORMULA_PREFIXES = ("=", "+", "-", "@")
URL_PATTERN = re.compile(r"(://|www\.|\b[\w-]+\.(com|net|org|io|ru|ir|info|xyz|top)\b)", re.I)
# Not real countries in Babel's territory list.
NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ"}


@dataclass(frozen=True)
class NormalizedEmail:
    address: str  # as the signer should receive it (email-validator's `normalized`)
    canonical: str  # the dedup form: NFC, local part case-folded, domain IDNA-normalized
    domain: str
    ascii_domain: str = ""  # the domain in IDNA (xn--) form, for block and allow lists


@dataclass(frozen=True)
class SignerFields:
    """A signer's fields as validation leaves them: the signing service trusts these."""

    name: str  # normalize_name
    email: NormalizedEmail  # accepted_email: normalized, domain lists applied
    country: str  # one of country_codes()
    comment: str | None  # clean_comment


class FieldError(ValueError):
    """A refused field: `field` names the form field the message belongs next to."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_id(raw: str | None) -> int | None:
    """A database id from a query string or token, or None.

    `str.isdigit()` alone accepts '²' and '١', which `int()` refuses or misreads, and
    a long number would overflow the database's integer.
    """
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 18:
        return int(raw)
    return None


def normalize_name(raw: str) -> str:
    name = unicodedata.normalize("NFC", raw or "")
    name = " ".join(name.split())
    if not name:
        raise ValueError(_l("Please enter your name."))
    if len(name) > NAME_MAX:
        raise ValueError(_l("Please keep your name to %(max)d characters.", max=NAME_MAX))
    if name.startswith(FORMULA_PREFIXES):
        raise ValueError(_l("A name can't start with = + - or @."))
    if URL_PATTERN.search(name):
        raise ValueError(_l("Please enter a name, not a web address."))
    for char in name:
        category = unicodedata.category(char)
        if category[0] in "LM" or char in NAME_PUNCTUATION:
            continue
        raise ValueError(_l("Please use only letters, spaces and punctuation in your name."))
    if not any(unicodedata.category(c)[0] == "L" for c in name):
        raise ValueError(_l("Please enter your name."))
    return name


@cache
def _resolver(timeout: float):
    return caching_resolver(timeout=timeout)


# email-validator explains in a library's words and in English only; we say it our
# way, in the signer's language. Matched on its messages (stable across 2.x).
EMAIL_PROBLEMS = (
    (
        ("exactly one @-sign", "'@'"),
        _l("An email address needs one @ sign, like name@example.org."),
    ),
    (("space",), _l("Please remove the spaces from your email address.")),
    (("something before the @-sign",), _l("Please add the part before the @ sign.")),
    (
        ("something after the @-sign",),
        _l("Please add the part after the @ sign, like example.org."),
    ),
    (
        ("should have a period", "not valid. it should"),
        _l("The part after the @ sign needs a dot, like example.org."),
    ),
    (
        ("period",),
        _l(
            "Please check the dots in your email address: two in a row, or one at "
            "the start or end of a part, can't be right."
        ),
    ),
    (
        ("after the @-sign contains invalid characters", "hyphen", "after the @-sign is not"),
        _l("The part after the @ sign can't be right. Please check it for typos."),
    ),
    (
        ("before the @-sign", "invalid character"),
        _l("The part before the @ sign has a character email addresses can't use."),
    ),
    (
        ("does not exist", "does not accept email", "dns"),
        _l("We can't find that email provider. Please check the part after the @ sign."),
    ),
    (("too long",), _l("That email address is too long.")),
)


def email_problem(exc: Exception):
    """Our message for one of email-validator's refusals."""
    reason = str(exc).lower()
    for needles, message in EMAIL_PROBLEMS:
        if any(needle in reason for needle in needles):
            return message
    return _l("That email address doesn't look right. Please check it.")


def normalize_email(
    raw: str, *, fold_aliases: bool | None = None, check_dns: bool | None = None
) -> NormalizedEmail:
    config = current_app.config
    if check_dns is None:
        check_dns = config["EMAIL_CHECK_DELIVERABILITY"]
    if not raw or not raw.strip():
        raise ValueError(_l("Please enter your email address."))
    if len(raw) > 254:
        raise ValueError(_l("That email address is too long."))
    try:
        info = validate_email(
            raw.strip(),
            check_deliverability=check_dns,
            dns_resolver=_resolver(config["EMAIL_DNS_TIMEOUT"]) if check_dns else None,
        )
    except EmailNotValidError as exc:
        raise ValueError(email_problem(exc)) from exc
    local, _, domain = info.normalized.rpartition("@")
    local = unicodedata.normalize("NFC", local).casefold()
    if fold_aliases if fold_aliases is not None else config["FOLD_EMAIL_ALIASES"]:
        local, domain = fold_provider_aliases(local, domain)
    return NormalizedEmail(
        address=info.normalized,
        canonical=f"{local}@{domain}",
        domain=domain,
        ascii_domain=(info.ascii_domain or domain).lower(),
    )


def _domain_in(domain: str, listed: str) -> bool:
    """`domain` is `listed` or one of its subdomains."""
    listed = listed.strip().lower().lstrip("@").strip(".")
    return bool(listed) and (domain == listed or domain.endswith("." + listed))


def is_disposable(domain: str) -> bool:
    """Whether the domain (or a parent of it) is on the disposable-email-domains list."""
    labels = domain.lower().split(".")
    return any(".".join(labels[i:]) in blocklist for i in range(len(labels) - 1))


def check_email_policy(email: NormalizedEmail) -> None:
    """Refuse addresses the configured domain lists exclude, with a message to the signer.

    These are answered openly, not silently: the person is real and can simply use
    another address, and a domain rule is no secret. (Blocked individual addresses,
    by contrast, are dropped silently: see `services.intake.abuse.check_signing`.)
    """
    config = current_app.config
    domain = email.ascii_domain or email.domain.lower()
    allowed = [d for d in config["ALLOWED_EMAIL_DOMAINS"] if d.strip()]
    explicitly_allowed = any(_domain_in(domain, d) for d in allowed)
    if allowed and not explicitly_allowed:
        raise ValueError(
            _l(
                "This petition accepts addresses at %(domains)s only.",
                domains=", ".join(d.strip().lstrip("@") for d in allowed),
            )
        )
    if any(_domain_in(domain, d) for d in config["BLOCKED_EMAIL_DOMAINS"]):
        raise ValueError(
            _l(
                "Addresses at %(domain)s can't sign this petition. Please use another address.",
                domain=email.domain,
            )
        )
    # An organizer's explicit allow list overrides the public disposable list.
    if config["BLOCK_DISPOSABLE_EMAIL"] and not explicitly_allowed and is_disposable(domain):
        # Some typos of big providers ("gmial.com") are on the public list: a real
        # person's slip is answered as one, never as a fake address (issue 24.5).
        likely = email_typos.suggest(email.address)
        if likely:
            raise ValueError(
                _l(
                    "Did you mean %(address)s? Please check your email address: we need "
                    "it to confirm your signature.",
                    address=likely,
                )
            )
        raise ValueError(
            _l(
                "%(domain)s is a disposable-mail service. Please use an address you keep: "
                "we need it to confirm your signature, and to reach you if you withdraw.",
                domain=email.domain,
            )
        )


def accepted_email(raw: str) -> NormalizedEmail:
    """Normalize an address and apply the domain lists (for the sign form and the API)."""
    email = normalize_email(raw)
    check_email_policy(email)
    return email


def known_country(code: str) -> str:
    if code not in country_codes():
        raise ValueError(_l("Please choose your country."))
    return code


def check_signer(
    name: str | None, email: str | None, country: str | None, comment: str | None
) -> SignerFields:
    """The one validation of a signer's fields, for callers with raw strings (the sign
    form runs the same rules field by field); raises `FieldError` for the first bad one."""
    checks = (
        ("name", normalize_name, name),
        ("email", accepted_email, email),
        ("country", known_country, country),
        ("comment", clean_comment, comment),
    )
    clean = {}
    for field, check, raw in checks:
        try:
            clean[field] = check(raw)
        except ValueError as exc:
            raise FieldError(field, str(exc)) from exc
    return SignerFields(**clean)


def fold_provider_aliases(local: str, domain: str) -> tuple[str, str]:
    """Fold aliases that reach the same mailbox: `+tag`, and Gmail's dots and googlemail."""
    local = local.split("+", 1)[0] or local
    if domain == "googlemail.com":
        domain = "gmail.com"
    if domain == "gmail.com":
        local = local.replace(".", "")
    return local, domain


def clean_comment(raw: str | None) -> str | None:
    if not raw:
        return None
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").strip()
    # Drop control and bidi-override characters; keep newlines and the joiners names need.
    text = "".join(
        c for c in text if c == "\n" or c in "\u200c\u200d" or unicodedata.category(c)[0] != "C"
    )
    if len(text) > COMMENT_MAX:
        raise ValueError(_l("Please keep your comment to %(max)d characters.", max=COMMENT_MAX))
    text = text.strip()  # again: removed characters may have hidden outer spaces
    return text or None


@cache
def _countries(language: str) -> tuple[tuple[str, str], ...]:
    names = Locale.parse(language).territories
    codes = (code for code in names if len(code) == 2 and code.isalpha())
    rows = [(code, names[code]) for code in codes if code not in NOT_COUNTRIES]
    return tuple(sorted(rows, key=lambda row: collation_key(row[1])))


# Persian letters in alphabetical order; Unicode puts پ چ ژ گ far from their neighbours.
PERSIAN_ALPHABET = "آاأبپتثجچحخدذرزژسشصضطظعغفقکگلمنوهیئ"
_PERSIAN_ORDER = {char: index for index, char in enumerate(PERSIAN_ALPHABET)}


def collation_key(name: str) -> tuple:
    """A sort key close to each language's alphabet order, without ICU:
    accents are ignored (Bénin before Burundi) and Persian letters sort in their order."""
    base = unicodedata.normalize("NFKD", name.casefold())
    letters = [c for c in base if not unicodedata.combining(c)]
    return tuple(
        (_PERSIAN_ORDER.get(c, 100 + ord(c)) if "\u0600" <= c <= "\u06ff" else ord(c))
        for c in letters
    )


def country_choices(language: str = "en") -> list[tuple[str, str]]:
    """Every ISO 3166 country, named in `language` (from Babel's CLDR data)."""
    return list(_countries(language))


@cache  # the same set on every call; built once, not per validation
def country_codes() -> frozenset[str]:
    return frozenset(code for code, _ in _countries("en"))


def country_name(code: str, language: str = "en") -> str:
    return Locale.parse(language).territories.get(code, code)


def country_code_for(text: str, languages: tuple[str, ...] = ("en", "fa", "fr")) -> str | None:
    """The ISO code for a country typed by name ("Germany", "آلمان", "allemagne") or code."""
    wanted = " ".join((text or "").split()).casefold()
    if len(wanted) == 2 and wanted.upper() in country_codes():
        return wanted.upper()
    for language in languages:
        for code, name in _countries(language):
            if name.casefold() == wanted:
                return code
    return None
