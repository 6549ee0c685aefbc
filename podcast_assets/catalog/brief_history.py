"""What the daily run keeps for subscribers in the catalog (the archive of their briefs) and reads back from it
(their feedback clicks, joined to the insights' embeddings in the warehouse)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Iterable

import numpy as np
import polars as pl
import sqlalchemy as sa

from podcast_assets.catalog.resource import CatalogResource
from podcast_assets.catalog.tables import brief_archive, feedback
from podcast_assets.core.feedback import WINDOW_DAYS, Verdict
from podcast_assets.resources.warehouse import WarehouseResource


def brief_archive_rows(documents: pl.DataFrame, picks: pl.DataFrame, insights: dict[str, dict]) -> list[dict]:
    """One archive row per rendered brief of `documents`: its HTML and its insights (what feedback links may
    name)."""
    rows = []
    # One pass over the picks, not one filter of all picks per brief (quadratic at 100,000 subscribers).
    ids_of = {
        key[0]: group.sort("rank")["insight_id"].to_list()
        for key, group in picks.select("subscriber_id", "rank", "insight_id").group_by("subscriber_id")
    }
    for document in documents.filter(pl.col("status") == "ok").iter_rows(named=True):
        ids = ids_of.get(document["subscriber_id"], [])
        rows.append(
            {
                "partition_date": document["partition_date"],
                "subscriber_id": document["subscriber_id"],
                "n_insights": document["n_insights"],
                "html": document["html"],
                "insights": [{"insight_id": i, "text": insights[i]["text"]} for i in ids],
            }
        )
    return rows


def write_brief_archive(catalog: CatalogResource, day: dt.date, rows: Iterable[dict]) -> None:
    """Replace the day's archive in one transaction (a re-run of the day replaces it; feedback rows stay). `rows`
    may be a generator: they are inserted 1,000 at a time, so a day's HTML is never all in memory."""
    with catalog.begin() as connection:
        connection.execute(brief_archive.delete().where(brief_archive.c.partition_date == day))
        iterator = iter(rows)
        while batch := list(itertools.islice(iterator, 1_000)):
            connection.execute(brief_archive.insert(), batch)


def day_verdicts(catalog: CatalogResource, warehouse: WarehouseResource, day: dt.date) -> dict[str, list[Verdict]]:
    """Per subscriber: their clicks on briefs of the `WINDOW_DAYS` before `day` (never `day` itself, so a re-run
    of a day ranks the same), with each insight's embedding and age."""
    first = day - dt.timedelta(days=WINDOW_DAYS)
    clicks = catalog.rows(
        sa.select(feedback).where(feedback.c.partition_date >= first, feedback.c.partition_date < day)
    )
    if not clicks:
        return {}
    ids = sorted({c["insight_id"] for c in clicks})
    embeddings = warehouse.query(
        "SELECT partition_date, insight_id, embedding FROM insight_embeddings "
        "WHERE partition_date >= ? AND partition_date < ? AND list_contains(?, insight_id)",
        [first, day, ids],
    )
    vectors = {
        (d, i): np.asarray(e, dtype=np.float32)
        for d, i, e in embeddings.select("partition_date", "insight_id", "embedding").iter_rows()
    }
    verdicts: dict[str, list[Verdict]] = defaultdict(list)
    for click in clicks:
        vector = vectors.get((click["partition_date"], click["insight_id"]))
        if vector is not None:  # an insight whose day was re-run away has nothing to pull toward
            age = (day - click["partition_date"]).days
            verdicts[click["subscriber_id"]].append(Verdict(vector, click["verdict"] == "more", age))
    return dict(verdicts)
