"""Rendering a brief as Markdown, HTML and plain text from Jinja2 templates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import jinja2

from podcast_assets.core.links import safe_link

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("podcast_assets", "templates"),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def clock(seconds: float) -> str:
    """23:14 or 1:02:03."""
    total = int(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def deep_link(audio_url: str | None, episode_link: str | None, start_s: float) -> str | None:
    """The moment it was said: the enclosure with a media fragment (`#t=SECONDS`), else the episode page."""
    audio_url, episode_link = safe_link(audio_url), safe_link(episode_link)  # http(s) only reaches a reader
    if audio_url:
        return f"{audio_url.split('#')[0]}#t={int(start_s)}"
    return episode_link


@dataclass
class BriefItem:
    text: str
    show: str
    episode_title: str
    start_s: float
    link: str | None
    related: list[BriefItem] = field(default_factory=list)  # other ideas on the reader's topic
    also_on: list[BriefItem] = field(default_factory=list)  # the same idea said in other episodes
    more_url: str | None = None  # signed "more / less like this" feedback links
    less_url: str | None = None
    speaker: str | None = None  # who said it and the chapter it is in, where the feed or transcript tells
    chapter: str | None = None

    @property
    def at(self) -> str:
        return clock(self.start_s)


@dataclass
class BriefDocument:
    subscriber_name: str
    day: dt.date
    interests: str
    items: list[BriefItem]
    links: dict[str, str] | None = None  # signed preferences / archive / unsubscribe links, when there is a web app

    def render(self) -> dict[str, str]:
        context = {"brief": self}
        return {kind: _ENVIRONMENT.get_template(f"brief.{kind}.j2").render(context) for kind in ("md", "html", "txt")}
