"""Who said it, in which chapter: Podcasting 2.0 `podcast:chapters` and `podcast:person`, and the attribution
of an insight to a chapter and a speaker. Feeds and chapter files are hostile input: bounded, typed, one line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from podcast_assets.core.links import safe_link
from podcast_assets.core.rss import ATOM_NS, PODCAST_NS, _guid, _url
from podcast_assets.core.untrusted_text import one_line

MAX_CHAPTERS = 500
MAX_PERSONS = 50
NAME_MAX_CHARS = 200
# Generic voice labels a publisher transcript may use for the people the feed names.
_GENERIC_SPEAKERS = {"host": "host", "guest": "guest", "speaker 1": "host", "speaker 2": "guest"}


class ChaptersError(ValueError):
    """A chapters file that is not the Podcasting 2.0 JSON chapters format."""


@dataclass(frozen=True)
class Chapter:
    start_s: float
    title: str


@dataclass(frozen=True)
class Person:
    name: str
    role: str = "host"  # the namespace's defaults: role host, group cast
    group: str = "cast"
    href: str | None = None


@dataclass
class ItemCredits:
    chapters_url: str | None = None
    persons: list[Person] = field(default_factory=list)


def parse_chapters(document: bytes) -> list[Chapter]:
    """Chapters by start time. Chapters without a title or a finite start >= 0 are dropped; a document that is
    not a JSON object with a `chapters` list raises ChaptersError."""
    try:
        data = json.loads(document)
    except (ValueError, RecursionError) as error:
        raise ChaptersError(f"chapters file is not JSON: {str(error)[:200]}") from error
    if not isinstance(data, dict) or not isinstance(data.get("chapters"), list):
        raise ChaptersError("chapters file has no `chapters` list")
    chapters = []
    for entry in data["chapters"][: MAX_CHAPTERS * 4]:
        if not isinstance(entry, dict) or isinstance(entry.get("startTime"), bool):
            continue
        title = one_line(entry["title"]) if isinstance(entry.get("title"), str) else None
        start = entry.get("startTime")
        if isinstance(start, int | float) and math.isfinite(start) and start >= 0 and title:
            chapters.append(Chapter(float(start), title))
    return sorted(chapters, key=lambda c: c.start_s)[:MAX_CHAPTERS]


def _persons(elements) -> list[Person]:
    persons = []
    for element in elements:
        name = one_line(element.text, NAME_MAX_CHARS)
        if name:
            role = (one_line(element.get("role"), 100) or "host").lower()
            group = (one_line(element.get("group"), 100) or "cast").lower()
            persons.append(Person(name, role, group, safe_link(element.get("href"))))
    return persons[:MAX_PERSONS]


def credits_by_item(root: Element | None) -> dict[str, ItemCredits]:
    """Chapters link and persons of every item, keyed by guid and by enclosure URL (as `rss.parse_feed` keys
    transcripts). The channel's persons apply to items that name none."""
    if root is None:
        return {}
    channel = root.find("channel")
    show_persons = _persons(channel.findall(f"{{{PODCAST_NS}}}person")) if channel is not None else []
    found: dict[str, ItemCredits] = {}
    for item in list(root.iter("item")) + list(root.iter(f"{{{ATOM_NS}}}entry")):
        chapters = [
            _url(e.get("url")) for e in item.iter(f"{{{PODCAST_NS}}}chapters") if "json" in (e.get("type") or "")
        ]
        persons = _persons(item.iter(f"{{{PODCAST_NS}}}person")) or show_persons
        credits = ItemCredits(next(filter(None, chapters), None), persons)
        enclosure = item.find("enclosure")
        keys = [_guid(item.findtext("guid")), _guid(item.findtext(f"{{{ATOM_NS}}}id"))]
        keys.append(_url(enclosure.get("url")) if enclosure is not None else None)
        for key in filter(None, keys):
            found[key] = credits
    return found


def chapter_at(chapters: list[Chapter], seconds: float) -> str | None:
    """Title of the chapter playing at `seconds` (the last one starting at or before it)."""
    current = None
    for chapter in chapters:
        if chapter.start_s > seconds:
            break
        current = chapter.title
    return current


def speaker_name(voice: str | None, persons: list[Person]) -> str | None:
    """Who is speaking: a named voice tag as is; a generic one ("Host", "Guest") as the one cast member of that
    role the feed names; no voice tag: the host of a show whose only named cast member is one host."""
    cast = [p for p in persons if p.group == "cast"]
    if voice and voice.strip():
        role = _GENERIC_SPEAKERS.get(voice.strip().lower())
        if role is None:
            return one_line(voice, NAME_MAX_CHARS)
        named = [p.name for p in cast if p.role == role]
        return named[0] if len(named) == 1 else None
    return cast[0].name if len(cast) == 1 and cast[0].role == "host" else None
