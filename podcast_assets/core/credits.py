"""Who said it, in which chapter: Podcasting 2.0 `podcast:chapters` and `podcast:person`, and the attribution
of an insight to a chapter and a speaker. Feeds and chapter files are hostile input: bounded, typed, one line."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

from podcast_assets.core.podcast_namespace import MAX_CHAPTERS, Chapter, Person
from podcast_assets.core.rss import ParsedFeed
from podcast_assets.core.untrusted_text import NAME_MAX_CHARS, one_line

# Chapter and Person are defined with the feed tags they are read from; re-exported for the credits code.
__all__ = [
    "Chapter",
    "ChaptersError",
    "ItemCredits",
    "Person",
    "chapter_at",
    "credits_by_key",
    "parse_chapters",
    "speaker_name",
]
# Generic voice labels a publisher transcript may use for the people the feed names.
_GENERIC_SPEAKERS = {"host": "host", "guest": "guest", "speaker 1": "host", "speaker 2": "guest"}


class ChaptersError(ValueError):
    """A chapters file that is not the Podcasting 2.0 JSON chapters format."""


@dataclass
class ItemCredits:
    chapters_url: str | None = None
    persons: list[Person] = field(default_factory=list)
    inline_chapters: list[Chapter] = field(default_factory=list)  # used when there is no JSON file, or it fails


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


def credits_by_key(feed: ParsedFeed) -> dict[str, ItemCredits]:
    """Chapters (a JSON file's link, or the feed's inline chapters) and persons of every item, keyed by guid and
    by enclosure URL, as `episodes` stores them (the channel's persons stand in for items that name none)."""
    found: dict[str, ItemCredits] = {}
    for item in feed.items:
        credits = ItemCredits(item.chapters_url, list(item.persons), list(item.chapters))
        for key in filter(None, (item.guid, item.audio_url)):
            found.setdefault(key, credits)
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
