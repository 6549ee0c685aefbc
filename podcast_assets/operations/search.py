"""Search every insight so far (CLI `podcast-brief search` and the web app's /search page)."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from podcast_assets.core.rendering import clock, deep_link
from podcast_assets.core.search import SearchCorpus, clean_query
from podcast_assets.resources.warehouse import WarehouseResource

# The text searched is the one embedded (headline if written, else the passage), so BM25 and MiniLM agree.
_CORPUS_SQL = """
SELECT i.partition_date, i.insight_id, i.text, coalesce(i.headline, i.text) AS searched, i.start_s,
       coalesce(f.title, e.show_title, e.feed_url) AS show, e.title AS episode_title, e.audio_url, e.link,
       emb.embedding
FROM insights i
JOIN insight_embeddings emb USING (partition_date, insight_id)
JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
LEFT JOIN feeds f ON f.feed_url = e.feed_url
WHERE i.partition_date >= ? AND (? IS NULL OR strpos(lower(coalesce(f.title, e.show_title, e.feed_url)), ?) > 0)
ORDER BY i.partition_date, i.insight_id
"""


@dataclass(frozen=True)
class SearchHit:
    score: float
    text: str
    show: str
    episode_title: str | None
    day: dt.date
    start_s: float
    link: str | None
    insight_id: str

    @property
    def at(self) -> str:
        return clock(self.start_s)


_cache: dict[tuple, tuple] = {}
_cache_lock = threading.Lock()


def _corpus(warehouse: WarehouseResource, since: dt.date, show: str | None):
    """Rows and BM25 index for the filters; rebuilt when the warehouse file changed since (a run wrote a day)."""
    path = warehouse.db_path()
    stat = path.stat() if path.exists() else None
    key = (str(path), stat and (stat.st_mtime_ns, stat.st_size), since, show)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    with warehouse.connect() as connection:
        if not connection.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'insight_embeddings'"
        ).fetchone()[0]:
            frame = None
        else:
            frame = connection.execute(_CORPUS_SQL, [since, show, show]).pl()
    if frame is None or frame.is_empty():
        built = ([], SearchCorpus([], np.zeros((0, 0), dtype=np.float32)))
    else:
        vectors = frame["embedding"].to_numpy().astype(np.float32)
        built = (frame.drop("embedding").to_dicts(), SearchCorpus(frame["searched"].to_list(), vectors))
    with _cache_lock:
        _cache.clear()  # one corpus at a time: at 100,000 insights it is ~150 MB
        _cache[key] = built
    return built


def search_insights(
    warehouse: WarehouseResource,
    encode: Callable[[list[str]], np.ndarray],
    query: str,
    since: dt.date | None = None,
    show: str | None = None,
    limit: int = 10,
) -> list[SearchHit]:
    """The best `limit` insights of every day since `since` (all days by default), on shows whose name
    contains `show` (case-insensitive), by meaning and keywords. Raises BadQuery for an unusable query."""
    query = clean_query(query)
    show_filter = " ".join((show or "").split()).lower() or None
    rows, corpus = _corpus(warehouse, since or dt.date.min, show_filter)
    if not rows:
        return []
    ranked = corpus.rank(query, encode([query])[0], limit)
    return [
        SearchHit(
            score=score,
            text=rows[i]["text"],
            show=rows[i]["show"],
            episode_title=rows[i]["episode_title"],
            day=rows[i]["partition_date"],
            start_s=rows[i]["start_s"],
            link=deep_link(rows[i]["audio_url"], rows[i]["link"], rows[i]["start_s"]),
            insight_id=rows[i]["insight_id"],
        )
        for i, score in ranked
    ]
