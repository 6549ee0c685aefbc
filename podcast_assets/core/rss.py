"""Feed parsing: RSS 0.9x/1.0/2.0, Atom, iTunes, Media RSS and Podcasting 2.0 into plain episode records.

Feeds are third-party input, and the world's feeds are rarely clean. The bytes are decoded first (`feed_encoding`:
byte order mark, HTTP charset, XML declaration, detection), then read as XML without expanding any entity
(`feed_xml`: a feed that declares entities loses its DOCTYPE; one that is not well-formed is recovered by a
lenient parser), then by feedparser, which is told the feed's URL and headers. Whatever was wrong is the feed's
`problem` (recorded as its error) and the readable items are kept. Text fields are plain text (HTML unescaped,
tags dropped) on one bounded line; they are escaped only by the renderer that shows them.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import xml.sax
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import feedparser

from podcast_assets.core.feed_encoding import decode_feed
from podcast_assets.core.feed_xml import read_feed_xml
from podcast_assets.core.links import safe_link
from podcast_assets.core.podcast_namespace import (
    Chapter,
    ItemTags,
    Person,
    TranscriptLink,
    absolute_url,
    channel_persons,
    feedparser_prefixes,
    media_type,
    merged,
    plain_text,
    tags_of_element,
    tags_of_entry,
)
from podcast_assets.core.untrusted_text import ID_MAX_CHARS, URL_MAX_CHARS, one_line

DESCRIPTION_MAX_CHARS = 2000
ATOM_NS = "http://www.w3.org/2005/Atom"

# Preference when an item offers several transcripts in its language: timed formats first.
TRANSCRIPT_TYPE_RANK = {
    "text/vtt": 0,
    "application/x-subrip": 1,
    "application/srt": 1,
    "text/srt": 1,
    "application/json": 2,
    "text/html": 3,
    "text/plain": 4,
}
AUDIO_EXTENSIONS = {".mp3", ".m4a", ".m4b", ".aac", ".ogg", ".oga", ".opus", ".wav", ".flac", ".mpga", ".mp2"}
VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".webm", ".mkv"}
# Files that are never an episode's audio, whatever the server says they are.
NOT_AUDIO_EXTENSIONS = {
    ".jpg",
    ".jpeg",
    ".png",
    ".gif",
    ".webp",
    ".svg",
    ".pdf",
    ".html",
    ".htm",
    ".txt",
    ".vtt",
    ".srt",
}
# Types an enclosure can have and still be worth probing (servers often say nothing useful).
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-octet-stream"}


_ITEM_TAGS = {"item", "{http://purl.org/rss/1.0/}item", f"{{{ATOM_NS}}}entry"}


class FeedParseError(ValueError):
    """The document is not a feed we can read."""


@dataclass(frozen=True)
class Enclosure:
    url: str
    type: str | None
    length: int | None


@dataclass
class FeedItem:
    guid: str | None
    title: str | None
    link: str | None
    published_at: dt.datetime | None
    audio_url: str | None
    audio_type: str | None
    audio_length: int | None
    transcripts: list[TranscriptLink] = field(default_factory=list)
    problem: str | None = None  # why this item cannot become an episode, if it cannot
    description: str | None = None  # show notes as plain text, one line (prompts ASR with the show's terms)
    language: str | None = None  # the item's or else the channel's language
    enclosures: list[Enclosure] = field(default_factory=list)  # every enclosure / Media RSS file, document order
    audio_alternatives: list[Enclosure] = field(default_factory=list)  # to probe, in order, if the chosen is not audio
    chapters_url: str | None = None  # a Podcasting 2.0 JSON chapters file
    chapters: list[Chapter] = field(default_factory=list)  # chapters written in the feed itself
    persons: list[Person] = field(default_factory=list)

    def best_transcript(self) -> TranscriptLink | None:
        """The transcript in the episode's language (or of unstated language), a full transcript before captions,
        then timed formats first."""
        ranked = [t for t in self.transcripts if t.type in TRANSCRIPT_TYPE_RANK]
        if not ranked:
            return None
        return min(
            ranked,
            key=lambda t: (
                not _same_language(t.language, self.language),
                (t.rel or "").lower() == "captions",
                TRANSCRIPT_TYPE_RANK[t.type],
            ),
        )


@dataclass
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    problem: str | None = None  # feed-level error (encoding, broken or unsafe XML); the items are what was salvaged
    encoding: str | None = None


def _same_language(transcript_language: str | None, episode_language: str | None) -> bool:
    if not transcript_language or not episode_language:
        return True
    return transcript_language.lower().split("-")[0] == episode_language.lower().split("-")[0]


def episode_id_for(feed_url: str, guid: str | None, audio_url: str | None, fallback: str = "") -> str:
    """Stable id from (feed, guid); the enclosure URL stands in for a missing guid."""
    key = guid or audio_url or fallback
    return hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()[:16]


def _published(entry: feedparser.FeedParserDict) -> dt.datetime | None:
    """The publication (else update) time in UTC; None when absent or outside what a timestamp holds (year 0)."""
    for key in ("published_parsed", "updated_parsed"):
        parsed = entry.get(key)
        if parsed:
            try:
                return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)
            except (OverflowError, ValueError, OSError, TypeError):
                continue
    return None


def _guid(value: str | None) -> str | None:
    """The guid, trimmed; one too long to store (or with control characters) stands in as its sha256."""
    guid = (value or "").strip()
    if not guid:
        return None
    if len(guid) > ID_MAX_CHARS or one_line(guid, ID_MAX_CHARS) != guid:
        return "sha256:" + hashlib.sha256(guid.encode("utf-8", "surrogatepass")).hexdigest()
    return guid


def _length(value: object) -> int | None:
    text = str(value or "").strip()[:20]
    return int(text) if text.isascii() and text.isdigit() else None


def _extension(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).suffix.lower() if "://" in url else PurePosixPath(url).suffix.lower()


def _audio_rank(enclosure: Enclosure, medium: str | None = None) -> int | None:
    """How likely an enclosure is the episode's audio (0 best), None for what is certainly not (a cover image)."""
    kind, extension = enclosure.type or "", _extension(enclosure.url)
    if extension in NOT_AUDIO_EXTENSIONS and not kind.startswith("audio/"):
        return None
    if kind.startswith("audio/") or medium == "audio":
        return 0
    if extension in AUDIO_EXTENSIONS and (kind in _GENERIC_TYPES or kind.startswith("video/")):
        return 1
    if kind.startswith("video/") or medium == "video" or (kind in _GENERIC_TYPES and extension in VIDEO_EXTENSIONS):
        return 2  # the audio track of a video episode
    if kind in _GENERIC_TYPES and medium in (None, ""):
        return 3  # nothing said: probed when downloaded
    return None


def _enclosures(entry: feedparser.FeedParserDict, base_url: str | None) -> tuple[list[Enclosure], list[int], bool]:
    """(every file the item points at, their audio ranks, whether a URL was too long). RSS/Atom enclosures first,
    then Media RSS `media:content` (used when the enclosures hold no audio)."""
    found: list[Enclosure] = []
    ranks: list[int | None] = []
    too_long = False
    sources = [(e, None) for e in entry.get("enclosures", [])]
    sources += [(m, m.get("medium")) for m in entry.get("media_content", []) if isinstance(m, dict)]
    for source, medium in sources:
        href = source.get("href") or source.get("url")
        if not href:
            continue
        url = absolute_url(href, base_url)
        if url is None:
            too_long = too_long or len(str(href).strip()) > URL_MAX_CHARS
            continue
        if any(e.url == url for e in found):
            continue
        enclosure = Enclosure(
            url, media_type(source.get("type")), _length(source.get("length") or source.get("filesize"))
        )
        found.append(enclosure)
        ranks.append(_audio_rank(enclosure, one_line(str(medium), 20) if medium else None))
    return found, ranks, too_long


def _choose_audio(enclosures: list[Enclosure], ranks: list[int | None]) -> list[Enclosure]:
    """The audio candidates, best first (stable: the feed's order within a rank)."""
    candidates = [(rank, index) for index, rank in enumerate(ranks) if rank is not None]
    return [enclosures[index] for _, index in sorted(candidates)]


def _item_keys(element, base_url: str | None) -> list[str]:
    keys = [_guid(element.findtext("guid")), _guid(element.findtext(f"{{{ATOM_NS}}}id"))]
    enclosure = element.find("enclosure")
    if enclosure is not None:
        keys.append(absolute_url(enclosure.get("url"), base_url))
    return [key for key in keys if key]


def _tags_by_entry(root, entries: list, base_url: str | None) -> list[ItemTags | None]:
    """The tree's tags for each feedparser entry: by position when the tree holds as many items as feedparser
    found (both read the document in order), else by guid / enclosure URL."""
    if root is None:
        return [None] * len(entries)
    elements = [element for element in root.iter() if element.tag in _ITEM_TAGS]
    channel = root if root.tag == f"{{{ATOM_NS}}}feed" else root.find("channel")
    show_persons = channel_persons(channel)
    tags = []
    for element in elements:
        item_tags = tags_of_element(element, base_url)
        item_tags.persons = item_tags.persons or show_persons
        tags.append(item_tags)
    if len(elements) == len(entries):
        return tags
    by_key = {key: tag for element, tag in zip(elements, tags, strict=True) for key in _item_keys(element, base_url)}
    found: list[ItemTags | None] = []
    for entry in entries:
        audio = next((absolute_url(e.get("href"), base_url) for e in entry.get("enclosures", [])), None)
        found.append(by_key.get(_guid(entry.get("id")) or "") or by_key.get(audio or ""))
    return found


def _text(container: dict, key: str, max_chars: int = 1_000) -> str | None:
    """A text construct as plain text, by the type feedparser found for it (`title_detail`...)."""
    detail = container.get(f"{key}_detail")
    media_type = detail.get("type") if isinstance(detail, dict) else None
    return plain_text(container.get(key), max_chars, media_type or "text/html")


# The document handed to feedparser is UTF-8 (decode_feed rewrote its declaration), and it is told so. It is not
# told the feed's URL: it would resolve relative guids and Atom ids against it, and an episode's id must not
# change with the address a feed is fetched from. Links, enclosures, transcripts and chapters are resolved
# against the feed's URL here instead (podcast_namespace.absolute_url).
_FEEDPARSER_HEADERS = {"content-type": "application/xml; charset=utf-8"}


def parse_feed(document: bytes, url: str | None = None, content_type: str | None = None) -> ParsedFeed:
    """Parse a feed document fetched from `url` with the response's `content_type`. Raises FeedParseError when it
    holds no feed at all; a feed with salvageable items but a bad encoding or broken or unsafe XML is returned
    with `problem` set."""
    decoded = decode_feed(document, content_type)
    tree = read_feed_xml(decoded.utf8)
    problems = [p for p in (decoded.problem, tree.problem) if p]
    parsed = feedparser.parse(
        tree.for_feedparser, response_headers=_FEEDPARSER_HEADERS, resolve_relative_uris=True, sanitize_html=True
    )
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        reason = "; ".join(problems) or parsed.get("bozo_exception") or "not a feed"
        raise FeedParseError(f"malformed feed: {reason}")
    if not parsed.get("version") and not parsed.entries:
        raise FeedParseError("not an RSS or Atom feed")
    if tree.problem is None and parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        problems.append(f"not well-formed XML ({parsed.bozo_exception}); items salvaged where possible")
    channel_language = one_line(parsed.feed.get("language"), 35)
    tags = _tags_by_entry(tree.root, parsed.entries, url)
    prefixes = feedparser_prefixes(parsed.get("namespaces") or {})
    items = [
        _item(entry, item_tags, url, channel_language, prefixes)
        for entry, item_tags in zip(parsed.entries, tags, strict=True)
    ]
    return ParsedFeed(
        title=_text(parsed.feed, "title"),
        items=items,
        problem="; ".join(problems) or None,
        encoding=decoded.encoding,
    )


def _item(
    entry: feedparser.FeedParserDict,
    tree_tags: ItemTags | None,
    url: str | None,
    language: str | None,
    prefixes: set[str],
) -> FeedItem:
    enclosures, ranks, url_too_long = _enclosures(entry, url)
    audio = _choose_audio(enclosures, ranks)
    tags = merged(tree_tags, tags_of_entry(entry, url, prefixes))
    chosen = audio[0] if audio else None
    item = FeedItem(
        guid=_guid(entry.get("id")),
        title=_text(entry, "title"),
        link=safe_link(absolute_url(entry.get("link"), url)),
        published_at=_published(entry),
        audio_url=chosen.url if chosen else None,
        audio_type=chosen.type if chosen else None,
        audio_length=chosen.length if chosen else None,
        transcripts=tags.transcripts,
        description=_text(entry, "summary", DESCRIPTION_MAX_CHARS),
        language=one_line(entry.get("language"), 35) or language,
        enclosures=enclosures,
        audio_alternatives=audio[1:],
        chapters_url=tags.chapters_url,
        chapters=tags.chapters,
        persons=tags.persons,
    )
    if item.published_at is None:
        item.problem = "malformed item: no parseable publication date"
    elif url_too_long and not chosen:
        item.problem = f"malformed item: enclosure URL longer than {URL_MAX_CHARS} characters"
    elif not chosen:
        item.problem = "malformed item: no audio enclosure" + (" (only non-audio files)" if enclosures else "")
    return item


def items_published_on(feed: ParsedFeed, day: dt.date) -> list[FeedItem]:
    """Items of the UTC publication day. Items without a date are kept so they are recorded as failures."""
    return [item for item in feed.items if item.published_at is None or item.published_at.date() == day]
