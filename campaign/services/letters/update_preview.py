"""Before an update is published: its preview, a test send to the organizer, and who
it would reach (issue 24, item 11).

The preview is the mail exactly as a signer of each language gets it (wrapper in that
language), with a stand-in name and links to the campaign page. The test send mails
that to the organizer alone: no signer's data is read, and nothing is published.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import force_locale
from flask_babel import gettext as _

from ...models import Campaign
from ..intake import links
from ..outbox import mail
from ..outbox.mail_transport import Mail, render_mail
from ..pages.content import CampaignContent
from ..sealing import audit
from .updates import Audience, UpdateError, audience


@dataclass(frozen=True)
class Preview:
    language: str
    subject: str
    text: str


@dataclass(frozen=True)
class Draft:
    previews: list[Preview]
    audience: Audience


def written(texts: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The languages given both a title and a text; an error if there are none."""
    kept = {
        lang: (t.strip(), b.strip()) for lang, (t, b) in texts.items() if t.strip() and b.strip()
    }
    if not kept:
        raise UpdateError(_("Write a title and a text in at least one language."))
    return kept


def _render(content: CampaignContent, language: str, title: str, body: str, *, to: str) -> Mail:
    page_url = links.external_url("petition.campaign_page", language, slug=content.slug)
    with force_locale(language):
        name = _("Maryam")  # a stand-in: the preview names no signer
    return render_mail(
        "update",
        language,
        to=to,
        name=name,
        campaign_title=content.text(language).title,
        update_title=title[:200],
        body=body,
        # A test has no signer: its links lead to the campaign page.
        unsubscribe_url=page_url,
        withdraw_url=page_url,
        page_url=page_url,
    )


def draft(content: CampaignContent, campaign: Campaign, texts: dict[str, tuple[str, str]]) -> Draft:
    """The preview of each written language, and who publishing with mail would reach."""
    kept = written(texts)
    previews = []
    for language, (title, body) in kept.items():
        message = _render(content, language, title, body, to="preview@invalid")
        previews.append(Preview(language, message.subject, message.text))
    return Draft(previews, audience(campaign.id, kept))


def send_test(
    content: CampaignContent, campaign: Campaign, texts: dict[str, tuple[str, str]], *, to: str
) -> Draft:
    """Queue one mail per written language to the organizer (`to`), and show the draft."""
    shown = draft(content, campaign, texts)
    kept = written(texts)
    for language, (title, body) in kept.items():
        message = _render(content, language, title, body, to=to)
        message.subject = f"[{_('Test')}] {message.subject}"
        mail.enqueue(message, kind="update-test")
    audit.record(
        "update.test",
        campaign_id=campaign.id,
        target=content.slug,
        details={"languages": sorted(kept), "mails": len(kept)},
        commit=True,
    )
    return shown
