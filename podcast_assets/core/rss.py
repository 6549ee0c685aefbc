"""Feed parsing: RSS 2.0, Atom, iTunes and Podcasting 2.0 (`podcast:transcript`) into plain episode records.

Feeds are third-party input. The XML is read with defusedxml first: a feed that declares entities (billion
laughs, external entities) is never expanded, its DOCTYPE is dropped and its items salvaged; a feed that is not
well-formed XML (truncated, stray bytes) keeps whatever items feedparser can salvage. Either way the feed carries
a `problem` (recorded as the feed's error). Text fields are one line, free of control characters and bounded.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import html
import re
import xml.sax
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as safe_xml
import feedparser

from podcast_assets.core.links import safe_link
from podcast_assets.core.untrusted_text import ID_MAX_CHARS, URL_MAX_CHARS, one_line

DESCRIPTION_MAX_CHARS = 2000

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"

# Preference when an item offers several transcripts: timed formats first.
TRANSCRIPT_TYPE_RANK = {
    "text/vtt": 0,
    "application/x-subrip": 1,
    "application/srt": 1,
    "text/srt": 1,
    "application/json": 2,
    "text/html": 3,
    "text/plain": 4,
}


class FeedParseError(ValueError):
    """The document is not a feed we can read."""


@dataclass(frozen=True)
class TranscriptLink:
    url: str
    type: str
    language: str | None = None
    rel: str | None = None


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

    def best_transcript(self) -> TranscriptLink | None:
        ranked = [t for t in self.transcripts if t.type in TRANSCRIPT_TYPE_RANK]
        return min(ranked, key=lambda t: TRANSCRIPT_TYPE_RANK[t.type]) if ranked else None


@dataclass
class ParsedFeed:
    title: str | None
    items: list[FeedItem]
    problem: str | None = None  # feed-level error (not well-formed, unsafe XML); the items are what was salvaged


def episode_id_for(feed_url: str, guid: str | None, audio_url: str | None, fallback: str = "") -> str:
    """Stable id from (feed, guid); the enclosure URL stands in for a missing guid."""
    key = guid or audio_url or fallback
    return hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()[:16]


def _published(entry: feedparser.FeedParserDict) -> dt.datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)


def _url(value: str | None) -> str | None:
    """A URL field as given (trimmed), or None when blank or longer than any real URL."""
    url = (value or "").strip()
    return url if url and len(url) <= URL_MAX_CHARS else None


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
    return int(text) if text.isdigit() else None


def _enclosure(entry: feedparser.FeedParserDict) -> tuple[str | None, str | None, int | None, bool]:
    """(url, type, length, too_long) of the item's first enclosure."""
    for enclosure in entry.get("enclosures", []):
        href = enclosure.get("href") or enclosure.get("url")
        if href:
            url = _url(href)
            return url, one_line(enclosure.get("type"), 100), _length(enclosure.get("length")), url is None
    return None, None, None, False


_SUBSET_END = re.compile(rb"\]\s*>")


def _plain_text(markup: str | None) -> str | None:
    """Show notes without their markup, as one bounded line (feedparser has already sanitized the HTML)."""
    if not markup:
        return None
    return one_line(html.unescape(re.sub(r"<[^>]{0,2000}>", " ", str(markup)[:40_000])), DESCRIPTION_MAX_CHARS)


def _without_doctype(document: bytes) -> bytes:
    """The document minus its DOCTYPE declaration (internal subset included), found in linear time."""
    start = document.find(b"<!DOCTYPE")
    if start < 0:
        return document
    bracket, close = document.find(b"[", start), document.find(b">", start)
    if bracket != -1 and (close == -1 or bracket < close):
        subset_end = _SUBSET_END.search(document, bracket)
        end = subset_end.end() if subset_end else len(document)
    else:
        end = close + 1 if close != -1 else len(document)
    return document[:start] + document[end:]


def read_xml(document: bytes) -> tuple[Element | None, bytes, str | None]:
    """(root, document to hand to feedparser, problem). Entities are never expanded: a document that declares
    any loses its DOCTYPE (and so the declarations), and says so."""
    try:
        return safe_xml.fromstring(document), document, None
    except defusedxml.DefusedXmlException as error:
        stripped = _without_doctype(document)
        problem = (
            f"unsafe XML: the feed declares XML entities ({type(error).__name__}); they were not expanded "
            "(possible entity-expansion bomb or external entity), items read without them"
        )
        try:
            root = safe_xml.fromstring(stripped)
        except (safe_xml.ParseError, defusedxml.DefusedXmlException):
            root = None
        return root, stripped, problem
    except safe_xml.ParseError as error:
        return None, document, f"not well-formed XML ({error}); items salvaged where possible"


def _transcripts_by_item(root: Element | None) -> dict[str, list[TranscriptLink]]:
    """feedparser keeps only the last `podcast:transcript` of an item, so read them from the XML itself.

    Keyed by guid (RSS) / id (Atom), and by enclosure URL for items without one.
    """
    if root is None:
        return {}
    found: dict[str, list[TranscriptLink]] = {}
    items = list(root.iter("item")) + list(root.iter(f"{{{ATOM_NS}}}entry"))
    for item in items:
        links = [
            TranscriptLink(
                url=_url(element.get("url")) or "",
                type=(element.get("type") or "")[:100].split(";")[0].strip().lower(),
                language=one_line(element.get("language"), 35),
                rel=one_line(element.get("rel"), 100),
            )
            for element in item.iter(f"{{{PODCAST_NS}}}transcript")
            if _url(element.get("url"))
        ]
        if not links:
            continue
        keys = [item.findtext("guid"), item.findtext(f"{{{ATOM_NS}}}id")]
        enclosure = item.find("enclosure")
        if enclosure is not None:
            keys.append(enclosure.get("url"))
        for element in item.iter(f"{{{ATOM_NS}}}link"):
            if element.get("rel") == "enclosure":
                keys.append(element.get("href"))
        for key in keys:
            if key:
                found[key.strip()] = links
    return found


def parse_feed(document: bytes) -> ParsedFeed:
    """Parse a feed document. Raises FeedParseError when it holds no feed at all; a feed with salvageable items
    but broken or unsafe XML is returned with `problem` set."""
    root, readable, problem = read_xml(document)
    parsed = feedparser.parse(readable)
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        reason = problem or parsed.get("bozo_exception") or "not a feed"
        raise FeedParseError(f"malformed feed: {reason}")
    if not parsed.get("version") and not parsed.entries:
        raise FeedParseError("not an RSS or Atom feed")
    if problem is None and parsed.bozo and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        problem = f"not well-formed XML ({parsed.bozo_exception}); items salvaged where possible"
    transcripts = _transcripts_by_item(root)
    items = []
    for entry in parsed.entries:
        audio_url, audio_type, audio_length, url_too_long = _enclosure(entry)
        guid = _guid(entry.get("id"))
        item = FeedItem(
            guid=guid,
            title=one_line(entry.get("title")),
            link=safe_link(entry.get("link")),
            published_at=_published(entry),
            audio_url=audio_url,
            audio_type=audio_type,
            audio_length=audio_length,
            transcripts=transcripts.get(guid or "", []) or transcripts.get(audio_url or "", []),
            description=_plain_text(entry.get("summary")),
        )
        if item.published_at is None:
            item.problem = "malformed item: no parseable publication date"
        elif url_too_long:
            item.problem = f"malformed item: enclosure URL longer than {URL_MAX_CHARS} characters"
        elif not audio_url:
            item.problem = "malformed item: no audio enclosure"
        items.append(item)
    return ParsedFeed(title=one_line(parsed.feed.get("title")), items=items, problem=problem)


def items_published_on(feed: ParsedFeed, day: dt.date) -> list[FeedItem]:
    """Items of the UTC publication day. Items without a date are kept so they are recorded as failures."""
    return [item for item in feed.items if item.published_at is None or item.published_at.date() == day]
