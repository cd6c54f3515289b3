"""Every consent a signer can give, declared once (issue 21.1).

Each surface that shows, stores, asks for or honours a consent reads this registry:
the sign form (`templates/petition/signing/_sign_form.html`), the confirm page's choices
(`confirmation.preview`, `_confirm_preview.html`), the stored wording
(`signing.consent_wording_id`), the confirm write (`confirm_write`), the signer's data
copy and its per-consent withdrawal (`privacy.data_copy`, `privacy.take_back`), the
privacy page, the export presets (`export_presets`, `csv_stream`) and the delivery
pack (`delivery`). `tests/petition/signing/test_consent_registry.py` adds a consent inside a
test and checks that every one of them shows it.

The rule that matters most (H1): a consent is granted only by the mailbox owner. The
confirm page shows every consent with the submission's choice, as a box the owner
can tick or untick, and the confirm POST stores exactly the boxes it carries: a box
the owner did not see cannot be ticked, and a bare POST grants nothing.

A later consent is one entry here, plus a migration adding its two columns:
`signatures.<column>` (boolean, default false) and `consent_wordings.<wording_column>`
(text, NULL for older wordings), and the translations of its two sentences.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from ...extensions import db
from ...models import Signature
from ..pages import cache

PUBLIC, ADDRESSEES, ORGANIZERS = "public", "addressees", "organizers"
T = TypeVar("T")


@dataclass(frozen=True)
class Consent:
    """One consent: off unless the signer ticks it, and granted only on confirming."""

    key: str  # its name in the data copy's wording and in URLs ("public", …)
    column: str  # the boolean column of `signatures` that holds it (also the form field)
    wording_column: str  # the `consent_wordings` column holding the wording shown
    label: Any  # the box's wording (lazy gettext), stored as shown in the signer's language
    shares: Any  # what it publishes or shares, with whom (privacy page, confirm page)
    audience: str  # who gets something: PUBLIC, ADDRESSEES or ORGANIZERS
    names_signer: bool  # shows or names the signer to anyone: only the owner may grant it
    on_paper: bool  # can be given on a paper sheet (a later issue adds them)
    data_key: str  # its yes/no in the signer's data copy (JSON)
    needs: str | None = None  # a column that must hold something for it to apply
    # Issue 23: the column a signature sealed to the organizers' key keeps readable to
    # the server only under this consent (services/signatures/confirm_write.py nulls it otherwise).
    keeps: str | None = None

    @property
    def field(self) -> str:
        """The form field (sign form, confirm page) carrying the box."""
        return self.column


_REGISTRY: list[Consent] = [
    Consent(
        key="public",
        column="public_consent",
        wording_column="public_text",
        label=_l("Show my first name, last initial and country on this page"),
        shares=_l(
            "Your first name, last initial and country are shown on the petition page, to everyone."
        ),
        audience=PUBLIC,
        names_signer=True,
        on_paper=False,
        data_key="show_name_publicly",
        keeps="display_enc",  # "first name, last initial" for the public list
    ),
    Consent(
        key="comment",
        column="comment_consent",
        wording_column="comment_text",
        # Its own box: a comment is published only under wording that says so.
        label=_l(
            "Show my comment on this page (with my first name and last initial only "
            "if I ticked the box above)"
        ),
        shares=_l(
            "Your comment is published on the petition page, to everyone (beside your "
            "first name and last initial only if you also chose to be listed)."
        ),
        audience=PUBLIC,
        names_signer=True,
        on_paper=False,
        data_key="show_comment_publicly",
        needs="comment_enc",
        keeps="comment_enc",
    ),
    Consent(
        key="contact",
        column="contact_consent",
        wording_column="contact_text",
        label=_l("Email me about this campaign (you can unsubscribe at any time)"),
        shares=_l(
            "The organizers email you news of this campaign. Your address is given to no one else."
        ),
        audience=ORGANIZERS,
        names_signer=False,
        on_paper=True,
        data_key="email_me_about_campaign",
        keeps="email_enc",  # the address, for the campaign's updates
    ),
    Consent(
        key="delivery",
        column="delivery_consent",
        wording_column="delivery_text",
        label=_l("Give my full name and country to the addressees when the petition is delivered"),
        shares=_l(
            "Your full name and country are given to the petition's addressees when it "
            "is delivered. Signers who don't tick this box are only counted."
        ),
        audience=ADDRESSEES,
        names_signer=True,
        on_paper=True,
        data_key="name_in_delivery_pack",
    ),
]
# The wordings stored before the registry: their digest is the three texts in this
# order; every other consent is appended as "\0key\0text" (see `wording_digest_text`).
_LEGACY_DIGEST_ORDER = ("public", "contact", "comment")
_version = itertools.count(1)
_current = [next(_version)]


def all_consents() -> tuple[Consent, ...]:
    """Every consent, in the order the sign form asks for them."""
    return tuple(_REGISTRY)


def version() -> int:
    """Changes whenever the registry does: caches and built statements key on it."""
    return _current[0]


def get(key: str) -> Consent | None:
    return next((c for c in _REGISTRY if c.key == key), None)


def owner_only() -> tuple[Consent, ...]:
    """The consents that show or name a signer to anyone."""
    return tuple(c for c in _REGISTRY if c.names_signer)


def for_audience(audience: str) -> tuple[Consent, ...]:
    return tuple(c for c in _REGISTRY if c.audience == audience)


def given(audience: str) -> list:
    """SQL conditions: every consent for `audience` was given (names sent to the
    addressees, mail from the organizers). At least one consent must exist for it."""
    chosen = for_audience(audience)
    if not chosen:
        raise LookupError(f"no consent for {audience}")
    table = Signature.__table__
    return [table.c[c.column].is_(True) for c in chosen]


@contextlib.contextmanager
def registered(consent: Consent) -> Iterator[Consent]:
    """A consent added for the length of a block (tests; a real one is a module entry)."""
    _REGISTRY.append(consent)
    _current[0] = next(_version)
    try:
        yield consent
    finally:
        _REGISTRY.remove(consent)
        _current[0] = next(_version)


def per_registry(build: Callable[[], T]) -> Callable[[], T]:
    """`build()` once per registry version (statements built from the consents)."""
    built: dict[int, T] = {}

    def current() -> T:
        key = version()
        value = built.get(key)
        if value is None:  # two threads may both build it once: harmless
            value = build()
            built.clear()
            built[key] = value
        return value

    return current


def ticked(formdata: Mapping[str, str]) -> frozenset[str]:
    """The keys of the boxes a POST carries ticked (as WTForms' BooleanField reads one)."""
    return frozenset(c.key for c in _REGISTRY if formdata.get(c.field, "") not in ("", "false"))


def wordings(language: str) -> dict[str, str]:
    """Each consent's wording in `language`, as shown and stored; translated once."""
    texts = cache.store(cache.CONSENT_TEXTS)
    key = (version(), language)
    if key not in texts:
        with force_locale(language):
            texts[key] = {c.key: str(c.label) for c in _REGISTRY}
    return texts[key]


def wording_digest_text(language: str, texts: Mapping[str, str]) -> str:
    """What a stored wording's digest is taken of: older wordings keep theirs."""
    parts = [language, *(texts.get(key, "") for key in _LEGACY_DIGEST_ORDER)]
    text = "\x00".join(parts)
    for consent in _REGISTRY:
        if consent.key not in _LEGACY_DIGEST_ORDER and texts.get(consent.key):
            text += f"\x00{consent.key}\x00{texts[consent.key]}"
    return text


def stored_values(ticked_keys: frozenset[str], *, has: Callable[[str], bool]) -> dict[str, bool]:
    """Each consent's column value for these ticks; `has(column)` says whether a column a
    consent needs (the comment) holds something."""
    return {c.column: c.key in ticked_keys and (c.needs is None or has(c.needs)) for c in _REGISTRY}


def granted(signature_id: int) -> dict[str, bool]:
    """Each consent's current value for one signature, by key (one small read)."""
    table = Signature.__table__
    row = db.session.execute(
        select(*(table.c[c.column] for c in _REGISTRY)).where(table.c.id == signature_id)
    ).one_or_none()
    values = tuple(row) if row is not None else (False,) * len(_REGISTRY)
    return {c.key: bool(value) for c, value in zip(_REGISTRY, values, strict=True)}


def wording_of(wording_id: int | None) -> dict[str, str | None]:
    """The stored wording a signature was shown, by consent key (None: not stored)."""
    empty: dict[str, str | None] = {c.key: None for c in _REGISTRY}
    if wording_id is None:
        return empty
    table = db.metadata.tables["consent_wordings"]
    row = db.session.execute(
        select(*(table.c[c.wording_column] for c in _REGISTRY)).where(table.c.id == wording_id)
    ).one_or_none()
    if row is None:
        return empty
    return {c.key: value for c, value in zip(_REGISTRY, tuple(row), strict=True)}
