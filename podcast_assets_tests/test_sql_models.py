"""SQL models (dbt_like_sql/): parsing, Dagster specs, and real runs on a DuckDB file."""

import datetime as dt
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlglot

from podcast_assets.assets.sql_models import (
    DEFAULT_SQL_DIR,
    SQL_DIR_ENV,
    sql_model_definitions,
    unpartitioned_sql_asset_keys,
)
from podcast_assets.core.sql_models import SqlModelError, load_project
from podcast_assets.resources.warehouse import WarehouseResource

PROJECTS = Path(__file__).parent / "fixtures" / "sql_projects"
DAY_1, DAY_2 = "2026-01-05", "2026-01-06"


@pytest.fixture
def warehouse(tmp_path: Path) -> WarehouseResource:
    return WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))


def insert_rows(warehouse: WarehouseResource, table: str, rows: list[dict]) -> None:
    frame = pl.DataFrame(rows)
    target = sqlglot.exp.to_identifier(table, quoted=True).sql("duckdb")
    with warehouse.connect() as connection:
        connection.register("seed_rows", frame.to_arrow())
        connection.execute(f"INSERT INTO {target} BY NAME SELECT * FROM seed_rows")


def run(defs: dg.Definitions, warehouse: WarehouseResource, partition: str | None = None, selection=None):
    return dg.materialize(
        list(defs.assets),
        partition_key=partition,
        resources={"warehouse": warehouse},
        selection=selection,
        raise_on_error=False,
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetMaterialization]:
    return {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}


DAILY = dg.AssetSelection.groups("sql_daily")


# ---------------------------------------------------------------- parsing


def test_fixture_project_dependency_graph():
    project = load_project(PROJECTS / "basic")

    assert list(project.models) == [
        ("staging", "stg_episodes"),
        ("marts", "episodes_per_feed"),
        ("marts", "feed_totals"),
    ]
    stg, per_feed, totals = project.models.values()
    assert (stg.materialized, per_feed.materialized, totals.materialized) == ("view", "partition", "table")
    assert stg.model_deps == frozenset() and {s.asset_key for s in stg.source_deps} == {("episodes",)}
    assert per_feed.model_deps == {("staging", "stg_episodes")}  # ref('stg_episodes')
    assert totals.model_deps == {("staging", "stg_episodes")}  # ref('staging', 'stg_episodes')
    assert totals.description == "Episodes per feed over all days."  # from the header comment
    assert stg.column_descriptions["episode_id"] == "Stable id of the episode."
    tests = {t.name: t for t in per_feed.tests}
    assert set(tests) == {
        "unique_partition_date_feed_url",
        "not_null_feed_url",
        "not_null_show_title",
        "accepted_values_n_failed",
        "failed_not_above_found",  # tests/failed_not_above_found.sql, attached through its ref()
    }
    assert tests["unique_partition_date_feed_url"].blocking  # severity: error
    assert not tests["not_null_show_title"].blocking
    assert tests["accepted_values_n_failed"].severity == "warn"


def test_cycle_is_an_error_naming_the_files():
    with pytest.raises(SqlModelError, match="dependency cycle") as error:
        load_project(PROJECTS / "cycle")
    message = str(error.value)
    assert "models/marts/a.sql -> models/marts/b.sql -> models/marts/c.sql -> models/marts/a.sql" in message


def test_unknown_ref_is_an_error_naming_file_and_line():
    with pytest.raises(SqlModelError) as error:
        load_project(PROJECTS / "unknown_ref")
    message = str(error.value)
    assert message.startswith(str(PROJECTS / "unknown_ref" / "models" / "marts" / "b.sql") + ":3:")
    assert "ref('no_such_model'): unknown model" in message


def test_sql_syntax_error_reports_file_and_line():
    with pytest.raises(SqlModelError, match="SQL syntax error") as error:
        load_project(PROJECTS / "syntax_error")
    message = str(error.value)
    assert message.startswith(str(PROJECTS / "syntax_error" / "models" / "staging" / "broken.sql") + ":4:")
    assert "(x + ) as y" in message


def test_duckdb_syntax_sqlglot_does_not_know_still_loads(tmp_path: Path):
    (tmp_path / "models" / "marts").mkdir(parents=True)
    # Python-style lambdas (DuckDB 1.3+): DuckDB's own parser has the last word when sqlglot fails.
    (tmp_path / "models" / "marts" / "squares.sql").write_text(
        "select list_transform([1, 2, 3], lambda x: x * x) as squares;  -- trailing comment\n"
    )
    project = load_project(tmp_path)
    assert list(project.models) == [("marts", "squares")]


def test_partition_variable_in_unpartitioned_model_is_an_error(tmp_path: Path):
    (tmp_path / "models" / "marts").mkdir(parents=True)
    (tmp_path / "models" / "marts" / "daily.sql").write_text("select\n  {{ partition_date }} as d\n")
    with pytest.raises(SqlModelError, match=r"daily\.sql:2: 'partition_date' is undefined"):
        load_project(tmp_path)


def test_models_yml_entry_without_a_file_is_an_error(tmp_path: Path):
    shutil.copytree(PROJECTS / "basic", tmp_path / "project")
    config = tmp_path / "project" / "models.yml"
    config.write_text(config.read_text() + "\n  marts.typo_model:\n    description: oops\n")
    with pytest.raises(SqlModelError, match="marts.typo_model' has no file models/marts/typo_model.sql"):
        load_project(tmp_path / "project")


def test_partitioned_and_unpartitioned_models_reading_each_other_both_ways_is_an_error(tmp_path: Path):
    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "base.sql").write_text("select 1 as x")
    (marts / "daily.sql").write_text(
        "-- materialized: partition\nselect {{ partition_date }} as partition_date, x from {{ ref('base') }}"
    )
    (marts / "summary.sql").write_text("select count(*) as n from {{ ref('daily') }}")
    with pytest.raises(SqlModelError, match=r"summary\.sql: unpartitioned model reads partitioned marts\.daily"):
        load_project(tmp_path)


def test_models_dir_comes_from_env_var_when_definitions_load(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SQL_DIR_ENV, str(PROJECTS / "basic"))
    keys = {key.to_user_string() for assets_def in sql_model_definitions().assets for key in assets_def.keys}
    assert keys == {"staging/stg_episodes", "marts/episodes_per_feed", "marts/feed_totals"}

    monkeypatch.delenv(SQL_DIR_ENV)
    default_keys = {key.to_user_string() for a in sql_model_definitions().assets for key in a.keys}
    assert "marts/daily_feed_health" in default_keys
    assert DEFAULT_SQL_DIR == Path(__file__).resolve().parents[1] / "dbt_like_sql"


# ---------------------------------------------------------------- Dagster specs


def test_multi_assets_are_subsettable_pooled_and_declare_checks():
    defs = sql_model_definitions(PROJECTS / "basic")
    by_name = {a.node_def.name: a for a in defs.assets}
    daily, unpartitioned = by_name["sql_models_daily"], by_name["sql_models"]

    assert daily.can_subset and unpartitioned.can_subset
    assert daily.node_def.pool == "duckdb_writer" and unpartitioned.node_def.pool == "duckdb_writer"
    assert daily.partitions_def is not None and unpartitioned.partitions_def is None
    assert daily.specs_by_key[dg.AssetKey(["marts", "episodes_per_feed"])].kinds == {"duckdb", "sql"}
    checks = {(spec.asset_key.to_user_string(), spec.name): spec for spec in daily.check_specs}
    assert checks[("marts/episodes_per_feed", "unique_partition_date_feed_url")].blocking
    assert not checks[("marts/episodes_per_feed", "not_null_show_title")].blocking
    assert unpartitioned_sql_asset_keys(defs) == [
        dg.AssetKey(["marts", "feed_totals"]),
        dg.AssetKey(["staging", "stg_episodes"]),
    ]


def test_real_project_lineage_connects_python_assets_to_sql_models():
    defs = sql_model_definitions()
    with_warehouse = dg.Definitions(resources={"warehouse": WarehouseResource()})
    graph = dg.Definitions.merge(defs, with_warehouse).resolve_asset_graph()

    def parents(key: list[str]) -> set[dg.AssetKey]:
        return set(graph.get(dg.AssetKey(key)).parent_keys)

    assert parents(["marts", "daily_feed_health"]) == {
        dg.AssetKey("episodes"),
        dg.AssetKey("transcripts"),  # via its transcript_status table
        dg.AssetKey("feeds"),
    }
    assert dg.AssetKey(["staging", "stg_insights"]) in parents(["marts", "top_insights_daily"])
    assert dg.AssetKey("briefs") in parents(["marts", "top_insights_daily"])
    assert parents(["marts", "theme_trends"]) == {dg.AssetKey("insight_clusters")}
    assert parents(["marts", "subscriber_engagement"]) == {
        dg.AssetKey("subscribers"),
        dg.AssetKey("briefs"),
        dg.AssetKey("brief_deliveries"),
    }
    daily = next(a for a in defs.assets if a.node_def.name == "sql_models_daily")
    mapping = daily.get_partition_mapping_for_dep(dg.AssetKey("insight_clusters"))  # 30-day lookback
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset == -29


# ---------------------------------------------------------------- runs on a DuckDB file


def seed_basic_episodes(warehouse: WarehouseResource, day: str, rows: list[tuple]) -> None:
    insert_rows(
        warehouse,
        "episodes",
        [
            {
                "partition_date": dt.date.fromisoformat(day),
                "episode_id": episode_id,
                "feed_url": feed_url,
                "show_title": show_title,
                "title": episode_id,
                "duration_s": duration_s,
                "status": status,
            }
            for episode_id, feed_url, show_title, duration_s, status in rows
        ],
    )


def per_feed_rows(warehouse: WarehouseResource) -> list[tuple]:
    frame = warehouse.query(
        "SELECT partition_date::VARCHAR, feed_url, n_episodes, n_failed FROM marts.episodes_per_feed ORDER BY 1, 2"
    )
    return frame.rows()


def test_partitioned_models_materialize_per_day_and_rerun_replaces_only_that_day(warehouse: WarehouseResource):
    defs = sql_model_definitions(PROJECTS / "basic")
    seed_basic_episodes(
        warehouse,
        DAY_1,
        [("e1", "fa", "A", 3600.0, "ok"), ("e2", "fa", "A", 1800.0, "failed"), ("e3", "fb", "B", 600.0, "ok")],
    )
    seed_basic_episodes(warehouse, DAY_2, [("e4", "fa", None, 3600.0, "ok")])

    # Only the daily group: its upstream view does not exist yet and is created on the way.
    first = run(defs, warehouse, DAY_1, DAILY)
    assert first.success
    second = run(defs, warehouse, DAY_2, DAILY)
    assert second.success
    assert per_feed_rows(warehouse) == [(DAY_1, "fa", 2, 1), (DAY_1, "fb", 1, 0), (DAY_2, "fa", 1, 0)]

    metadata = materializations(first)["marts/episodes_per_feed"].metadata
    assert metadata["dagster/row_count"].value == 2
    columns = {c.name: c for c in metadata["dagster/column_schema"].schema.columns}
    assert columns["n_episodes"].type == "BIGINT"
    assert columns["show_title"].description == "The show's title from its feed."
    assert "CAST('2026-01-05' AS DATE)" in metadata["compiled_sql"].value

    # New data for both days; re-running day 1 changes day 1 and leaves day 2 as it was.
    seed_basic_episodes(warehouse, DAY_1, [("e5", "fb", "B", 60.0, "failed")])
    seed_basic_episodes(warehouse, DAY_2, [("e6", "fc", "C", 60.0, "ok")])
    assert run(defs, warehouse, DAY_1, DAILY).success
    assert per_feed_rows(warehouse) == [(DAY_1, "fa", 2, 1), (DAY_1, "fb", 2, 1), (DAY_2, "fa", 1, 0)]

    # The unpartitioned models run on their own, over all days.
    everything_else = run(defs, warehouse, selection=unpartitioned_sql_asset_keys(defs))
    assert everything_else.success
    assert materializations(everything_else)["marts/feed_totals"].metadata["dagster/row_count"].value == 3
    assert check_results(everything_else)[("marts/feed_totals", "relationships_feed_url")].passed


def test_failing_test_is_a_failed_check_of_that_partition_only(warehouse: WarehouseResource):
    defs = sql_model_definitions(PROJECTS / "basic")
    seed_basic_episodes(warehouse, DAY_1, [("e1", "fa", "A", 3600.0, "ok")])
    seed_basic_episodes(warehouse, DAY_2, [("e2", "fb", None, 3600.0, "ok")])  # no show title

    day_1 = check_results(run(defs, warehouse, DAY_1, DAILY))
    day_2_result = run(defs, warehouse, DAY_2, DAILY)
    day_2 = check_results(day_2_result)

    check = ("marts/episodes_per_feed", "not_null_show_title")
    assert day_1[check].passed
    assert not day_2[check].passed
    assert day_2[check].metadata["failing_rows"].value == 1
    assert day_2[check].metadata["partition"].value == DAY_2
    assert day_2[("marts/episodes_per_feed", "unique_partition_date_feed_url")].passed
    assert day_2_result.success  # not blocking: the run goes on


def test_blocking_check_failure_skips_downstream_models(warehouse: WarehouseResource):
    defs = sql_model_definitions(PROJECTS / "blocking")
    insert_rows(
        warehouse,
        "feeds",
        [{"feed_url": "https://a.example/rss", "title": "A"}, {"feed_url": "https://b.example/rss", "title": None}],
    )

    result = run(defs, warehouse)

    check = check_results(result)[("staging/stg_feeds", "not_null_title")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "| https://b.example/rss | None |" in check.metadata["failing_rows_sample"].value
    assert set(materializations(result)) == {"staging/stg_feeds"}  # marts/feed_titles was not built
    assert not result.success  # a failed blocking check fails the step


def test_broken_model_fails_the_step_naming_its_file_but_others_still_run(tmp_path: Path, warehouse: WarehouseResource):
    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "leaky.sql").write_text("-- materialized: partition\nselect {{ partition_date }} + 1 as partition_date\n")
    (marts / "after_leaky.sql").write_text("-- materialized: partition\nselect * from {{ ref('leaky') }}\n")
    (marts / "fine.sql").write_text("-- materialized: partition\nselect {{ partition_date }} as partition_date\n")
    (tmp_path / "models.yml").write_text(
        "models:\n  marts.leaky:\n    columns:\n      partition_date:\n        tests: [not_null]\n"
    )

    result = run(sql_model_definitions(tmp_path), warehouse, DAY_1)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    description = failure.step_failure_data.user_failure_data.description
    assert "leaky.sql: 1 row(s) have a partition_date other than 2026-01-05" in description
    assert set(materializations(result)) == {"marts/fine"}
    assert check_results(result) == {}  # the broken model's test did not run on missing data


def test_edited_models_keep_earlier_days_and_may_change_materialization(tmp_path: Path, warehouse: WarehouseResource):
    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    daily, lookup = marts / "daily.sql", marts / "lookup.sql"
    daily.write_text("-- materialized: partition\nselect {{ partition_date }} as partition_date, 1 as a\n")
    lookup.write_text("select 1 as id\n")  # a view
    assert run(sql_model_definitions(tmp_path), warehouse, DAY_1).success
    assert run(sql_model_definitions(tmp_path), warehouse, selection=[dg.AssetKey(["marts", "lookup"])]).success

    daily.write_text("-- materialized: partition\nselect {{ partition_date }} as partition_date, 2 as a, 'x' as b\n")
    lookup.write_text("-- materialized: table\nselect 2 as id\n")
    assert run(sql_model_definitions(tmp_path), warehouse, DAY_2).success
    assert run(sql_model_definitions(tmp_path), warehouse, selection=[dg.AssetKey(["marts", "lookup"])]).success

    rows = warehouse.query("SELECT partition_date::VARCHAR, a, b FROM marts.daily ORDER BY 1").rows()
    assert rows == [(DAY_1, 1, None), (DAY_2, 2, "x")]
    kind = warehouse.query(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = 'lookup'"
    ).item()
    assert kind == "BASE TABLE"


# ---------------------------------------------------------------- the product's models


def seed_product_day(warehouse: WarehouseResource, day: str, label_sizes: dict[str, int], delivered: bool) -> None:
    date = dt.date.fromisoformat(day)
    tag = day[-2:]
    insert_rows(
        warehouse,
        "episodes",
        [
            {
                "partition_date": date,
                "episode_id": f"ep{tag}a",
                "feed_url": "https://a.example/rss",
                "show_title": "Show A",
                "title": "A1",
                "audio_url": "https://a.example/a1.mp3",
                "duration_s": 5400.0,
                "status": "ok",
            },
            {
                "partition_date": date,
                "episode_id": f"ep{tag}b",
                "feed_url": "https://a.example/rss",
                "show_title": "Show A",
                "title": "A2",
                "audio_url": "https://a.example/a2.mp3",
                "duration_s": None,
                "status": "failed",
                "error": "HTTP 404",
            },
            {
                "partition_date": date,
                "episode_id": f"ep{tag}c",
                "feed_url": "https://b.example/rss",
                "show_title": "Show B",
                "title": "B1",
                "audio_url": "https://b.example/b1.mp3",
                "duration_s": 1800.0,
                "status": "ok",
            },
        ],
    )
    insert_rows(
        warehouse,
        "transcript_status",
        [
            {
                "partition_date": date,
                "episode_id": f"ep{tag}a",
                "status": "ok",
                "source": "asr",
                "audio_s": 5400.0,
                "wall_s": 540.0,
            },
            {
                "partition_date": date,
                "episode_id": f"ep{tag}c",
                "status": "ok",
                "source": "publisher",
                "audio_s": 1800.0,
                "wall_s": 1.0,
            },
        ],
    )
    insert_rows(
        warehouse,
        "insights",
        [
            {
                "partition_date": date,
                "insight_id": f"in{tag}{n}",
                "episode_id": f"ep{tag}a",
                "start_s": 60.5 * n,
                "end_s": 60.5 * n + 20,
                "text": f"insight {n}",
                "headline": f"headline {n}",
                "score": 0.5 + n / 10,
            }
            for n in range(3)
        ],
    )
    insert_rows(
        warehouse,
        "insight_clusters",
        [{"partition_date": date, "insight_id": f"in{tag}{n}", "cluster_id": f"c{tag}{n % 2}"} for n in range(3)],
    )
    insert_rows(
        warehouse,
        "cluster_summaries",
        [
            {"partition_date": date, "cluster_id": f"c{tag}{i}", "label": label, "size": size, "n_shows": 1}
            for i, (label, size) in enumerate(label_sizes.items())
        ],
    )
    # Both subscribers get in…0; only s1 gets in…1.
    insert_rows(
        warehouse,
        "briefs",
        [
            {"partition_date": date, "subscriber_id": "s1", "rank": 1, "insight_id": f"in{tag}0", "relevance": 0.9},
            {"partition_date": date, "subscriber_id": "s1", "rank": 2, "insight_id": f"in{tag}1", "relevance": 0.7},
            {"partition_date": date, "subscriber_id": "s2", "rank": 1, "insight_id": f"in{tag}0", "relevance": 0.8},
        ],
    )
    insert_rows(
        warehouse,
        "brief_documents",
        [
            {"partition_date": date, "subscriber_id": s, "n_insights": n, "status": "ok"}
            for s, n in (("s1", 2), ("s2", 1))
        ],
    )
    insert_rows(
        warehouse,
        "brief_deliveries",
        [
            {"partition_date": date, "subscriber_id": "s1", "status": "sent" if delivered else "failed", "attempts": 1},
            {"partition_date": date, "subscriber_id": "s2", "status": "written", "attempts": 1},
        ],
    )


def test_product_models_run_on_a_seeded_warehouse(warehouse: WarehouseResource):
    defs = sql_model_definitions()
    insert_rows(
        warehouse,
        "feeds",
        [
            {"feed_url": "https://a.example/rss", "title": "Show A"},
            {"feed_url": "https://b.example/rss", "title": "Show B"},
            {"feed_url": "https://quiet.example/rss", "title": "Quiet"},
        ],
    )
    insert_rows(
        warehouse,
        "subscribers",
        [
            {"subscriber_id": s, "email": f"{s}@example.com", "name": s.upper(), "interests": "ai", "active": True}
            for s in ("s1", "s2", "s3")
        ],
    )
    old_day = "2025-12-20"  # 16 days before DAY_1: inside theme_trends' 30-day window, outside its 7 days
    seed_product_day(warehouse, old_day, {"Chips": 9, "Fusion": 1}, delivered=True)
    seed_product_day(warehouse, DAY_1, {"Chips": 1, "Fusion": 4, "Robots": 2}, delivered=True)
    seed_product_day(warehouse, DAY_2, {"Fusion": 1, "Robots": 2}, delivered=False)

    results = [run(defs, warehouse, day, DAILY) for day in (DAY_1, DAY_2)]
    results.append(run(defs, warehouse, selection=unpartitioned_sql_asset_keys(defs)))

    assert all(r.success for r in results)
    failed_checks = [key for r in results for key, e in check_results(r).items() if not e.passed]
    assert failed_checks == []
    assert len(check_results(results[0])) == 10  # every check of every daily model ran

    health = warehouse.query(
        "SELECT feed_url, episodes_found, episodes_ok, episodes_failed, transcripts_asr, transcripts_publisher,"
        " publisher_transcript_share, audio_hours, asr_speed_x_realtime"
        " FROM marts.daily_feed_health WHERE partition_date = ? ORDER BY feed_url",
        [dt.date.fromisoformat(DAY_1)],
    )
    assert health.rows() == [
        ("https://a.example/rss", 2, 1, 1, 1, 0, 0.0, 1.5, 10.0),
        ("https://b.example/rss", 1, 1, 0, 0, 1, 1.0, 0.5, None),
        ("https://quiet.example/rss", 0, 0, 0, 0, 0, None, 0.0, None),
    ]

    trends = dict(
        warehouse.query(
            "SELECT theme, trend FROM marts.theme_trends WHERE partition_date = ?", [dt.date.fromisoformat(DAY_1)]
        ).rows()
    )
    assert trends == {"chips": "fading", "fusion": "rising", "robots": "new"}

    top = warehouse.query(
        "SELECT partition_date::VARCHAR, insight_rank, insight_id, n_briefs, n_delivered, deep_link, cluster_label"
        " FROM marts.top_insights_daily ORDER BY 1, 2"
    )
    assert top.rows() == [
        (DAY_1, 1, "in050", 2, 2, "https://a.example/a1.mp3#t=0", "Chips"),
        (DAY_1, 2, "in051", 1, 1, "https://a.example/a1.mp3#t=60", "Fusion"),
        (DAY_2, 1, "in060", 2, 1, "https://a.example/a1.mp3#t=0", "Fusion"),
        (DAY_2, 2, "in061", 1, 0, "https://a.example/a1.mp3#t=60", "Robots"),
    ]

    engagement = warehouse.query(
        "SELECT subscriber_id, briefs_made, deliveries_done, deliveries_failed, insights_received"
        " FROM marts.subscriber_engagement ORDER BY subscriber_id"
    )
    assert engagement.rows() == [("s1", 3, 2, 1, 4), ("s2", 3, 3, 0, 3), ("s3", 0, 0, 0, 0)]
