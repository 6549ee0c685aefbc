"""Turning one feed's items into the day's episode rows: identity, de-duplication, per-item failures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from podcast_assets.core.rss import FeedItem, ParsedFeed, episode_id_for, items_published_on

# The `episodes` table's columns and their types, in table order.
EPISODES_SCHEMA = {
    "partition_date": pl.Date,
    "episode_id": pl.String,
    "feed_url": pl.String,
    "show_title": pl.String,
    "guid": pl.String,
    "title": pl.String,
    "link": pl.String,
    "published_at": pl.Datetime("us"),
    "audio_url": pl.String,
    "audio_type": pl.String,
    "audio_path": pl.String,
    "audio_bytes": pl.Int64,
    "audio_sha256": pl.String,
    "duration_s": pl.Float64,
    "transcript_url": pl.String,
    "transcript_type": pl.String,
    "transcript_path": pl.String,
    "transcript_error": pl.String,
    "status": pl.String,
    "error": pl.String,
    "fetched_at": pl.Datetime("us"),
    "id_note": pl.String,  # how the id was derived when the item had no guid (or no date), else null
    "description": pl.String,  # the item's show notes as plain text
    "audio_deleted_at": pl.Datetime("us"),  # set by the audio_retention job, which also clears audio_path
}


@dataclass
class DayItem:
    """One item of the partition day, with its identity and (if it cannot be used) why."""

    episode_id: str
    item: FeedItem
    problem: str | None
    id_note: str | None = None


def identity_note(item: FeedItem) -> str | None:
    """Why an item's id is not simply (feed, guid), in words for the `id_note` column (None when it is)."""
    if item.guid:
        return None
    source = "the enclosure URL" if item.audio_url else "the title and publication date"
    note = f"no guid in the feed: id derived from the feed URL and {source}"
    return note if item.published_at else note + "; no publication date either"


def day_items(feed_url: str, feed: ParsedFeed, day: dt.date, seen_on_other_days: set[str]) -> tuple[list[DayItem], int]:
    """The feed's items published on `day`, one per episode id.

    A guid repeated in the feed, or an episode already stored under another day (a re-dated item),
    is skipped rather than duplicated. Returns the items and how many were skipped as duplicates.
    """
    chosen: dict[str, DayItem] = {}
    duplicates = 0
    for item in items_published_on(feed, day):
        episode_id = episode_id_for(feed_url, item.guid, item.audio_url, fallback=f"{item.title}|{item.published_at}")
        if episode_id in chosen or episode_id in seen_on_other_days:
            duplicates += 1
            continue
        chosen[episode_id] = DayItem(episode_id, item, item.problem, identity_note(item))
    return list(chosen.values()), duplicates


def episode_row(partition_date: dt.date, feed_url: str, show_title: str | None, day_item: DayItem) -> dict:
    """The row for an item before download; the caller fills audio/transcript fields and the status."""
    item = day_item.item
    transcript = item.best_transcript()
    row = dict.fromkeys(EPISODES_SCHEMA)
    row.update(
        partition_date=partition_date,
        episode_id=day_item.episode_id,
        feed_url=feed_url,
        show_title=show_title,
        guid=item.guid,
        title=item.title,
        link=item.link,
        published_at=item.published_at.replace(tzinfo=None) if item.published_at else None,
        audio_url=item.audio_url,
        audio_type=item.audio_type,
        transcript_url=transcript.url if transcript else None,
        transcript_type=transcript.type if transcript else None,
        status="failed" if day_item.problem else "ok",
        error=day_item.problem,
        fetched_at=dt.datetime.now(dt.UTC).replace(tzinfo=None),
        id_note=day_item.id_note,
        description=item.description,
    )
    return row
