"""A number put into a sentence takes its plural form: "It gathered 1 signatures" and "for
1 days" were what one signature, or a one-day setting, read. French has three forms (one
for 0 and 1, "de" before a round million, the plural), Persian two, with Persian digits."""

from __future__ import annotations

import html as html_lib
import re
import shutil

import pytest
from babel.numbers import format_decimal
from sqlalchemy import select

from campaign.extensions import db
from campaign.models import Campaign
from campaign.services.letters import reminders
from campaign.services.pages import cache, counting
from campaign.services.pages.content import ContentLibrary
from tests.helpers import ROOT, SLUG, deliver, sign

PREFIX = {"en": "", "fr": "/fr", "fa": "/fa"}
FA_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def visible(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def with_content(app, tmp_path, old: str, new: str) -> None:
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    toml = content / SLUG / "campaign.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new))
    app.extensions["campaign.content"] = ContentLibrary(content)


def set_count(client, count: int) -> None:
    client.get("/")  # creates the campaign's row
    row = db.session.scalars(select(Campaign)).one()
    counting.adjust(row.id, count - counting.confirmed_count(row.id, fresh=True))
    db.session.commit()
    cache.signatures_changed()


def say(language: str, value: int) -> str:
    formatted = format_decimal(value, locale=language)
    return formatted.translate(FA_DIGITS) if language == "fa" else formatted


# (language, count, the sentence the closed page says, the embed's)
CLOSED = [
    ("en", 1, "It closed with 1 signature. Thank you", "It gathered 1 signature."),
    ("en", 3, "It closed with 3 signatures. Thank you", "It gathered 3 signatures."),
    ("fr", 1, "Elle a été close avec 1 signature. Merci", "Elle a recueilli 1 signature."),
    ("fr", 0, "Elle a été close avec 0 signature. Merci", "Elle a recueilli 0 signature."),
    ("fr", 3, "Elle a été close avec 3 signatures. Merci", "Elle a recueilli 3 signatures."),
    ("fa", 1, "این طومار با ۱ امضا بسته شد.", "این طومار بسته شده است و ۱ امضا گرد آورد."),
    ("fa", 3, "این طومار با ۳ امضا بسته شد.", "این طومار بسته شده است و ۳ امضا گرد آورد."),
]


@pytest.mark.parametrize(("language", "count", "page_says", "embed_says"), CLOSED)
def test_a_closed_campaign_says_its_count_with_the_right_plural(
    client, app, tmp_path, language, count, page_says, embed_says
):
    with_content(app, tmp_path, "closes = 2027-07-31", "closes = 2020-01-01")
    set_count(client, count)
    page = visible(client.get(f"{PREFIX[language]}/{SLUG}/").get_data(as_text=True))
    assert page_says in page
    embed = visible(client.get(f"{PREFIX[language]}/{SLUG}/embed").get_data(as_text=True))
    assert embed_says in embed
    if language == "en" and count == 1:
        assert "1 signatures" not in page and "1 signatures" not in embed


def test_french_says_de_before_a_round_million(client, app, tmp_path):
    with_content(app, tmp_path, "closes = 2027-07-31", "closes = 2020-01-01")
    set_count(client, 1_000_000)
    page = visible(client.get(f"/fr/{SLUG}/").get_data(as_text=True))
    million = re.sub(r"\s", " ", say("fr", 1_000_000))  # as visible() spaces it
    assert f"Elle a été close avec {million} de signatures." in page


@pytest.mark.parametrize(
    ("language", "count", "says"),
    [
        ("en", 1, "It gathered 1 signature. Thank you"),
        ("en", 2, "It gathered 2 signatures. Thank you"),
        ("fr", 1, "Elle a recueilli 1 signature. Merci"),
        ("fr", 2, "Elle a recueilli 2 signatures. Merci"),
        ("fa", 1, "این طومار ۱ امضا گرد آورد."),
    ],
)
def test_an_archived_campaign_says_its_count_with_the_right_plural(
    client, app, tmp_path, language, count, says
):
    with_content(app, tmp_path, 'status = "open"', 'status = "archived"')
    set_count(client, count)
    page = visible(client.get(f"{PREFIX[language]}/{SLUG}/").get_data(as_text=True))
    assert says in page


# CONFIRM_EXPIRY_DAYS as each language says it: (the link's days, the reminder's days)
DAYS = {
    ("en", 1): ("The link works for 1 day.", "are deleted after 1 day."),
    ("en", 7): ("The link works for 7 days.", "are deleted after 7 days."),
    ("fr", 1): ("Ce lien est valable 1 jour.", "supprimées au bout de 1 jour."),
    ("fr", 7): ("Ce lien est valable 7 jours.", "supprimées au bout de 7 jours."),
    ("fa", 1): ("این پیوند تا ۱ روز معتبر است.", "پس از ۱ روز پاک می‌شوند."),
    ("fa", 7): ("این پیوند تا ۷ روز معتبر است.", "پس از ۷ روز پاک می‌شوند."),
}


@pytest.mark.parametrize(("language", "days"), list(DAYS))
def test_the_confirmation_mail_and_the_reminder_say_days_with_the_right_plural(
    client, app, mailbox, language, days
):
    link_says, reminder_says = DAYS[(language, days)]
    app.config["CONFIRM_EXPIRY_DAYS"] = days
    response = sign(client, prefix=PREFIX[language], email="days@example.org")
    assert response.status_code == 303
    inbox_page = visible(client.get(response.headers["Location"]).get_data(as_text=True))
    # The check-inbox page says it with "Le lien" in French; the mail with "Ce lien".
    assert link_says.replace("Ce lien", "Le lien") in inbox_page
    deliver(app)
    [confirm] = mailbox.to("days@example.org")
    assert link_says in confirm.get_body(("plain",)).get_content()
    assert link_says in visible(confirm.get_body(("html",)).get_content())
    app.config["CONFIRM_REMINDER_HOURS"] = 0
    assert reminders.send_reminders() == 1
    deliver(app)
    reminder = mailbox.to("days@example.org")[-1]
    assert reminder_says in reminder.get_body(("plain",)).get_content()


# Each of the privacy page's three periods, at one day and at several.
PRIVACY = {
    "en": (
        "delete the code after {n} day{s}.",
        "Unconfirmed signatures are deleted after {n} day{s}.",
        "{n} day{s} after a campaign closes, every name",
    ),
    "fr": (
        "nous supprimons ce code au bout de {n} jour{s}.",
        "Les signatures non confirmées sont supprimées au bout de {n} jour{s}.",
        "{n} jour{s} après la clôture d’une campagne",
    ),
    "fa": (
        "این کد را پس از {n} روز پاک می‌کنیم.",
        "امضاهای تأییدنشده پس از {n} روز پاک می‌شوند.",
        "{n} روز پس از بسته شدن کارزار",
    ),
}


@pytest.mark.parametrize("language", list(PRIVACY))
@pytest.mark.parametrize("days", [1, 30])
def test_the_privacy_page_says_its_periods_with_the_right_plural(client, app, language, days):
    for setting in ("IP_HASH_RETENTION_DAYS", "CONFIRM_EXPIRY_DAYS", "ANONYMIZE_AFTER_CLOSE_DAYS"):
        app.config[setting] = days
    page = visible(client.get(f"{PREFIX[language]}/privacy").get_data(as_text=True))
    plural = "" if days == 1 else "s"
    for sentence in PRIVACY[language]:
        assert sentence.format(n=say(language, days), s=plural) in page
    if language == "en" and days == 1:
        assert "1 days" not in page


@pytest.mark.parametrize(
    ("language", "seconds", "says"),
    [
        ("en", 1, "Responses may be cached for 1 second and"),
        ("en", 2, "Responses may be cached for 2 seconds and"),
        ("fr", 1, "mises en cache pendant 1 seconde et"),
        ("fr", 2, "mises en cache pendant 2 secondes et"),
        ("fa", 1, "تا ۱ ثانیه در حافظهٔ نهان"),
    ],
)
def test_the_api_page_says_its_cache_seconds_with_the_right_plural(
    client, app, language, seconds, says
):
    app.config["COUNT_CACHE_SECONDS"] = seconds
    page = visible(client.get(f"{PREFIX[language]}/api").get_data(as_text=True))
    assert says in page
