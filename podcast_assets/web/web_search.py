"""The web app's search: MiniLM loaded on the first query, the warehouse read with a short lock wait."""

from __future__ import annotations

from podcast_assets.operations.search import SearchHit, search_insights
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.warehouse import WarehouseResource

RESULTS = 10
LOCK_WAIT_S = 5.0  # a page should not hang for the minute a daily run may hold DuckDB's write lock


def run(query: str, show: str | None) -> list[SearchHit]:
    warehouse = WarehouseResource(lock_timeout_s=LOCK_WAIT_S)
    return search_insights(warehouse, EmbedderResource().encode, query, show=show, limit=RESULTS)
