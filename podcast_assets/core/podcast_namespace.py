"""Podcasting 2.0 tags of an item (`podcast:transcript`, `podcast:chapters`, `podcast:person`), under the
namespace's current URI and the older GitHub one real feeds still declare; and Podlove Simple Chapters
(`psc:chapters`), the chapters some feeds write inline.

Read from the XML tree (strict or recovered, see `feed_xml`), which keeps every transcript and person of an item;
where the tree has none for an item, from feedparser's entry (which keeps only the last of each, and no person's
name), so a tag survives wherever feedparser reads it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from podcast_assets.core.links import safe_link
from podcast_assets.core.untrusted_text import NAME_MAX_CHARS, URL_MAX_CHARS, one_line

PODCAST_NAMESPACES = (
    "https://podcastindex.org/namespace/1.0",
    "https://github.com/Podcastindex-org/podcast-namespace/blob/main/docs/1.0.md",
)
PSC_NAMESPACE = "http://podlove.org/simple-chapters"
MAX_PERSONS = 50
MAX_TRANSCRIPTS = 20
MAX_CHAPTERS = 500
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_TAG = re.compile(r"<[A-Za-z/!?][^<>]{0,2000}>")
_UNDEFINED_ENTITY = re.compile(r"&[A-Za-z][A-Za-z0-9]{1,31};")
_CLOCK = re.compile(r"^\s*(?:(\d{1,3}):)?(?:(\d{1,2}):)?(\d{1,6}(?:\.\d{1,6})?)\s*$")


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    type: str
    language: str | None = None
    rel: str | None = None


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
class ItemTags:
    transcripts: list[TranscriptLink] = field(default_factory=list)
    chapters_url: str | None = None
    persons: list[Person] = field(default_factory=list)
    chapters: list[Chapter] = field(default_factory=list)  # inline (Podlove Simple Chapters)


def plain_text(value: Any, max_chars: int = 1_000, media_type: str | None = "text/html") -> str | None:
    """The text of a field on one line. HTML (or XHTML, or a field of unknown type) loses its comments and tags
    and has its entities decoded, once; a field the feed marks as plain text is already text and stays as is."""
    if value is None:
        return None
    if media_type and "html" not in media_type.lower():
        return one_line(str(value), max_chars)
    text = html.unescape(_TAG.sub(" ", _COMMENT.sub(" ", str(value)[: max_chars * 4 + 64])))
    # What still looks like an entity is one no decoder knows (`&doesnotexist;`): it stands for nothing.
    return one_line(_UNDEFINED_ENTITY.sub("", text), max_chars)


def media_type(value: Any) -> str | None:
    """A type attribute (`audio/mpeg; charset=...`) as its bare, lower-case media type; None when blank."""
    kind = (one_line(str(value or ""), 100) or "").split(";")[0].strip().lower()
    return kind or None


def absolute_url(value: Any, base_url: str | None) -> str | None:
    """A URL from the feed, resolved against the feed's own URL when relative; None when blank or too long."""
    url = str(value or "").strip()
    if not url or len(url) > URL_MAX_CHARS:
        return None
    if base_url and "://" not in url[:12]:
        try:
            url = urljoin(base_url, url)
        except ValueError:
            return None
    return url if len(url) <= URL_MAX_CHARS else None


def _transcript(attributes: dict, base_url: str | None) -> TranscriptLink | None:
    url = absolute_url(attributes.get("url"), base_url)
    if url is None:
        return None
    return TranscriptLink(
        url=url,
        type=media_type(attributes.get("type")) or "",
        language=one_line(attributes.get("language"), 35),
        rel=one_line(attributes.get("rel"), 100),
    )


def _person(name: Any, attributes: dict) -> Person | None:
    name = plain_text(name, NAME_MAX_CHARS)
    if not name:
        return None
    role = (one_line(attributes.get("role"), 100) or "host").lower()
    group = (one_line(attributes.get("group"), 100) or "cast").lower()
    return Person(name, role, group, safe_link(attributes.get("href")))


def _children(element, local_name: str, direct: bool = False) -> list:
    """`podcast:<local_name>` elements under either namespace URI, or with the prefix left undeclared (the
    recovering parser keeps `podcast:person` as the name): anywhere inside, or only direct children."""
    names = {f"{{{namespace}}}{local_name}" for namespace in PODCAST_NAMESPACES} | {f"podcast:{local_name}"}
    candidates = element if direct else element.iter()
    return [child for child in candidates if child.tag in names]


def _persons(elements: Iterable) -> list[Person]:
    found = [_person(element.text, dict(element.attrib)) for element in elements]
    return [person for person in found if person][:MAX_PERSONS]


def channel_persons(channel) -> list[Person]:
    """The show's own `podcast:person` tags (direct children of the channel), for items that name none."""
    return _persons(_children(channel, "person", direct=True)) if channel is not None else []


def clock_seconds(value: Any) -> float | None:
    """Podlove's normal play time ("0", "01:02", "01:02:03.400") in seconds, None when it is not one."""
    found = _CLOCK.match(str(value or "")[:40])
    if not found:
        return None
    first, second, seconds = found.groups()
    hours, minutes = (first, second) if second is not None else (None, first)
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds)


def _inline_chapters(elements: Iterable) -> list[Chapter]:
    chapters = []
    for element in elements:
        start_s, title = clock_seconds(element.get("start")), plain_text(element.get("title"))
        if start_s is not None and title:
            chapters.append(Chapter(start_s, title))
    return sorted(chapters, key=lambda chapter: chapter.start_s)[:MAX_CHAPTERS]


def tags_of_element(item, base_url: str | None) -> ItemTags:
    transcripts = [_transcript(dict(child.attrib), base_url) for child in _children(item, "transcript")]
    chapters = [
        absolute_url(child.get("url"), base_url)
        for child in _children(item, "chapters")
        if "json" in (child.get("type") or "json")
    ]
    return ItemTags(
        transcripts=[t for t in transcripts if t][:MAX_TRANSCRIPTS],
        chapters_url=next(filter(None, chapters), None),
        persons=_persons(_children(item, "person")),
        chapters=_inline_chapters(item.iter(f"{{{PSC_NAMESPACE}}}chapter")),
    )


def feedparser_prefixes(namespaces: dict[str, str]) -> set[str]:
    """The prefixes under which feedparser names this namespace's keys (`podcast_transcript`): the ones the
    document binds to either URI, and `podcast` itself (feedparser reads an undeclared prefix too)."""
    return {prefix for prefix, uri in namespaces.items() if uri in PODCAST_NAMESPACES and prefix} | {"podcast"}


def feedparser_values(entry: dict, local_name: str, prefixes: set[str]) -> list[dict]:
    return [value for prefix in sorted(prefixes) if isinstance(value := entry.get(f"{prefix}_{local_name}"), dict)]


def tags_of_entry(entry: dict, base_url: str | None, prefixes: set[str]) -> ItemTags:
    """What feedparser kept of an item's tags: the last transcript and chapters link (persons lose their names)."""
    transcripts = [_transcript(value, base_url) for value in feedparser_values(entry, "transcript", prefixes)]
    chapters = [absolute_url(value.get("url"), base_url) for value in feedparser_values(entry, "chapters", prefixes)]
    inline = (entry.get("psc_chapters") or {}).get("chapters") or []
    return ItemTags(
        transcripts=[t for t in transcripts if t],
        chapters_url=next(filter(None, chapters), None),
        chapters=_inline_chapters(chapter for chapter in inline if isinstance(chapter, dict)),
    )


def merged(from_tree: ItemTags | None, from_entry: ItemTags) -> ItemTags:
    """The tree's tags, each kind filled from feedparser's entry where the tree has none."""
    tree = from_tree or ItemTags()
    return ItemTags(
        transcripts=tree.transcripts or from_entry.transcripts,
        chapters_url=tree.chapters_url or from_entry.chapters_url,
        persons=tree.persons or from_entry.persons,
        chapters=tree.chapters or from_entry.chapters,
    )
