"""French typography in the interface catalog, as the content already follows it
(tests/petition/test_case_text.py): a no-break space before : ; ? ! and », after «,
and curly apostrophes. Issue 24 §17, content review #35, #36, #43."""

from __future__ import annotations

import re

from babel.messages.pofile import read_po

from tests.helpers import ROOT

CATALOGS = ROOT / "campaign" / "translations"
NO_BREAK = "\u202f\u00a0"  # narrow no-break space, or no-break space
# A plain space (or none) before : ; ? ! », or after «. A "?" glued to a word is a
# query string (?lang=fa), not a question mark.
PLAIN_SPACE = re.compile(r" [:;!»]| \?(?!\w)|« ")
NO_SPACE = re.compile(rf"[^\s{NO_BREAK}]»|«[^\s{NO_BREAK}]|[^\s{NO_BREAK}/][;!?](?=\s|$)")
# A colon glued to a word is French only in URLs and HTTP headers ("Origin: *").
GLUED_COLON = re.compile(r"\w:(?=\s|$)")
HEADER = re.compile(r"\b[A-Z][A-Za-z]*(?:-[A-Z][A-Za-z]*)+: \S+")


def catalog(language: str):
    with open(CATALOGS / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        return read_po(po, locale=language)


def translations(language: str) -> list[tuple[str, str]]:
    found = []
    for message in catalog(language):
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        found.extend((ids[0], string) for string in strings)
    return found


def typography_faults(text: str) -> list[str]:
    text = HEADER.sub("HEADER", text)
    faults = [m.group() for m in PLAIN_SPACE.finditer(text)]
    faults += [m.group() for m in NO_SPACE.finditer(text)]
    faults += [m.group() for m in GLUED_COLON.finditer(text)]
    if "'" in text:
        faults.append("straight apostrophe")
    return faults


def test_the_rule_sees_what_the_review_saw():
    assert typography_faults("Objectif : 10 000")
    assert typography_faults("Vous avez changé d’avis ?")
    assert typography_faults("« %(title)s »")
    assert typography_faults("Dossier de remise: %(title)s")
    assert typography_faults("d'être nommés")
    assert not typography_faults("Objectif\u202f: 10\u00a0000\u202f; ajoutez ?lang=fa")
    assert not typography_faults(
        "«\u00a0%(title)s\u00a0» (CORS\u202f: Access-Control-Allow-Origin: *)"
    )


def test_every_french_message_is_typeset_in_french():
    """72 French interface strings had a plain space before : ; ? ! (9 on public
    pages), and thirteen a straight apostrophe."""
    faults = {msgid: typography_faults(text) for msgid, text in translations("fr")}
    faults = {msgid: found for msgid, found in faults.items() if found}
    assert not faults, f"{len(faults)} French strings: {faults}"


def test_french_says_listed_publicly_without_a_masculine_participle():
    """Review #43: «accepté d’être listé» was colloquial and masculine only."""
    texts = " ".join(text for _, text in translations("fr"))
    assert "être listé" not in texts
    assert "figurer dans la liste publique" in texts


def test_a_label_and_its_value_are_one_message():
    """Review #36: the pack's title put a hard-coded ":" after a translated string,
    with no space in French («Dossier de remise: …»)."""
    templates = ROOT / "templates"
    glued = []
    for path in templates.rglob("*.*"):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if re.search(r'_\("[^"]*"\)\s*}}\s*[:;?!]', line):
                glued.append(f"{path.relative_to(ROOT)}:{number}")
    assert not glued, glued
    french = dict(translations("fr"))
    assert french["%(label)s: %(value)s"] == "%(label)s\u202f: %(value)s"
