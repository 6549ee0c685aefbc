"""The registry: feeds (edited with `podcast-brief feeds`) and subscribers (the web app and `podcast-brief
subscribers`), kept in the catalog database. `subscribers` is materialized each day: it copies the catalog's
feeds and subscribers into the warehouse for SQL models and reports what subscribers did that day."""

import datetime as dt

import dagster as dg
import polars as pl
import sqlalchemy as sa

from podcast_assets.assets.reporting import markdown_table
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog import tables as t
from podcast_assets.catalog.mirror import mirror_to_warehouse
from podcast_assets.catalog.registry import receiving_briefs
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.warehouse import WarehouseResource

feeds = dg.AssetSpec(
    "feeds",
    description="Registered podcast feeds (catalog table `feeds`), edited with `podcast-brief feeds add/remove`.",
    kinds={"sqlite"},
    group_name="registry",
)

HISTORY_DAYS = 14


def _day_counts(catalog: CatalogResource, first: dt.date, last: dt.date) -> pl.DataFrame:
    """Sign-ups, confirmations, unsubscribes and feedback clicks per day (UTC) from `first` to `last`."""
    start, end = dt.datetime.combine(first, dt.time()), dt.datetime.combine(last + dt.timedelta(days=1), dt.time())
    events = catalog.rows(
        sa.select(t.subscriber_events.c.kind, t.subscriber_events.c.at).where(
            t.subscriber_events.c.at >= start, t.subscriber_events.c.at < end
        )
    )
    clicks = catalog.rows(
        sa.select(t.feedback.c.recorded_at).where(t.feedback.c.recorded_at >= start, t.feedback.c.recorded_at < end)
    )
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    counts = {d: {"day": d, "signups": 0, "confirmations": 0, "unsubscribes": 0, "feedback": 0} for d in days}
    names = {"signup": "signups", "confirm": "confirmations", "unsubscribe": "unsubscribes"}
    for event in events:
        if event["kind"] in names:
            counts[event["at"].date()][names[event["kind"]]] += 1
    for click in clicks:
        counts[click["recorded_at"].date()]["feedback"] += 1
    return pl.DataFrame(list(counts.values()))


@dg.asset(partitions_def=daily_partitions, kinds={"python", "sqlite", "duckdb"}, group_name="registry")
def subscribers(
    context: dg.AssetExecutionContext, catalog: CatalogResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Subscribers and their interests (catalog table `subscribers`): signed up on the web app (double opt-in)
    or added by an operator with `podcast-brief subscribers add`. Each day: copies the catalog's feeds and
    subscribers into the warehouse (for SQL models) and shows sign-ups, confirmations, unsubscribes and feedback
    clicks per day. Who gets a brief: active, confirmed, not paused."""
    day = dt.date.fromisoformat(context.partition_key)
    mirror_to_warehouse(catalog, warehouse, ("feeds", "subscribers"))
    per_day = _day_counts(catalog, day - dt.timedelta(days=HISTORY_DAYS - 1), day)
    count = sa.select(sa.func.count()).select_from(t.subscribers)
    with catalog.begin() as connection:
        receiving = connection.execute(count.where(receiving_briefs())).scalar_one()
        pending = connection.execute(
            sa.select(sa.func.count()).select_from(t.signups).where(t.signups.c.confirmed_at.is_(None))
        ).scalar_one()
        total = connection.execute(count).scalar_one()
    today = per_day.filter(pl.col("day") == day).to_dicts()[0]
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "receiving_briefs": receiving,
            "pending_signups": pending,
            **{f"{key}_on_day": value for key, value in today.items() if key != "day"},
            "per_day": dg.MetadataValue.md(markdown_table(per_day)),
        }
    )
