"""The warehouse and audio on shared/object storage (PODCAST_BRIEF_LAKE_URL, PODCAST_BRIEF_AUDIO_URL)."""

import datetime as dt
import multiprocessing

import dagster as dg
import fsspec
import polars as pl

from podcast_assets.catalog import CatalogResource
from podcast_assets.daily_runs.runner import run_day
from podcast_assets.demo.run import register_demo
from podcast_assets.evaluation.demo_network import DEMO_DAY
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.resources.lake import LAKE_TABLES
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.conftest import patched_env

D1, D2 = dt.date(2026, 11, 23), dt.date(2026, 11, 24)


def _episodes(day: dt.date, n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partition_date": [day] * n,
            "episode_id": [f"{day}-{i}" for i in range(n)],
            "feed_url": ["f"] * n,
            "status": ["ok"] * n,
        }
    )


def test_lake_partitions_are_files_replaced_per_day(tmp_path):
    for lake_url in (str(tmp_path / "lake"), "memory://lake-test"):
        warehouse = WarehouseResource(path=str(tmp_path / f"catalog-{len(lake_url)}.duckdb"), lake_url=lake_url)
        assert warehouse.query("SELECT count(*) AS n FROM episodes")["n"][0] == 0  # typed, empty, before any write
        warehouse.replace_partition("episodes", D1, _episodes(D1, 2))
        warehouse.replace_partition("episodes", D2, _episodes(D2, 3))
        warehouse.replace_partition("episodes", D1, _episodes(D1, 1))  # a re-run of D1 replaces D1 only
        counts = warehouse.query("SELECT partition_date, count(*) AS n FROM episodes GROUP BY 1 ORDER BY 1")
        assert counts.rows() == [(D1, 1), (D2, 3)]
        fs, root = fsspec.core.url_to_fs(lake_url)
        assert fs.exists(f"{root}/episodes/partition_date=2026-11-24.parquet")
        # the catalog holds views for the daily tables and real tables for the small transactional ones
        with warehouse.connect() as connection:
            kinds = dict(
                connection.execute(
                    "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
                ).fetchall()
            )
        assert kinds["episodes"] == "VIEW" and kinds["feeds"] == "BASE TABLE"
        assert LAKE_TABLES - {"insight_embeddings"} <= {name for name, kind in kinds.items() if kind == "VIEW"}


def _write_days(catalog: str, lake: str, days: list[str]) -> None:
    warehouse = WarehouseResource(path=catalog, lake_url=lake)
    for day in days:
        warehouse.replace_partition(
            "insights",
            dt.date.fromisoformat(day),
            pl.DataFrame(
                {
                    "partition_date": [dt.date.fromisoformat(day)],
                    "insight_id": [day],
                    "episode_id": ["e"],
                    "start_s": [0.0],
                    "end_s": [1.0],
                    "text": ["t"],
                    "score": [0.5],
                }
            ),
        )


def test_writers_on_other_machines_do_not_wait_for_the_catalog_lock(tmp_path):
    catalog, lake = str(tmp_path / "catalog.duckdb"), str(tmp_path / "lake")
    warehouse = WarehouseResource(path=catalog, lake_url=lake)
    days = [(D1 - dt.timedelta(days=i)).isoformat() for i in range(12)]
    context = multiprocessing.get_context("spawn")
    with warehouse.connect():  # another process holds the DuckDB catalog (e.g. a long query)
        writers = [context.Process(target=_write_days, args=(catalog, lake, days[i::2])) for i in range(2)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join(timeout=60)
        assert [writer.exitcode for writer in writers] == [0, 0]
    assert sorted(warehouse.query("SELECT insight_id FROM insights")["insight_id"]) == sorted(days)


def test_demo_day_runs_on_the_lake_with_audio_in_an_object_store(tmp_path):
    home = tmp_path / "home"
    with (
        SiteServer() as site,
        patched_env(
            {
                "PODCAST_BRIEF_HOME": str(home),
                "PODCAST_BRIEF_SMTP_HOST": None,
                "PODCAST_BRIEF_LAKE_URL": str(tmp_path / "shared" / "lake"),
                "PODCAST_BRIEF_AUDIO_URL": "memory://audio-store",
            }
        ),
    ):
        warehouse = WarehouseResource()
        register_demo(CatalogResource(), site)
        result = run_day(DEMO_DAY, dg.DagsterInstance.ephemeral())
        assert result.success
        assert all(e.passed for e in result.get_asset_check_evaluations())
        episodes = warehouse.query("SELECT audio_path, status FROM episodes WHERE partition_date = ?", [DEMO_DAY])
        assert episodes.height == 8 and set(episodes["status"]) == {"ok"}
        assert all(p.startswith("memory://") and "/audio-store/2026-11-24/" in p for p in episodes["audio_path"])
        fs, stored = fsspec.core.url_to_fs(episodes["audio_path"][0])
        assert fs.exists(stored) and fs.size(stored) > 10_000
        briefs = warehouse.query("SELECT status, count(*) AS n FROM brief_documents GROUP BY 1")
        assert dict(briefs.rows()) == {"ok": 3}
        lake = tmp_path / "shared" / "lake"
        for table in ("episodes", "transcripts", "insights", "insight_embeddings", "briefs"):
            assert (lake / table / "partition_date=2026-11-24.parquet").exists(), table
        health = warehouse.query("SELECT * FROM marts.daily_feed_health WHERE partition_date = ?", [DEMO_DAY])
        assert health.height == 4  # the SQL models read the lake through the same views
