"""The delivery pack: a real PDF (WeasyPrint), read back with poppler's pdftotext."""

from __future__ import annotations

import re
import subprocess
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from campaign.extensions import db
from campaign.models import AuditEvent, Signature, SignatureStatus
from campaign.services.exports import delivery
from campaign.services.log import tlog_pending, tlog_store
from campaign.services.pages import cache
from campaign.services.signer_data import privacy
from tests.admin.helpers import campaign_content, campaign_row, make_signature, token_for
from tests.helpers import SLUG

CONSENTING = "Shirin Ebadi-Testname"
NOT_CONSENTING = "Parvaneh Secretname"


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    # Shaped Arabic script may come back as presentation forms; NFKC maps them back.
    return unicodedata.normalize("NFKC", out)


# Bidi controls pdftotext adds around right-to-left runs, and the zero-width non-joiner
# (نیم‌فاصله) it drops: neither is a letter a reader sees.
INVISIBLE = re.compile("[\u200c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def squash(text: str) -> str:
    """Whitespace-free, to compare text that the PDF's layout wrapped over lines."""
    return re.sub(r"\s+", "", INVISIBLE.sub("", unicodedata.normalize("NFKC", text)))


def words(text: str) -> set[str]:
    # A bidi control separates runs (a word from the next run's digits); ZWNJ joins.
    plain = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", " ", text)
    plain = unicodedata.normalize("NFKC", plain).replace("\u200c", "")
    return {w for w in re.split(r"[\s.,:;!?()«»،؛\-–—]+", plain) if w}


def signers() -> None:
    named = make_signature(CONSENTING, "shirin@example.org", "DE")
    named.delivery_consent = True
    make_signature(NOT_CONSENTING, "parvaneh@example.org", "FR")
    for n, first in enumerate(("Astrid", "Bjorn", "Cecilia", "Dag", "Ebba")):
        make_signature(f"{first} Svensson", f"s{n}@example.org", "SE")
    make_signature("Never Confirmed", "pending@example.org", status=SignatureStatus.PENDING)
    withdrawn_named = make_signature("Gone Withdrawn", "gone@example.org")
    withdrawn_named.delivery_consent = True
    db.session.commit()
    privacy.withdraw(withdrawn_named)
    cache.signatures_changed()


def test_pack_pdf_has_count_texts_in_three_languages_and_only_consenting_names(
    app, users, as_role, tmp_path
):
    signers()
    client = as_role("organizer")
    page = client.get(f"/admin/{SLUG}/delivery")
    assert page.status_code == 200
    response = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": "en",
            "format": "pdf",
        },
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_data()
    assert body.startswith(b"%PDF-")
    text = pdf_text(body, tmp_path)
    assert re.search(r"\b7\s+confirmed signatures", text)
    assert re.search(r"Counted on \W?\d{4}-\d\d-\d\d\W? at \W?\d\d:\d\d\W? UTC", text)
    assert "1 signer agreed to be named" in text and "6 other signers are counted but not" in text
    assert CONSENTING in text
    assert NOT_CONSENTING not in text and "Secretname" not in text
    assert "Gone Withdrawn" not in text
    assert "@example.org" not in text
    content = campaign_content()
    flat = squash(text)
    for language in ("en", "fr"):
        petition = content.text(language).petition_text
        # The opening sentence and the closing one, in each language.
        first_line = petition.strip().splitlines()[0]
        last_line = petition.strip().splitlines()[-1]
        assert squash(first_line) in flat, (language, first_line)
        assert squash(last_line) in flat, (language, last_line)
    # Persian: pdftotext gives each right-to-left run in reading order, but orders the
    # runs between punctuation visually; so: every word of the text, and whole phrases.
    persian = content.text("fa").petition_text
    assert words(persian) <= words(text), words(persian) - words(text)
    for phrase in ("خطاب به دبیرکل سازمان ملل متحد", "قربانیان و خانواده‌هایشان سزاوار حقیقت"):
        assert phrase in persian and squash(phrase) in flat, phrase
    # The pack's fonts are embedded (no font left to the reader's machine).
    fonts = subprocess.run(
        ["pdffonts", str(tmp_path / "pack.pdf")], check=True, capture_output=True, text=True
    ).stdout
    assert "Pack-Naskh" in fonts  # the @font-face of NotoNaskhArabic-Regular.ttf
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])  # emb column
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "delivery_pack")
    ).all()
    assert len(events) == 1 and events[0].actor_email == "organizer@admin.test"
    assert '"total": 7' in events[0].details and '"named": 1' in events[0].details


def test_viewers_may_not_make_a_pack(app, users, as_role):
    client = as_role("viewer")
    assert client.get(f"/admin/{SLUG}/delivery").status_code == 403
    assert client.post(f"/admin/{SLUG}/delivery", data={}).status_code in (400, 403)
    owner = as_role("owner")
    assert owner.get(f"/admin/{SLUG}/delivery").status_code == 200


def test_pack_dashboard_and_api_show_the_same_numbers(app, users, as_role, tmp_path):
    signers()
    # The API shows countries as of a cutoff a day back (issue 9.18): date the
    # signatures before it, so all three describe the same signatures.
    now = datetime.now(UTC).replace(tzinfo=None)
    db.session.execute(update(Signature).values(confirmed_at=now - timedelta(days=3)))
    db.session.execute(
        update(Signature)
        .where(Signature.withdrawn_at.is_not(None))
        .values(withdrawn_at=now - timedelta(days=2))
    )
    db.session.commit()
    client = as_role("owner")
    dashboard = client.get(f"/admin/{SLUG}/").get_data(as_text=True)
    counted = re.search(r'id="stat-counted">([^<]+)<', dashboard).group(1)
    api = app.test_client().get(f"/api/v1/petitions/{SLUG}").get_json()
    response = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": "en",
            "format": "html",
        },
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    total = re.search(r'<span class="count">([^<]+)</span>', html).group(1)
    assert counted == total == str(api["total_signatures"]) == "7"
    # Countries: the API's folding (SE has 5; DE and FR fold into "other").
    assert api["counts_by_country"] == {"SE": 5, "other": 2}
    assert re.search(r"Sweden \(SE\)</td><td>5<", html)
    assert re.search(r"Other</td><td>2<", html)
    pdf = client.post(
        f"/admin/{SLUG}/delivery",
        data={
            "csrf_token": token_for(client, f"/admin/{SLUG}/delivery"),
            "language": "fr",
            "format": "pdf",
        },
    )
    text = pdf_text(pdf.get_data(), tmp_path)
    assert re.search(r"\b7\s+signatures confirmées", text)


def test_cli_makes_the_same_pack_and_it_is_audited(app, tmp_path):
    signers()
    output = tmp_path / "pack.pdf"
    result = app.test_cli_runner().invoke(
        args=["delivery", "pack", "--campaign", SLUG, "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    assert "7 confirmed signatures, 1 named, 6 not named" in result.output
    text = pdf_text(output.read_bytes(), tmp_path)
    assert CONSENTING in text and NOT_CONSENTING not in text
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "delivery_pack")).one()
    assert event.actor_email == "cli"
    missing = app.test_cli_runner().invoke(args=["delivery", "pack", "--campaign", "nope"])
    assert missing.exit_code != 0 and "no campaign" in missing.output


def test_a_name_cannot_make_the_pdf_engine_fetch_a_url(app, tmp_path):
    """Attack: a signer's name holding markup (an <img> or a stylesheet link) to make
    the server fetch a URL while it renders the PDF (SSRF), or to inject content."""
    hostile = make_signature(
        "Eve Hacker", "eve@example.org", raw_name="Eve <img src=http://127.0.0.1:9/x> Hacker"
    )
    hostile.delivery_consent = True
    db.session.commit()
    result = app.test_cli_runner().invoke(
        args=["delivery", "pack", "--campaign", SLUG, "--output", str(tmp_path / "p.pdf")]
    )
    assert result.exit_code == 0, result.output
    assert "<img" in pdf_text((tmp_path / "p.pdf").read_bytes(), tmp_path)  # as text


def test_pack_counts_from_a_signed_checkpoint_of_the_log(app, tmp_path):
    signers()
    campaign_id = campaign_row().id
    tlog_pending.backfill(campaign_id)  # rows made directly, before the log saw them
    pack = delivery.build(campaign_content(), campaign_row(), fmt="pdf", via="cli")
    text = pdf_text(pack.body, tmp_path)
    latest = tlog_store.latest_checkpoint(campaign_id)
    assert latest is not None and latest.count == pack.numbers.total == 7
    origin, size, root = latest.note.splitlines()[:3]
    flat = squash(text)
    # The note is printed whole: origin, tree size, root hash and its signature line.
    for line in (origin, size, root):
        assert squash(line) in flat, line
    assert squash("counts 7 signatures") in flat
    assert squash(f"flask count verify http://petition.test/{SLUG}/log") in flat


def test_names_laid_out_in_parts_all_arrive_in_one_pdf(app, tmp_path, monkeypatch):
    """The PDF lays names out a part at a time and joins the parts (memory stays flat at
    100,000 names): with tiny parts, every consenting name is still there, once."""
    monkeypatch.setattr(delivery, "NAMES_PER_PART", 2)
    monkeypatch.setattr(delivery, "NAMES_PER_PARAGRAPH", 2)
    people = [
        ("Azadeh Nouri", "DE"),
        ("Babak Nouri", "DE"),
        ("Camille Martin", "FR"),
        ("Darius Nouri", "DE"),
        ("مهسا امینی", "IR"),
    ]
    for n, (name, country) in enumerate(people):
        make_signature(name, f"p{n}@example.org", country).delivery_consent = True
    make_signature("Quiet Person", "quiet@example.org", "DE")
    db.session.commit()
    pack = delivery.build(campaign_content(), campaign_row(), fmt="pdf", via="test")
    text = pdf_text(pack.body, tmp_path)
    for name, _country in people:
        assert squash(name) in squash(text), name
        assert squash(text).count(squash(name)) == 1, name
    assert "Quiet Person" not in text
    assert pack.numbers.named == 5 and pack.numbers.unnamed == 1
    assert text.count("Germany (DE)") >= 2  # the heading repeats where a part begins
