"""Feed parsing: RSS 2.0, Atom, iTunes and Podcasting 2.0 (`podcast:transcript`) into plain episode records."""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
from dataclasses import dataclass, field

import defusedxml.ElementTree as safe_xml
import feedparser

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

    def best_transcript(self) -> TranscriptLink | None:
        ranked = [t for t in self.transcripts if t.type in TRANSCRIPT_TYPE_RANK]
        return min(ranked, key=lambda t: TRANSCRIPT_TYPE_RANK[t.type]) if ranked else None


@dataclass
class ParsedFeed:
    title: str | None
    items: list[FeedItem]


def episode_id_for(feed_url: str, guid: str | None, audio_url: str | None, fallback: str = "") -> str:
    """Stable id from (feed, guid); the enclosure URL stands in for a missing guid."""
    key = guid or audio_url or fallback
    return hashlib.sha256(f"{feed_url}\n{key}".encode()).hexdigest()[:16]


def _published(entry: feedparser.FeedParserDict) -> dt.datetime | None:
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    return dt.datetime.fromtimestamp(calendar.timegm(parsed), tz=dt.UTC)


def _enclosure(entry: feedparser.FeedParserDict) -> tuple[str | None, str | None, int | None]:
    for enclosure in entry.get("enclosures", []):
        href = enclosure.get("href") or enclosure.get("url")
        if href:
            length = str(enclosure.get("length") or "").strip()
            return href, enclosure.get("type"), int(length) if length.isdigit() else None
    return None, None, None


def _transcripts_by_item(document: bytes) -> dict[str, list[TranscriptLink]]:
    """feedparser keeps only the last `podcast:transcript` of an item, so read them from the XML itself.

    Keyed by guid (RSS) / id (Atom), and by enclosure URL for items without one.
    """
    try:
        root = safe_xml.fromstring(document)
    except Exception:  # feedparser already decided whether the document is usable
        return {}
    found: dict[str, list[TranscriptLink]] = {}
    items = list(root.iter("item")) + list(root.iter(f"{{{ATOM_NS}}}entry"))
    for item in items:
        links = [
            TranscriptLink(
                url=element.get("url", ""),
                type=(element.get("type") or "").split(";")[0].strip().lower(),
                language=element.get("language"),
                rel=element.get("rel"),
            )
            for element in item.iter(f"{{{PODCAST_NS}}}transcript")
            if element.get("url")
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
    """Parse a feed document. Raises FeedParseError when it holds no feed at all."""
    parsed = feedparser.parse(document)
    if parsed.bozo and not parsed.entries and not parsed.feed.get("title"):
        reason = parsed.get("bozo_exception") or "not a feed"
        raise FeedParseError(f"malformed feed: {reason}")
    if not parsed.version and not parsed.entries:
        raise FeedParseError("not an RSS or Atom feed")
    transcripts = _transcripts_by_item(document)
    items = []
    for entry in parsed.entries:
        audio_url, audio_type, audio_length = _enclosure(entry)
        guid = (entry.get("id") or "").strip() or None
        item = FeedItem(
            guid=guid,
            title=entry.get("title"),
            link=entry.get("link"),
            published_at=_published(entry),
            audio_url=audio_url,
            audio_type=audio_type,
            audio_length=audio_length,
            transcripts=transcripts.get(guid or "", []) or transcripts.get(audio_url or "", []),
        )
        if item.published_at is None:
            item.problem = "malformed item: no parseable publication date"
        elif not audio_url:
            item.problem = "malformed item: no audio enclosure"
        items.append(item)
    return ParsedFeed(title=parsed.feed.get("title"), items=items)


def items_published_on(feed: ParsedFeed, day: dt.date) -> list[FeedItem]:
    """Items of the UTC publication day. Items without a date are kept so they are recorded as failures."""
    return [item for item in feed.items if item.published_at is None or item.published_at.date() == day]
