"""The front page's sample of what a reader gets: the latest day's strongest insight (the best-scored first pick of
that day's briefs), its show and a listen link, and three related insights (those its brief named, then the
nearest in meaning, other episodes first).

Read from the warehouse and kept in memory until the catalog's brief archive holds a newer day, so a page view
costs one small catalog query. While a daily run holds the warehouse, the last sample (or the placeholder) is
shown and the next view tries again."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.tables import brief_archive
from podcast_assets.core.rendering import BriefItem, deep_link
from podcast_assets.resources.warehouse import WarehouseLocked, WarehouseResource

RELATED = 3
LOCK_WAIT_S = 2.0  # the front page never waits long for a daily run's write lock

_HEADLINE_SQL = """
SELECT b.insight_id, b.related_insight_ids, i.episode_id
FROM briefs b
JOIN insights i USING (partition_date, insight_id)
WHERE b.partition_date = ? AND b.rank = 1
ORDER BY b.score DESC NULLS LAST, b.insight_id
LIMIT 1
"""
# The day's insights nearest in meaning, other episodes first (a day of one episode still shows a sample), where the
# brief named fewer related ones than we show.
_NEAREST_SQL = """
SELECT other.insight_id
FROM insight_embeddings mine
JOIN insight_embeddings other ON other.partition_date = mine.partition_date AND other.insight_id <> mine.insight_id
JOIN insights i ON i.partition_date = other.partition_date AND i.insight_id = other.insight_id
WHERE mine.partition_date = ? AND mine.insight_id = ?
ORDER BY i.episode_id = ?, array_cosine_similarity(mine.embedding, other.embedding) DESC, other.insight_id
LIMIT ?
"""
_INSIGHTS_SQL = """
SELECT i.insight_id, coalesce(i.headline, i.text) AS text, i.start_s, e.title AS episode_title, e.audio_url, e.link,
       coalesce(f.title, e.show_title, e.feed_url) AS show
FROM insights i
JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
LEFT JOIN feeds f ON f.feed_url = e.feed_url
WHERE i.partition_date = ? AND list_contains(?, i.insight_id)
"""


@dataclass(frozen=True)
class Sample:
    day: str
    headline: BriefItem  # its `related` holds the related insights


def _item(row: dict) -> BriefItem:
    return BriefItem(
        text=row["text"],
        show=row["show"],
        episode_title=row["episode_title"] or "",
        start_s=row["start_s"],
        link=deep_link(row["audio_url"], row["link"], row["start_s"]),
    )


def read_sample(warehouse: WarehouseResource, day) -> Sample | None:
    """The sample of `day`'s briefs, or None when that day has none."""
    head = warehouse.query(_HEADLINE_SQL, [day]).to_dicts()
    if not head:
        return None
    insight_id = head[0]["insight_id"]
    related_ids = [i for i in (head[0]["related_insight_ids"] or []) if i != insight_id][:RELATED]
    if len(related_ids) < RELATED:
        nearest = warehouse.query(_NEAREST_SQL, [day, insight_id, head[0]["episode_id"], RELATED * 2])["insight_id"]
        related_ids += [i for i in nearest.to_list() if i not in related_ids][: RELATED - len(related_ids)]
    rows = {r["insight_id"]: r for r in warehouse.query(_INSIGHTS_SQL, [day, [insight_id, *related_ids]]).to_dicts()}
    if insight_id not in rows:
        return None
    headline = _item(rows[insight_id])
    headline.related = [_item(rows[i]) for i in related_ids if i in rows]
    return Sample(day.isoformat(), headline)


class FrontPageSample:
    """The cached sample; thread-safe (pages are served from a thread pool)."""

    def __init__(self, catalog: CatalogResource, warehouse: WarehouseResource | None = None) -> None:
        self.catalog = catalog
        self.warehouse = warehouse
        self._lock = threading.Lock()
        self._day = None
        self._sample: Sample | None = None

    def get(self) -> Sample | None:
        latest = self.catalog.rows(sa.select(sa.func.max(brief_archive.c.partition_date, type_=sa.Date).label("day")))[
            0
        ]["day"]
        with self._lock:
            if latest is None or latest == self._day:
                return self._sample
            try:
                self._sample = read_sample(self.warehouse or WarehouseResource(lock_timeout_s=LOCK_WAIT_S), latest)
            except WarehouseLocked:
                return self._sample  # the run is writing: show what we had, read again on a later view
            self._day = latest
            return self._sample
