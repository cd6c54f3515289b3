"""Recent signers, comments and updates on the campaign page: consent only."""

import re
import shutil
from datetime import timedelta

from campaign.extensions import db
from campaign.models import CampaignUpdate, utcnow
from campaign.services.pages import cache
from campaign.services.pages.content import ContentLibrary
from tests.helpers import ROOT, SLUG
from tests.reach_data import confirmed_signature


def test_only_consenting_signers_appear_on_the_page(client, app):
    confirmed_signature(
        name="Shirin Farahani",
        public_consent=True,
        country="FR",
        comment="For my father.",
        comment_consent=True,
    )
    confirmed_signature(
        name="Kamran Secretname", public_consent=False, country="SE", comment="Secretcomment words"
    )
    confirmed_signature(name="Pending Unconfirmedname", public_consent=True, confirm=False)
    for path in (
        f"/{SLUG}/",
        f"/fa/{SLUG}/",
        f"/{SLUG}/embed",
        f"/{SLUG}/share",
        f"/api/v1/petitions/{SLUG}",
        "/api/v1/petitions",
    ):
        body = client.get(path).get_data(as_text=True)
        for secret in ("Kamran", "Secretname", "Secretcomment", "Unconfirmedname"):
            assert secret not in body, (path, secret)
    html = client.get(f"/en/{SLUG}/").get_data(as_text=True)  # (the cookie now says fa)
    assert "<bdi>Shirin F.</bdi>, France" in html
    assert "Farahani" not in html  # last initial only
    assert "For my father." in html


def test_country_names_follow_the_page_language(client, app):
    confirmed_signature(name="Shirin Farahani", public_consent=True, country="DE")
    html = client.get(f"/fr/{SLUG}/").get_data(as_text=True)
    assert re.search(r"<bdi[^>]*>Shirin F\.</bdi>, Allemagne", html)


def test_hidden_comment_is_never_shown(client, app):
    signature = confirmed_signature(
        name="Ali Rezaei", public_consent=True, comment="Hideme", comment_consent=True
    )
    signature.comment_hidden = True
    db.session.commit()
    cache.forget(cache.PUBLIC_LISTS)
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Hideme" not in html
    # still a recent signer; only the comment is hidden
    assert re.search(r"<bdi[^>]*>Ali R\.</bdi>", html)


def switch_off(app, tmp_path, **replacements):
    content = tmp_path / "content"
    shutil.copytree(ROOT / "content", content)
    toml = content / SLUG / "campaign.toml"
    text = toml.read_text()
    for old, new in replacements.items():
        text = text.replace(old, new)
    toml.write_text(text)
    app.extensions["campaign.content"] = ContentLibrary(content)


def test_campaign_can_switch_the_lists_off(client, app, tmp_path):
    switch_off(
        app,
        tmp_path,
        **{
            "show_recent_signers = true": "show_recent_signers = false",
            "show_comments = true": "show_comments = false",
        },
    )
    confirmed_signature(name="Shirin Farahani", public_consent=True, comment="Words here")
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Shirin" not in html and "Words here" not in html
    assert "Recent signers" not in html


def test_updates_appear_in_the_page_language(client, app):
    client.get("/")  # creates the campaign row
    db.session.add_all(
        [
            CampaignUpdate(
                campaign_id=1,
                language="en",
                title="Delivered to Geneva",
                body="We handed over **12,000** names.",
            ),
            CampaignUpdate(campaign_id=1, language="fa", title="تحویل در ژنو", body="متن"),
            CampaignUpdate(
                campaign_id=1,
                language="en",
                title="Not yet",
                body="future",
                published_at=utcnow() + timedelta(days=1),
            ),
            CampaignUpdate(
                campaign_id=1, language="en", title="<script>x</script>", body="<b>x</b>"
            ),
        ]
    )
    db.session.commit()
    english = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "Delivered to Geneva" in english and "<strong>12,000</strong>" in english
    assert "تحویل در ژنو" not in english and "Not yet" not in english
    assert "<script>x</script>" not in english and "&lt;script&gt;" in english
    persian = client.get(f"/fa/{SLUG}/").get_data(as_text=True)
    assert "تحویل در ژنو" in persian and "Delivered to Geneva" not in persian


def test_archived_campaign_shows_final_count_and_outcome(client, app, tmp_path):
    switch_off(
        app,
        tmp_path,
        **{
            'status = "open"': 'status = "archived"',
            'outcome = ""': 'outcome = "The UN opened an inquiry."',
        },
    )
    html = client.get(f"/{SLUG}/").get_data(as_text=True)
    assert "This petition is archived" in html
    assert "The UN opened an inquiry." in html
    assert 'action="/1988-massacre-inquiry/sign"' not in html
