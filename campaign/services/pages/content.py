"""Campaigns as files: `content/<slug>/campaign.toml` plus `case.<lang>.md`.

Organizers edit these files; the service reloads them when they change. The
database holds only what changes at run time (the current goal, counts).
"""

from __future__ import annotations

import logging
import threading
import time
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

import markdown
import nh3
from flask import current_app, has_app_context
from markupsafe import Markup

from . import cache

ALLOWED_TAGS = {
    "a",
    "abbr",
    "blockquote",
    "br",
    "cite",
    "code",
    "em",
    "figcaption",
    "figure",
    "h2",
    "h3",
    "h4",
    "hr",
    "li",
    "ol",
    "p",
    "pre",
    "q",
    "strong",
    "sub",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
log = logging.getLogger(__name__)
TEXT_KEYS = ("title", "summary", "ask", "addressee", "petition_text", "share_text", "outcome")


class ContentError(ValueError):
    pass


def render_markdown(source: str) -> Markup:
    """Markdown to HTML, sanitized: organizers' text can't inject script."""
    html = markdown.markdown(source, extensions=["extra", "sane_lists"], output_format="html")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}, "abbr": {"title"}, "th": {"scope"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    # nh3 has just sanitized it, so it is safe to mark as markup.
    return Markup(clean)  # noqa: S704  # nosec B704


@dataclass(frozen=True)
class CampaignText:
    title: str
    summary: str
    ask: str
    addressee: str
    petition_text: str
    share_text: str
    outcome: str
    case_html: Markup
    petition_html: Markup
    # Who runs the campaign and the source's description, in this language: [text.xx]
    # may give its own, else the campaign's (top-level) value is used.
    organizer_name: str = ""
    source_document: str = ""


@dataclass(frozen=True)
class CampaignContent:
    slug: str
    home: bool
    status: str
    goal: int
    goal_step: int
    opens: date | None
    closes: date | None
    show_recent_signers: bool
    show_comments: bool
    default_language: str
    languages: tuple[str, ...]
    source_document: str
    share_image: Path | None
    texts: dict[str, CampaignText] = field(repr=False)
    # The campaign's folder (resolved) and what was refused while loading it.
    folder: Path | None = None
    problems: tuple[str, ...] = ()

    def contains(self, path: Path) -> bool:
        """Whether `path`, symlinks followed, is a file inside this campaign's folder."""
        return self.folder is not None and confined(self.folder, path) is not None

    # Who runs the campaign and how to reach them (footer and /privacy).
    organizer_name: str = ""
    organizer_contact: str = ""

    def text(self, language: str) -> CampaignText:
        return self.texts.get(language) or self.texts[self.default_language]

    def in_language(self, language: str) -> CampaignContent:
        """This campaign with its organizer's name and source note in `language`."""
        text = self.text(language)
        return replace(
            self,
            organizer_name=text.organizer_name or self.organizer_name,
            source_document=text.source_document or self.source_document,
        )

    def state(self, today: date | None = None) -> str:
        """open, upcoming, closed or archived."""
        today = today or datetime.now(UTC).date()
        if self.status == "archived":
            return "archived"
        if self.closes and today > self.closes:
            return "closed"
        if self.opens and today < self.opens:
            return "upcoming"
        return "open"

    @property
    def accepts_signatures(self) -> bool:
        return self.state() == "open"


def confined(root: Path, path: Path) -> Path | None:
    """`path` with symlinks resolved, if it is a file inside `root`; else None.

    A campaign.toml naming "/proc/self/environ", "../../.env" or a symlink pointing
    out of the folder must never make the service read (or publish) that file.
    """
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not resolved.is_relative_to(root.resolve()) or not resolved.is_file():
        return None
    return resolved


def content_path(folder: Path, name: str, problems: list[str]) -> Path | None:
    """A path named in campaign.toml, relative to the campaign's folder and inside it."""
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        problems.append(f"{name!r} must be a file name inside {folder}")
        return None
    candidate = folder / relative
    if not candidate.exists() and not candidate.is_symlink():
        return None  # optional files may be absent
    resolved = confined(folder, candidate)
    if resolved is None:
        problems.append(f"{name!r} resolves outside {folder} (or is not a file)")
    return resolved


def load_campaign(folder: Path) -> CampaignContent:
    meta_path = folder / "campaign.toml"
    problems: list[str] = []
    try:
        meta = tomllib.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ContentError(f"{meta_path}: {exc}") from exc
    slug = meta.get("slug") or folder.name
    default_language = meta.get("default_language", "en")
    texts = {}
    for language, values in meta.get("text", {}).items():
        missing = [key for key in TEXT_KEYS if key not in values and key != "outcome"]
        if missing:
            raise ContentError(f"{meta_path}: [text.{language}] lacks {', '.join(missing)}")
        case_path = content_path(folder, f"case.{language}.md", problems)
        case_html = render_markdown(case_path.read_text("utf-8") if case_path else "")
        texts[language] = CampaignText(
            **{key: str(values.get(key, "")).strip() for key in TEXT_KEYS},
            case_html=case_html,
            petition_html=render_markdown(str(values.get("petition_text", ""))),
            organizer_name=str(
                values.get("organizer_name", meta.get("organizer_name", ""))
            ).strip(),
            source_document=str(
                values.get("source_document", meta.get("source_document", ""))
            ).strip(),
        )
    if default_language not in texts:
        raise ContentError(f"{meta_path}: no [text.{default_language}] table")
    image = (
        content_path(folder, str(meta["share_image"]), problems)
        if meta.get("share_image")
        else None
    )
    return CampaignContent(
        slug=slug,
        home=bool(meta.get("home", False)),
        status=meta.get("status", "open"),
        goal=int(meta.get("goal", 1000)),
        goal_step=int(meta.get("goal_step", meta.get("goal", 1000))),
        opens=meta.get("opens"),
        closes=meta.get("closes"),
        show_recent_signers=bool(meta.get("show_recent_signers", False)),
        show_comments=bool(meta.get("show_comments", False)),
        default_language=default_language,
        languages=tuple(meta.get("languages", list(texts))),
        source_document=meta.get("source_document", ""),
        share_image=image,
        texts=texts,
        folder=folder.resolve(),
        problems=tuple(problems),
        organizer_name=str(meta.get("organizer_name", "")).strip(),
        organizer_contact=str(meta.get("organizer_contact", "")).strip(),
    )


class ContentLibrary:
    """All campaigns under a folder, reloaded when a file changes (checked every 2 s).

    `organizer_contact` (the ORGANIZER_CONTACT setting), when given, replaces each
    campaign's own: the real address is known per deployment, not in the content."""

    CHECK_EVERY = 2.0

    def __init__(self, root: Path, organizer_contact: str = "") -> None:
        self.root = root
        self.organizer_contact = organizer_contact.strip()
        self._lock = threading.Lock()
        self._campaigns: dict[str, CampaignContent] = {}
        self._stamp: tuple = ()
        self._checked = 0.0
        self.version = 0  # bumped on every reload; part of page cache keys

    def _current_stamp(self) -> tuple:
        return tuple(
            sorted((str(p), p.stat().st_mtime_ns) for p in self.root.glob("*/*") if p.is_file())
        )

    def _refresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < self.CHECK_EVERY and self._campaigns:
            return
        with self._lock:
            self._checked = now
            stamp = self._current_stamp()
            if stamp == self._stamp:
                return
            campaigns = {}
            for folder in sorted(self.root.iterdir()) if self.root.exists() else []:
                if (folder / "campaign.toml").exists():
                    campaign = load_campaign(folder)
                    if self.organizer_contact:
                        campaign = replace(campaign, organizer_contact=self.organizer_contact)
                    for problem in campaign.problems:  # refused, and said on every reload
                        log.warning("content %s: %s", campaign.slug, problem)
                    campaigns[campaign.slug] = campaign
            self._campaigns, self._stamp = campaigns, stamp
            self.version += 1
        if has_app_context():  # outside a request or command nothing is cached yet
            cache.content_reloaded()

    def all(self) -> list[CampaignContent]:
        self._refresh()
        return list(self._campaigns.values())

    def get(self, slug: str) -> CampaignContent | None:
        self._refresh()
        return self._campaigns.get(slug)

    def home(self) -> CampaignContent | None:
        campaigns = self.all()
        return next((c for c in campaigns if c.home), campaigns[0] if campaigns else None)


def library() -> ContentLibrary:
    return current_app.extensions["campaign.content"]
