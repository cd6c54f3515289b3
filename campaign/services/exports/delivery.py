"""The delivery pack: what organizers hand to a petition's addressees, as a PDF.

One HTML template (templates/delivery/pack.html, with a print stylesheet) is the
source of both the PDF (WeasyPrint) and the printable web page. The numbers are the
ones the dashboard and the API show (the same functions compute them), read in one
snapshot so they add up. Names come only from signers who gave the separate delivery
consent, decrypted by `privacy.delivery_names` through `sealed` (the one decrypt path).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain, groupby, islice
from operator import itemgetter
from pathlib import Path

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from markupsafe import Markup

from ...extensions import db
from ...i18n import number as format_number
from ...i18n import text_direction
from ...models import Campaign, utc_iso, utcnow
from ..intake import links
from ..intake.validation import country_name
from ..log import transparency
from ..pages.charts import bar_chart
from ..pages.content import CampaignContent, render_markdown
from ..sealing import audit
from ..signer_data import privacy, public
from .pack_layout import NameRows, cover_context, daily_points, verify_command
from .pack_numbers import PackNumbers, begin_snapshot, gather, listed_count

NAMES_PER_PARAGRAPH = 200  # names flow as plain text: far fewer layout boxes than a table
NAMES_PER_PART = 5000  # names laid out per WeasyPrint document (bounds its memory)


class DeliveryError(RuntimeError):
    pass


@dataclass(frozen=True)
class PackText:
    language: str
    direction: str
    title: str
    addressee: str
    petition_html: Markup


def texts(content: CampaignContent) -> list[PackText]:
    """The addressee and petition text in each of the campaign's languages."""
    result = []
    for language in content.languages:
        if language not in content.texts:
            continue
        text = content.texts[language]
        html = text.petition_html or render_markdown(text.petition_text)
        result.append(
            PackText(language, text_direction(language), text.title, text.addressee, html)
        )
    return result


@dataclass(frozen=True)
class NameGroup:
    """Up to NAMES_PER_PARAGRAPH consenting signers of one country (names only: the
    country is the group's heading, which keeps the text to lay out short)."""

    code: str
    country: str
    names: list[str]


def name_groups(campaign_id: int, language: str) -> Iterator[NameGroup]:
    """Consenting signers' names, streamed by country, a paragraph at a time."""
    stream = privacy.delivery_names(campaign_id)
    for code, rows in groupby(stream, key=itemgetter(1)):
        country = country_name(code, language)
        while chunk := [name for name, _code in islice(rows, NAMES_PER_PARAGRAPH)]:
            yield NameGroup(code, country, chunk)


def name_parts(groups: Iterator[NameGroup]) -> Iterator[list[NameGroup]]:
    """Groups in parts of about NAMES_PER_PART names: each part is laid out as its own
    PDF and its layout freed, so memory stays flat however many names there are."""
    part: list[NameGroup] = []
    size = 0
    for group in groups:
        part.append(group)
        size += len(group.names)
        if size >= NAMES_PER_PART:
            yield part
            part, size = [], 0
    if part:
        yield part


def render_html(
    content: CampaignContent,
    campaign: Campaign,
    numbers: PackNumbers,
    *,
    language: str,
    stylesheet: str,
    with_names: bool = True,
) -> str:
    """The pack as one HTML document. Without names (for the PDF, which adds them in
    parts, their heading with them), the names section is left out when names follow."""
    points = daily_points(numbers.history)
    chart = (
        bar_chart(
            points, title=_("Confirmed signatures per day"), label_every=max(1, len(points) // 8)
        )
        if points
        else None
    )
    listed = listed_count(campaign.id)
    return render_template(
        "delivery/pack.html",
        **cover_context(content, language, numbers.counted_at),
        count_span=Markup('<span class="count">%s</span>') % format_number(numbers.total),
        other_texts=[t for t in texts(content) if t.language != language],
        n=numbers,
        listed=listed,
        countries=[
            (code, country_name(code, language) if code != public.OTHER else None, count)
            for code, count in numbers.by_country.items()
        ],
        min_country_group=public.MIN_COUNTRY_GROUP,
        chart=chart,
        names=name_groups(campaign.id, language) if with_names else (),
        name_rows=NameRows(language, numbers.named),
        names_follow=not with_names and listed > 0,
        verify_command=verify_command(content.slug, numbers.log_url),
        stylesheet=stylesheet,
        source_document=content.text(language).source_document or content.source_document,
    )


def stylesheet_path() -> Path:
    return Path(current_app.static_folder) / "css" / "delivery.css"


def write_pdf(
    content: CampaignContent,
    campaign: Campaign | None,
    numbers: PackNumbers | None,
    *,
    language: str,
    groups: Iterator[NameGroup] | None = None,
    listed: int = 0,
) -> bytes:
    """The pack as a PDF: the main document, then the names in parts, concatenated.
    With `groups` and no `numbers`: the named list alone, from names opened offline
    (`flask delivery pack --from-export`, issue 23), `listed` names, behind its cover."""
    # Imported here, not at the top: WeasyPrint loads Pango and fonts (~30 MB, seconds),
    # which no web worker should pay for until someone makes a pack. (No import cycle.)
    from ..pages import pdf

    base = Path(current_app.static_folder)
    stylesheet = stylesheet_path().resolve().as_uri()
    if numbers is None or campaign is None:
        main = render_template(
            "delivery/cover.html",
            **cover_context(content, language, utcnow()),
            count_span=Markup('<span class="count">%s</span>') % format_number(listed),
            listed=listed,
            stylesheet=stylesheet,
        )
    else:
        main = render_html(
            content, campaign, numbers, language=language, stylesheet=stylesheet, with_names=False
        )
        listed = listed_count(campaign.id)
    if groups is None:
        groups = name_groups(campaign.id, language) if campaign is not None else iter(())
    rows = NameRows(language, numbers.named if numbers is not None else listed)
    documents = (
        render_template(
            "delivery/names.html",
            language=language,
            names=part,
            first=index == 0,
            n=numbers,
            listed=listed,
            name_rows=rows,
            text_direction=text_direction(language),
            stylesheet=stylesheet,
        )
        for index, part in enumerate(name_parts(groups))
    )
    return pdf.concatenate(pdf.html_to_pdf(html, base) for html in chain([main], documents))


@dataclass
class Pack:
    body: bytes
    filename: str
    mimetype: str
    numbers: PackNumbers


PACK_STEPS = 3  # what `build` reports to `step`: counted, recorded, written


def build(
    content: CampaignContent,
    campaign: Campaign,
    *,
    language: str | None = None,
    fmt: str = "pdf",
    via: str = "admin",
    step: Callable[[int], None] = lambda done: None,
) -> Pack:
    """Make the pack (PDF, or the printable HTML) and record it in the audit log.

    The audit entry is committed before the first name is decrypted: no names are read
    or leave without a record.
    """
    if fmt not in ("pdf", "html"):
        raise DeliveryError(f"unknown format {fmt!r}")
    language = language if language in content.texts else content.default_language
    # The signed checkpoint the pack counts from: every count change so far appended,
    # then signed, so a reader can check the pack's number against the public log.
    logged = transparency.checkpoint_row(content.slug)
    begin_snapshot()
    with force_locale(language):
        numbers = gather(campaign)
        numbers.checkpoint_note, numbers.checkpoint_count = logged.note, logged.count
        numbers.log_url = links.external_url("petition.log_checkpoint", slug=content.slug)
        step(1)  # counted (of PACK_STEPS: counted, recorded, written)
        # Recorded (committed on its own, the snapshot kept) before the first name is
        # decrypted: no name is read, let alone leaves, without a record.
        audit.record_look(
            "delivery_pack",
            campaign_id=campaign.id,
            target=content.slug,
            actor_email=None if via == "admin" else via,
            details={
                "format": fmt,
                "language": language,
                "total": numbers.total,
                "named": numbers.named,
                "counted_at": utc_iso(numbers.counted_at),
                "via": via,
            },
        )
        step(1)
        if fmt == "pdf":
            body = write_pdf(content, campaign, numbers, language=language)
        else:  # a browser reads the stylesheet from the site (from disk outside a request)
            stylesheet = (
                url_for("static", filename="css/delivery.css")
                if has_request_context()
                else stylesheet_path().resolve().as_uri()
            )
            body = render_html(
                content, campaign, numbers, language=language, stylesheet=stylesheet
            ).encode()
    db.session.commit()  # end the snapshot
    step(1)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
    return Pack(
        body,
        f"{content.slug}-delivery-{stamp}.{fmt}",
        "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8",
        numbers,
    )
