"""insight_embeddings fans out like transcripts: a day split into embedding shards (steps that GPU workers take
side by side) stores the same vectors as one step, and a re-run with another shard count leaves nothing stale."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl

from podcast_assets.assets.insight_embeddings import STAGED, insight_embeddings
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)
SENTENCES = [
    "Sodium cells got forty percent cheaper in two years.",
    "Grid batteries now shave the evening peak in Texas.",
    "Short sleep doubles the chance of catching a cold.",
    "Bus lanes cut travel times by a fifth on busy streets.",
    "Most hive losses come in late winter, not in autumn.",
    "Wildfires expose old settlements once the brush burns off.",
]


def _day(warehouse: WarehouseResource) -> None:
    episodes = [f"ep{e}" for e in range(5)]
    transcripts, insights = [], []
    for e, episode in enumerate(episodes):
        for k, sentence in enumerate(SENTENCES):
            transcripts.append((DAY, episode, k, 10.0 * k, 10.0 * k + 9, f"{sentence} (show {e})"))
            if (e + k) % 2 == 0:
                insights.append((DAY, f"{episode}-i{k}", episode, 10.0 * k, 10.0 * k + 9, sentence, None, 0.7, ""))
    warehouse.replace_partition(
        "transcripts",
        DAY,
        pl.DataFrame(
            transcripts,
            schema=["partition_date", "episode_id", "segment_index", "start_s", "end_s", "text"],
            orient="row",
        ).with_columns(source=pl.lit("asr")),
    )
    warehouse.replace_partition(
        "insights",
        DAY,
        pl.DataFrame(
            insights,
            schema=[
                "partition_date",
                "insight_id",
                "episode_id",
                "start_s",
                "end_s",
                "text",
                "headline",
                "score",
                "signals",
            ],
            orient="row",
        ),
    )


def _materialize(warehouse: WarehouseResource, shards: int) -> pl.DataFrame:
    result = dg.materialize(
        [insight_embeddings],
        partition_key=DAY.isoformat(),
        resources={"warehouse": warehouse, "embedder": EmbedderResource(device="cpu", shards=shards)},
    )
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert len([s for s in steps if "embed_shard" in s]) == shards  # one step per shard
    assert all(check.passed for check in result.get_asset_check_evaluations())
    assert warehouse.query(f"SELECT count(*) AS n FROM {STAGED}")["n"][0] == 0  # staged rows dropped
    return warehouse.query(
        "SELECT insight_id, embedding, context_embedding FROM insight_embeddings WHERE partition_date = ? "
        "ORDER BY insight_id",
        [DAY],
    )


def test_sharded_embeddings_equal_one_step_and_rerun_with_fewer_shards_converges(home):
    warehouse = WarehouseResource()
    _day(warehouse)
    one = _materialize(warehouse, 1)
    three = _materialize(warehouse, 3)
    assert one.height == 15 and one["insight_id"].to_list() == three["insight_id"].to_list()
    for column in ("embedding", "context_embedding"):
        np.testing.assert_allclose(np.asarray(one[column].to_list()), np.asarray(three[column].to_list()), atol=1e-5)
    # The context is the talk around the insight, not the insight alone.
    cosine = (np.asarray(one["embedding"].to_list()) * np.asarray(one["context_embedding"].to_list())).sum(1)
    assert (cosine < 0.999).all()
    again = _materialize(warehouse, 2)
    assert again["insight_id"].to_list() == one["insight_id"].to_list()
