"""The catalogs and the code agree: every message the code shows has a French and a
Persian translation, and no catalog keeps a message the code no longer uses (review #46:
a stale entry stated the old rule on comments, and could come back). The entries are
edited by hand (merged by union), so nothing else keeps them in step."""

from __future__ import annotations

import os
import subprocess
from functools import cache

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from tests.helpers import ROOT, SLUG

CATALOGS = ROOT / "campaign" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}


def key(msgid: str | tuple) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


@cache
def used() -> frozenset[str]:
    """What `make extract-messages` would find, read in memory."""
    with open(ROOT / "babel.cfg") as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found = extract_from_dir(ROOT, method_map, options_map, keywords=KEYWORDS)
    return frozenset(key(message) for _, _, message, _, _ in found if key(message))


def catalog(path) -> dict[str, tuple[str, ...]]:
    with open(path, "rb") as po:
        entries = read_po(po)
    return {
        key(m.id): m.string if isinstance(m.string, tuple) else (m.string,) for m in entries if m.id
    }


@pytest.mark.parametrize("language", ["fr", "fa"])
def test_every_message_shown_is_translated(language):
    translations = catalog(CATALOGS / language / "LC_MESSAGES" / "messages.po")
    missing = sorted(m for m in used() if not all(s.strip() for s in translations.get(m, ("",))))
    assert not missing, missing


@pytest.mark.parametrize(
    "path", ["messages.pot", "fr/LC_MESSAGES/messages.po", "fa/LC_MESSAGES/messages.po"]
)
def test_no_catalog_keeps_a_message_the_code_no_longer_shows(path):
    """Remove a stale entry by hand (its comments, msgid and msgstr lines); never with
    pybabel update, which rewrites the whole file."""
    stale = sorted(set(catalog(CATALOGS / path)) - used())
    assert not stale, stale


def test_the_template_is_complete():
    assert not sorted(used() - set(catalog(CATALOGS / "messages.pot")))


@pytest.mark.parametrize(
    ("prefix", "claim"),
    [
        ("", "uses no third-party tracking"),
        ("/fr", "n’utilise aucun outil de suivi tiers"),
        ("/fa", "هیچ ابزار ردیابی شخص ثالث به کار نمی‌برد"),
    ],
)
def test_the_footer_claims_no_more_than_is_true(client, prefix, claim):
    """Review #47: "uses no tracking", while the site records the link that brought each
    signer and a daily hash of the address; what it has none of is third-party tracking."""
    page = client.get(f"{prefix}/{SLUG}/").get_data(as_text=True)
    assert claim in page


@pytest.mark.parametrize("language", ["fa", "fr"])
def test_each_catalog_is_well_formed_for_gnu_msgfmt(language):
    """Babel reads a union merge's leftovers without a word: two `msgstr` lines under one
    `msgid` (the later one wins, so "Please choose a petition." once read as the receipt
    mail's thanks in Persian), or one message twice. GNU msgfmt's check refuses both."""
    path = CATALOGS / language / "LC_MESSAGES" / "messages.po"
    checked = subprocess.run(
        ["msgfmt", "--check", "-o", os.devnull, str(path)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr
