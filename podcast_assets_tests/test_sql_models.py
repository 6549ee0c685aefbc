"""SQL models (dbt_like_sql/): parsing, Dagster assets, and real runs on a DuckDB file."""

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import sqlglot

from podcast_assets.assets.sql_models import (
    DEFAULT_SQL_DIR,
    FULL_REFRESH_TAG,
    PROJECT_ASSET_KEY,
    PROJECT_CHECK_NAME,
    SQL_DIR_ENV,
    sql_model_definitions,
    unpartitioned_sql_asset_keys,
)
from podcast_assets.commands.cli import main
from podcast_assets.core.sql_models import load_project, select_models
from podcast_assets.resources.warehouse import WarehouseResource

PROJECTS = Path(__file__).parent / "fixtures" / "sql_projects"
REPO = Path(__file__).resolve().parents[1]
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


def write_project(root: Path, files: dict[str, str]) -> Path:
    """A SQL project from {relative path: text}."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def run(defs: dg.Definitions, warehouse: WarehouseResource, partition: str | None = None, selection=None, tags=None):
    return dg.materialize(
        list(defs.assets),
        partition_key=partition,
        resources={"warehouse": warehouse},
        selection=selection,
        raise_on_error=False,
        tags=tags,
    )


def check_results(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def materializations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetMaterialization]:
    return {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}


def step_failures(result: dg.ExecuteInProcessResult) -> dict[str, str]:
    """step key -> the failure's description (a dg.Failure's) or error message."""
    failures = {}
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            failures[event.step_key] = (
                data.user_failure_data.description if data.user_failure_data else data.error.message
            )
    return failures


def error_lines(project_dir: Path) -> list[str]:
    project = load_project(project_dir)
    return [error.format(project_dir) for error in project.errors()]


DAILY = dg.AssetSelection.groups("sql_daily")


# ---------------------------------------------------------------- parsing


def test_fixture_project_dependency_graph():
    project = load_project(PROJECTS / "basic")

    assert project.errors() == []
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
    assert stg.description == "One row per episode, with an is_failed flag."  # from models.yml
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
    assert not tests["not_null_show_title"].blocking  # no severity: a failed check, not blocking
    assert tests["accepted_values_n_failed"].severity == "warn"
    assert tests["accepted_values_n_failed"].line == 28  # models.yml line of the test, for errors


def test_cycle_is_an_error_of_each_model_on_it_naming_the_files():
    project = load_project(PROJECTS / "cycle")  # loads: the cycle is recorded, not raised
    errors = error_lines(PROJECTS / "cycle")
    chain = "models/marts/a.sql -> models/marts/b.sql -> models/marts/c.sql -> models/marts/a.sql"
    assert errors == [f"models/marts/{n}.sql:1: dependency cycle (each reads the next): {chain}" for n in "abc"]
    assert all(model.broken for model in project.models.values())


def test_unknown_ref_is_an_error_naming_file_and_line():
    project = load_project(PROJECTS / "unknown_ref")
    error = project.models[("marts", "b")].error
    assert str(error).startswith(str(PROJECTS / "unknown_ref" / "models" / "marts" / "b.sql") + ":3:")
    assert "ref('no_such_model'): unknown model" in str(error)
    assert not project.models[("marts", "a")].broken
    assert project.models[("marts", "b")].model_deps == {("marts", "a")}  # what it could resolve, for lineage


def test_sql_syntax_error_reports_file_and_line():
    project = load_project(PROJECTS / "syntax_error")
    message = str(project.models[("staging", "broken")].error)
    assert message.startswith(str(PROJECTS / "syntax_error" / "models" / "staging" / "broken.sql") + ":4:")
    assert "SQL syntax error" in message and "(x + ) as y" in message


def test_syntax_error_line_is_the_files_line_after_jinja_blocks(tmp_path: Path):
    write_project(
        tmp_path,
        {
            "models/marts/m.sql": (
                "{{ config(\n    materialized='incremental'\n) }}\n"
                "select 1 as id\n{% if is_incremental() %}\nwhere id > (select max(id) from {{ this }})\n{% endif %}\n"
                "  and id in (1,, 2)\n"
            )
        },
    )
    assert error_lines(tmp_path)[0].startswith("models/marts/m.sql:8:")


def test_duckdb_syntax_sqlglot_does_not_know_still_loads(tmp_path: Path):
    # Python-style lambdas (DuckDB 1.3+): DuckDB's own parser has the last word when sqlglot fails.
    write_project(
        tmp_path, {"models/marts/squares.sql": "select list_transform([1, 2, 3], lambda x: x * x) as squares;  -- c\n"}
    )
    project = load_project(tmp_path)
    assert list(project.models) == [("marts", "squares")] and project.errors() == []


def test_partition_variable_in_unpartitioned_model_is_an_error(tmp_path: Path):
    write_project(tmp_path, {"models/marts/daily.sql": "select\n  {{ partition_date }} as d\n"})
    [error] = error_lines(tmp_path)
    assert error.startswith("models/marts/daily.sql:2: 'partition_date' is undefined")


def test_models_yml_entry_without_a_file_is_an_error(tmp_path: Path):
    shutil.copytree(PROJECTS / "basic", tmp_path / "project")
    config = tmp_path / "project" / "models.yml"
    lines = config.read_text().splitlines()
    config.write_text("\n".join([*lines, "  - name: typo_model", "    description: oops", ""]))
    errors = error_lines(tmp_path / "project")
    assert errors == [
        f"models.yml:{len(lines) + 1}: models entry 'typo_model' has no file models/<schema>/typo_model.sql"
    ]
    assert len(load_project(tmp_path / "project").models) == 3  # the rest still loads


def test_unsupported_dbt_features_are_reported_not_ignored(tmp_path: Path):
    write_project(
        tmp_path,
        {
            "models/marts/m.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as x\n",
            "models/schema.yml": (
                "sources:\n  - name: warehouse\n    tables:\n      - name: feeds\n"
                "        columns:\n          - name: feed_url\n            data_tests: [unique]\n"
                "seeds:\n  - name: countries\n"
            ),
        },
    )
    assert error_lines(tmp_path) == [
        "models/marts/m.sql:1: materialized must be one of ['view', 'table', 'incremental', 'partition'], "
        "got 'ephemeral'",
        "models/schema.yml:1: ['seeds'] not supported here (supported: models, sources, data_tests)",
        "models/schema.yml:4: tests on sources are not run here: test the models that read them",
    ]


def test_dbt_config_in_the_model_the_header_shorthand_and_yml(tmp_path: Path):
    write_project(
        tmp_path,
        {
            "models/marts/events.sql": (
                "{{ config(materialized='incremental', unique_key=['id', 'day'], tags=['daily', 'finance']) }}\n"
                "select 1 as id, current_date as day\n"
            ),
            "models/marts/header.sql": "-- Counts.\n-- materialized: table\nselect 1 as n\n",
            "models/marts/from_yml.sql": "select 1 as n\n",
            "models/marts/file_wins.sql": "{{ config(materialized='view') }}\nselect 1 as n\n",
            "models/marts/disagree.sql": "-- materialized: view\n{{ config(materialized='table') }}\nselect 1 as n\n",
            "models/marts/typo.sql": "\n{{ config(materialised='table') }}\nselect 1 as n\n",
            "models/marts/off.sql": "{{ config(enabled=false) }}\nselect 1 as n\n",
            "models/schema.yml": (
                "models:\n"
                "  - name: from_yml\n    config: {materialized: table, tags: [weekly]}\n"
                "  - name: file_wins\n    config: {materialized: table}\n"
            ),
        },
    )
    project = load_project(tmp_path)
    events, header = project.models[("marts", "events")], project.models[("marts", "header")]
    assert (events.materialized, events.unique_key, events.tags) == ("incremental", ("id", "day"), ("daily", "finance"))
    assert (header.materialized, header.description) == ("table", "Counts.")
    assert project.models[("marts", "from_yml")].tags == ("weekly",)
    assert project.models[("marts", "file_wins")].materialized == "view"  # dbt: the model file wins over yml
    assert ("marts", "off") not in project.models  # enabled=false: not a model at all, as in dbt
    assert error_lines(tmp_path) == [
        "models/marts/disagree.sql:1: the header says materialized: view but config() says materialized='table'",
        "models/marts/typo.sql:2: unknown config ['materialised'] (supported: ['enabled', 'lookback_days', "
        "'materialized', 'meta', 'tags', 'unique_key'])",
    ]


def test_var_default_project_value_and_override(tmp_path: Path):
    write_project(
        tmp_path,
        {
            "dbt_project.yml": "name: analytics\nvars:\n  label: from_project\n",
            "models/marts/settings.sql": (
                "select {{ var('threshold', 5) }} as threshold, '{{ var('label') }}' as label\n"
            ),
            "models/marts/needs_var.sql": "select\n  {{ var('nowhere') }} as x\n",
        },
    )
    from podcast_assets.core.sql_models import compile_model

    default = load_project(tmp_path)
    assert compile_model(default, ("marts", "settings")).strip() == "select 5 as threshold, 'from_project' as label"
    overridden = load_project(tmp_path, vars={"threshold": 7, "label": "cli", "nowhere": 1})
    assert compile_model(overridden, ("marts", "settings")).strip() == "select 7 as threshold, 'cli' as label"
    assert not overridden.models[("marts", "needs_var")].broken
    [error] = error_lines(tmp_path)
    assert error.startswith("models/marts/needs_var.sql:2: var('nowhere') is not set and has no default")


def test_models_dir_comes_from_env_var_when_definitions_load(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(SQL_DIR_ENV, str(PROJECTS / "basic"))
    keys = {key.to_user_string() for assets_def in sql_model_definitions().assets for key in assets_def.keys}
    assert keys == {"staging/stg_episodes", "marts/episodes_per_feed", "marts/feed_totals", "sql_project"}

    monkeypatch.delenv(SQL_DIR_ENV)
    default_keys = {key.to_user_string() for a in sql_model_definitions().assets for key in a.keys}
    assert "marts/daily_feed_health" in default_keys
    assert DEFAULT_SQL_DIR == Path(__file__).resolve().parents[1] / "dbt_like_sql"


def test_select_models_like_dbt_graph_selectors(tmp_path: Path):
    write_project(
        tmp_path,
        {
            "models/staging/base.sql": "select 1 as x",
            "models/marts/middle.sql": "{{ config(tags=['nightly']) }}\nselect * from {{ ref('base') }}",
            "models/marts/top.sql": "select * from {{ ref('middle') }}",
            "models/marts/other.sql": "select 2 as y",
        },
    )
    project = load_project(tmp_path)
    names = lambda selector: [name for _, name in select_models(project, selector)]  # noqa: E731
    assert names("middle+") == ["middle", "top"]
    assert names("+middle") == ["base", "middle"]
    assert sorted(names("marts.top other")) == ["other", "top"]
    assert names("tag:nightly+") == ["middle", "top"]
    with pytest.raises(ValueError, match="unknown model"):
        select_models(project, "nope+")


# ---------------------------------------------------------------- Dagster assets


def test_one_asset_per_model_pooled_with_its_tests_as_checks():
    defs = sql_model_definitions(PROJECTS / "basic")
    by_key = {key.to_user_string(): a for a in defs.assets for key in a.keys}
    per_feed, totals = by_key["marts/episodes_per_feed"], by_key["marts/feed_totals"]

    assert len({id(a) for a in defs.assets}) == 4  # three models and the project
    assert per_feed.node_def.name == "sql__marts__episodes_per_feed"
    assert per_feed.node_def.pool == "duckdb_writer" and totals.node_def.pool == "duckdb_writer"
    assert per_feed.partitions_def is not None and totals.partitions_def is None
    assert per_feed.specs_by_key[dg.AssetKey(["marts", "episodes_per_feed"])].kinds == {"duckdb", "sql"}
    checks = {(spec.asset_key.to_user_string(), spec.name): spec for spec in per_feed.check_specs}
    assert checks[("marts/episodes_per_feed", "unique_partition_date_feed_url")].blocking
    assert not checks[("marts/episodes_per_feed", "not_null_show_title")].blocking
    assert unpartitioned_sql_asset_keys(defs) == [
        dg.AssetKey(["marts", "feed_totals"]),
        PROJECT_ASSET_KEY,
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
    trends = next(a for a in defs.assets if dg.AssetKey(["marts", "theme_trends"]) in a.keys)
    mapping = trends.get_partition_mapping_for_dep(dg.AssetKey("insight_clusters"))  # 30-day lookback
    assert isinstance(mapping, dg.TimeWindowPartitionMapping) and mapping.start_offset == -29
    engagement = next(a for a in defs.assets if dg.AssetKey(["marts", "subscriber_engagement"]) in a.keys)
    assert isinstance(engagement.get_partition_mapping_for_dep(dg.AssetKey("briefs")), dg.AllPartitionMapping)


def test_models_read_each_other_across_the_partition_boundary_both_ways(tmp_path: Path, warehouse: WarehouseResource):
    """A table over a partitioned model (all its days) and a partitioned model over a table (its current rows):
    in one project, which packs of models per partitioning made a cycle."""
    write_project(
        tmp_path,
        {
            "models.yml": "sources:\n  - name: warehouse\n    tables:\n"
            "      - name: episodes\n        meta: {dagster: {partitioned: true}}\n",
            "models/marts/owners.sql": "-- materialized: table\nselect 'fa' as feed_url, 'Ann' as owner\n",
            "models/marts/daily.sql": (
                "{{ config(materialized='partition') }}\n"
                "select e.partition_date, e.feed_url, o.owner, count(*) as n\n"
                "from {{ source('warehouse', 'episodes') }} as e\n"
                "left join {{ ref('owners') }} as o using (feed_url)\n"
                "where e.partition_date = {{ partition_date }}\ngroup by all\n"
            ),
            "models/marts/totals.sql": (
                "-- materialized: table\nselect owner, sum(n) as n from {{ ref('daily') }} group by owner\n"
            ),
        },
    )
    defs = sql_model_definitions(tmp_path)
    by_key = {key.to_user_string(): a for a in defs.assets for key in a.keys}
    assert isinstance(
        by_key["marts/totals"].get_partition_mapping_for_dep(dg.AssetKey(["marts", "daily"])), dg.AllPartitionMapping
    )
    graph = dg.Definitions.merge(defs, dg.Definitions(resources={"warehouse": warehouse})).resolve_asset_graph()
    assert dg.AssetKey(["marts", "owners"]) in graph.get(dg.AssetKey(["marts", "daily"])).parent_keys
    seed_basic_episodes(warehouse, DAY_1, [("e1", "fa", "A", 60.0, "ok")])

    day = run(defs, warehouse, DAY_1, DAILY)  # owners is built on the way (it has never run), and recorded
    assert day.success
    assert set(materializations(day)) == {"marts/daily", "marts/owners"}
    after = run(defs, warehouse, selection=unpartitioned_sql_asset_keys(defs))
    assert after.success
    assert warehouse.query("SELECT owner, n FROM marts.totals").rows() == [("Ann", 1)]


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
    assert check_results(everything_else)[("sql_project", PROJECT_CHECK_NAME)].passed


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

    result = run(
        defs, warehouse, selection=[dg.AssetKey(["staging", "stg_feeds"]), dg.AssetKey(["marts", "feed_titles"])]
    )

    check = check_results(result)[("staging/stg_feeds", "not_null_title")]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.ERROR
    assert "| https://b.example/rss | None |" in check.metadata["failing_rows_sample"].value
    assert set(materializations(result)) == {"staging/stg_feeds"}  # marts/feed_titles was not built
    assert not result.success  # a failed blocking check fails the step


GENERIC_CASES = {
    # kind: (column, test spec arguments)
    "unique": ("id", {}),
    "not_null": ("label", {}),
    "accepted_values": ("status", {"values": ["new", "old"]}),
    "relationships": ("parent_id", {"to": "ref('parents')", "field": "id"}),
}


def generic_test_project(root: Path, kind: str, severity: str) -> Path:
    column, arguments = GENERIC_CASES[kind]
    spec = {kind: {**arguments, "config": {"severity": severity}}}
    import yaml

    models_yml = {"models": [{"name": "items", "columns": [{"name": column, "data_tests": [spec]}]}]}
    return write_project(
        root,
        {
            "models.yml": yaml.safe_dump(models_yml),
            "models/marts/parents.sql": "-- materialized: table\nselect 1 as id\n",
            # var('bad'): rows that fail every test, or rows that pass them all.
            "models/marts/items.sql": (
                "-- materialized: table\n"
                "{% if var('bad', false) %}\n"
                "select * from (values (1, 'a', 'new', 1), (1, null, 'bogus', 99)) as t(id, label, status, parent_id)\n"
                "{% else %}\n"
                "select * from (values (1, 'a', 'new', 1), (2, 'b', 'old', null)) as t(id, label, status, parent_id)\n"
                "{% endif %}\n"
            ),
            "models/marts/after_items.sql": "-- materialized: table\nselect count(*) as n from {{ ref('items') }}\n",
        },
    )


@pytest.mark.parametrize("severity", ["warn", "error"])
@pytest.mark.parametrize("kind", list(GENERIC_CASES))
def test_each_dbt_generic_test_fails_with_its_severity(tmp_path: Path, warehouse: WarehouseResource, kind, severity):
    project_dir = generic_test_project(tmp_path, kind, severity)
    result = run(sql_model_definitions(project_dir, vars={"bad": True}), warehouse)

    check_name = f"{kind}_{GENERIC_CASES[kind][0]}"
    check = check_results(result)[("marts/items", check_name)]
    assert not check.passed and check.metadata["failing_rows"].value == 1
    if severity == "warn":  # a warning: the run goes on and builds what reads the model
        assert check.severity == dg.AssetCheckSeverity.WARN
        assert result.success and "marts/after_items" in materializations(result)
    else:  # an error stops the model's downstream, like dbt build
        assert check.severity == dg.AssetCheckSeverity.ERROR
        assert not result.success and "marts/after_items" not in materializations(result)
        assert "marts/items" in materializations(result)


@pytest.mark.parametrize("kind", list(GENERIC_CASES))
def test_each_dbt_generic_test_passes_on_good_rows(tmp_path: Path, warehouse: WarehouseResource, kind):
    result = run(sql_model_definitions(generic_test_project(tmp_path, kind, "error")), warehouse)
    assert result.success
    assert all(evaluation.passed for evaluation in check_results(result).values())
    assert ("marts/items", f"{kind}_{GENERIC_CASES[kind][0]}") in check_results(result)


def test_singular_tests_in_tests_folder_with_config(tmp_path: Path, warehouse: WarehouseResource):
    write_project(
        tmp_path,
        {
            "models/marts/scores.sql": (
                "-- materialized: table\nselect * from (values (1, 0.5), (2, 1.5)) as t(id, score)\n"
            ),
            "tests/scores_at_most_one.sql": (
                "{{ config(severity='warn') }}\nselect * from {{ ref('scores') }} where score > 1\n"
            ),
            "tests/ids_positive.sql": "-- Ids are positive.\nselect * from {{ ref('scores') }} where id <= 0\n",
            "tests/schema.yml": "data_tests:\n  - name: ids_positive\n    description: Every id is positive.\n",
        },
    )
    result = run(sql_model_definitions(tmp_path), warehouse)
    checks = check_results(result)
    warned = checks[("marts/scores", "scores_at_most_one")]
    assert not warned.passed and warned.severity == dg.AssetCheckSeverity.WARN
    assert warned.metadata["failing_rows"].value == 1
    assert checks[("marts/scores", "ids_positive")].passed
    spec = next(s for a in sql_model_definitions(tmp_path).assets for s in a.check_specs if s.name == "ids_positive")
    assert spec.description == "Every id is positive."


def test_incremental_model_over_two_days_keeps_one_row_per_key(tmp_path: Path, warehouse: WarehouseResource):
    write_project(
        tmp_path,
        {
            "models.yml": "sources:\n  - name: warehouse\n    tables:\n"
            "      - name: events\n        meta: {dagster: {partitioned: true}}\n",
            "models/marts/latest_events.sql": (
                "{{ config(materialized='incremental', unique_key='event_id') }}\n"
                "select event_id, value, loaded_on\n"
                "from {{ source('warehouse', 'events') }}\n"
                "{% if is_incremental() %}\n"
                "where loaded_on > (select max(loaded_on) from {{ this }})\n"
                "{% endif %}\n"
                "qualify row_number() over (partition by event_id order by loaded_on desc) = 1\n"
            ),
        },
    )
    with warehouse.connect() as connection:
        connection.execute("CREATE TABLE events (event_id VARCHAR, value INTEGER, loaded_on DATE)")
    defs = sql_model_definitions(tmp_path)
    model = [dg.AssetKey(["marts", "latest_events"])]

    def load(rows: list[tuple]) -> None:
        insert_rows(warehouse, "events", [dict(zip(("event_id", "value", "loaded_on"), r, strict=True)) for r in rows])

    def refresh(**kwargs) -> dict:
        result = run(defs, warehouse, selection=model, **kwargs)
        assert result.success
        metadata = materializations(result)["marts/latest_events"].metadata
        return {name: metadata[name].value for name in ("dagster/row_count", "rows_added", "is_incremental")}

    load([("e1", 1, dt.date(2026, 1, 5)), ("e2", 1, dt.date(2026, 1, 5))])
    assert refresh() == {"dagster/row_count": 2, "rows_added": 2, "is_incremental": False}
    load([("e2", 2, dt.date(2026, 1, 6)), ("e3", 1, dt.date(2026, 1, 6))])  # day 2 corrects e2
    assert refresh() == {"dagster/row_count": 3, "rows_added": 2, "is_incremental": True}
    assert refresh() == {"dagster/row_count": 3, "rows_added": 0, "is_incremental": True}  # nothing new
    rows = warehouse.query("SELECT event_id, value FROM marts.latest_events ORDER BY event_id").rows()
    assert rows == [("e1", 1), ("e2", 2), ("e3", 1)]
    assert refresh(tags={FULL_REFRESH_TAG: "true"}) == {
        "dagster/row_count": 3,
        "rows_added": 3,
        "is_incremental": False,
    }


def test_var_default_and_override_in_a_run(tmp_path: Path, warehouse: WarehouseResource):
    write_project(
        tmp_path,
        {"models/marts/cutoff.sql": "-- materialized: table\nselect {{ var('cutoff', 5) }} as cutoff\n"},
    )
    assert run(sql_model_definitions(tmp_path), warehouse).success
    assert warehouse.query("SELECT cutoff FROM marts.cutoff").item() == 5
    assert run(sql_model_definitions(tmp_path, vars={"cutoff": 9}), warehouse).success
    assert warehouse.query("SELECT cutoff FROM marts.cutoff").item() == 9


def test_model_failing_in_duckdb_fails_its_step_naming_its_file_but_others_still_run(
    tmp_path: Path, warehouse: WarehouseResource
):
    write_project(
        tmp_path,
        {
            "models/marts/leaky.sql": "-- materialized: partition\nselect {{ partition_date }} + 1 as partition_date\n",
            "models/marts/after_leaky.sql": "-- materialized: partition\nselect * from {{ ref('leaky') }}\n",
            "models/marts/fine.sql": "-- materialized: partition\nselect {{ partition_date }} as partition_date\n",
            "models/marts/no_column.sql": "-- materialized: table\nselect 1 as a,\n  nope as b\n",
            "models.yml": "models:\n  - name: leaky\n    columns:\n      - name: partition_date\n"
            "        data_tests: [not_null]\n",
        },
    )
    defs = sql_model_definitions(tmp_path)
    result = run(defs, warehouse, DAY_1, DAILY)

    assert not result.success
    failures = step_failures(result)
    assert "leaky.sql: 1 row(s) have a partition_date other than 2026-01-05" in failures["sql__marts__leaky"]
    assert set(materializations(result)) == {"marts/fine"}  # after_leaky was skipped
    assert check_results(result) == {}  # the broken model's test did not run on missing data

    table = run(defs, warehouse, selection=[dg.AssetKey(["marts", "no_column"])])
    message = step_failures(table)["sql__marts__no_column"]
    assert message.startswith(f"{tmp_path.name}/models/marts/no_column.sql:3: Binder Error")  # DuckDB's LINE, mapped


def test_edited_models_keep_earlier_days_and_may_change_materialization(tmp_path: Path, warehouse: WarehouseResource):
    marts = tmp_path / "models" / "marts"
    marts.mkdir(parents=True)
    daily, lookup = marts / "daily.sql", marts / "lookup.sql"
    daily.write_text("-- materialized: partition\nselect {{ partition_date }} as partition_date, 1 as a\n")
    lookup.write_text("select 1 as id\n")  # a view
    assert run(sql_model_definitions(tmp_path), warehouse, DAY_1, DAILY).success
    assert run(sql_model_definitions(tmp_path), warehouse, selection=[dg.AssetKey(["marts", "lookup"])]).success

    daily.write_text("-- materialized: partition\nselect {{ partition_date }} as partition_date, 2 as a, 'x' as b\n")
    lookup.write_text("-- materialized: table\nselect 2 as id\n")
    assert run(sql_model_definitions(tmp_path), warehouse, DAY_2, DAILY).success
    assert run(sql_model_definitions(tmp_path), warehouse, selection=[dg.AssetKey(["marts", "lookup"])]).success

    rows = warehouse.query("SELECT partition_date::VARCHAR, a, b FROM marts.daily ORDER BY 1").rows()
    assert rows == [(DAY_1, 1, None), (DAY_2, 2, "x")]
    kind = warehouse.query(
        "SELECT table_type FROM information_schema.tables WHERE table_schema = 'marts' AND table_name = 'lookup'"
    ).item()
    assert kind == "BASE TABLE"


# ---------------------------------------------------------------- a broken model is contained

BROKEN = PROJECTS / "broken"
BROKEN_ERRORS = [
    "models/marts/bad_config.sql:1: materialized must be one of",
    "models/marts/cycle_a.sql:1: dependency cycle (each reads the next): models/marts/cycle_a.sql -> "
    "models/marts/cycle_b.sql -> models/marts/cycle_a.sql",
    "models/marts/cycle_b.sql:2: dependency cycle",
    'models/marts/syntax_error.sql:4:19: SQL syntax error at or near ")"',
    "models/marts/unknown_ref.sql:3: ref('no_such_model'): unknown model",
]


def test_broken_models_load_as_failing_assets_and_the_others_run(warehouse: WarehouseResource):
    defs = sql_model_definitions(BROKEN)  # loads: every mistake is recorded on its model
    specs = {spec.key.to_user_string(): spec for a in defs.assets for spec in a.specs}
    assert "does not compile" in specs["marts/syntax_error"].description
    assert "syntax_error.sql:4:19" in specs["marts/syntax_error"].metadata["sql_error"].value
    assert specs["marts/syntax_error"].partitions_def is not None  # still in the daily job, failing visibly
    assert "Reads model(s) that do not compile: marts.syntax_error" in specs["marts/after_syntax_error"].description
    seed_basic_episodes(warehouse, DAY_1, [("e1", "fa", "A", 60.0, "ok"), ("e2", "fa", "A", 60.0, "ok")])

    day = run(defs, warehouse, DAY_1, DAILY)
    assert not day.success
    assert set(materializations(day)) == {"marts/daily_counts", "staging/stg_episodes"}  # view built on the way
    failures = step_failures(day)
    assert set(failures) == {"sql__marts__syntax_error"}  # after_syntax_error is skipped, not failed
    assert failures["sql__marts__syntax_error"].startswith("broken/models/marts/syntax_error.sql:4:19: SQL syntax")

    after = run(defs, warehouse, selection=unpartitioned_sql_asset_keys(defs))
    assert {"marts/all_time", "staging/stg_episodes", "sql_project"} <= set(materializations(after))
    assert warehouse.query("SELECT n_episodes, n_days FROM marts.all_time").rows() == [(2, 1)]
    failures = step_failures(after)
    assert failures["sql__marts__unknown_ref"].startswith("broken/models/marts/unknown_ref.sql:3: ref('no_such_model')")
    assert failures["sql__marts__bad_config"].startswith("broken/models/marts/bad_config.sql:1: materialized must be")
    assert failures["sql__marts__cycle_a"].startswith("broken/models/marts/cycle_a.sql:1: dependency cycle")
    project_check = check_results(after)[("sql_project", PROJECT_CHECK_NAME)]
    assert not project_check.passed and project_check.metadata["errors"].value == 5
    listed = project_check.metadata["error_list"].value
    assert all(f"broken/{error}" in listed for error in BROKEN_ERRORS)


def test_sql_check_prints_every_error_as_file_line_and_exits_non_zero(
    tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)  # paths are printed relative to the current folder when under it
    shutil.copytree(BROKEN, tmp_path / "broken")
    assert main(["sql", "check", "--project", "broken"]) == 1
    captured = capsys.readouterr()
    lines = [line for line in captured.out.splitlines() if not line.startswith("    ")]
    assert len(lines) == len(BROKEN_ERRORS)
    for line, expected in zip(lines, BROKEN_ERRORS, strict=True):
        assert line.startswith(f"broken/{expected}")
    assert "broken: 9 models, 1 tests, 5 error(s)" in captured.err

    assert main(["sql", "check", "--project", str(PROJECTS / "basic")]) == 0
    assert "3 models, 8 tests, 0 error(s)" in capsys.readouterr().out
    assert main(["sql", "check", "--project", str(REPO / "dbt_like_sql"), "--vars", "[not, a, mapping]"]) == 2


def test_shipped_models_pass_sql_check_as_ci_runs_it():
    completed = subprocess.run(
        [sys.executable, "-m", "podcast_assets.commands.cli", "sql", "check"],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != SQL_DIR_ENV},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "dbt_like_sql: 5 models" in completed.stdout
    assert "$(BIN)/podcast-brief sql check" in (REPO / "Makefile").read_text()  # CI: make test


def test_broken_model_leaves_the_daily_brief_loadable_and_runnable(tmp_path: Path):
    """The whole code location with the broken project: the day runs, briefs are built, the broken model's step
    fails with its file and line, and `podcast-brief run` says so."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("DAGSTER_HOME", "PODCAST_BRIEF_SMTP_HOST")}
    env |= {"PODCAST_BRIEF_HOME": str(home), SQL_DIR_ENV: str(BROKEN)}
    completed = subprocess.run(
        [sys.executable, "-m", "podcast_assets.commands.cli", "run", "--date", "2026-11-20"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 1, output  # the day ran; a SQL model failed
    assert "2026-11-20: run FAILED" in output
    assert "sql__marts__syntax_error failed" in output and "syntax_error.sql:4:19" in output
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        for key in (["briefs"], ["brief_deliveries"], ["marts", "daily_counts"]):
            assert instance.get_latest_materialization_event(dg.AssetKey(key)) is not None, key
        assert instance.get_latest_materialization_event(dg.AssetKey(["marts", "syntax_error"])) is None


def test_sql_run_selects_a_model_and_its_downstream(home: Path, capsys):
    os.environ.pop("DAGSTER_HOME", None)
    try:
        basic = str(PROJECTS / "basic")
        assert main(["sql", "run", "--project", basic, "--select", "stg_episodes+"]) == 2  # needs --date
        assert "give --date" in capsys.readouterr().err
        assert main(["sql", "run", "--project", basic, "--select", "stg_episodes+", "--date", DAY_1]) == 0
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    out = capsys.readouterr().out
    assert f"built marts.episodes_per_feed for {DAY_1}: 0 rows" in out
    assert "built staging.stg_episodes" in out and "built marts.feed_totals: 0 rows" in out
    assert main(["sql", "list", "--project", basic]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[2].split("\t")[:3] == ["marts.episodes_per_feed", "partition", "staging.stg_episodes"]


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
            {"feed_url": "https://quiet.example/rss", "title": "Quiet", "last_error": "feed is not well-formed XML"},
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
        " publisher_transcript_share, audio_hours, asr_speed_x_realtime, feed_last_error"
        " FROM marts.daily_feed_health WHERE partition_date = ? ORDER BY feed_url",
        [dt.date.fromisoformat(DAY_1)],
    )
    assert health.rows() == [
        ("https://a.example/rss", 2, 1, 1, 1, 0, 0.0, 1.5, 10.0, None),
        ("https://b.example/rss", 1, 1, 0, 0, 1, 1.0, 0.5, None, None),
        ("https://quiet.example/rss", 0, 0, 0, 0, 0, None, 0.0, None, "feed is not well-formed XML"),
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


def is_sql_asset(item) -> bool:
    keys = item.keys if isinstance(item, dg.AssetsDefinition) else {item.key}
    return any(len(key.path) == 2 or key == PROJECT_ASSET_KEY for key in keys)


def test_analyst_adds_a_table_over_a_partitioned_mart(
    tmp_path: Path, warehouse: WarehouseResource, monkeypatch: pytest.MonkeyPatch
):
    """The issue's case: a copy of dbt_like_sql/ with one more model, a table counting the rows of the
    partitioned marts.daily_feed_health, while partitioned top_insights_daily reads the staging view."""
    copy = tmp_path / "my_sql"
    shutil.copytree(DEFAULT_SQL_DIR, copy)
    (copy / "models" / "marts" / "feed_health_rows.sql").write_text(
        "-- materialized: table\nselect count(*) as n_rows from {{ ref('daily_feed_health') }}\n"
    )
    monkeypatch.setenv(SQL_DIR_ENV, str(copy))
    sql_defs = sql_model_definitions()

    from podcast_assets.definitions import defs as code_location
    from podcast_assets.orchestration.jobs import daily_brief_job

    python_assets = [item for item in code_location.assets if not is_sql_asset(item)]
    analyst = dg.Definitions(
        assets=[*python_assets, *sql_defs.assets], jobs=[daily_brief_job], resources=code_location.resources
    )
    graph = analyst.resolve_asset_graph()
    new_table = graph.get(dg.AssetKey(["marts", "feed_health_rows"]))
    assert new_table.parent_keys == {dg.AssetKey(["marts", "daily_feed_health"])}
    daily_keys = analyst.resolve_job_def("daily_brief").asset_layer.selected_asset_keys
    assert {dg.AssetKey("briefs"), dg.AssetKey(["marts", "top_insights_daily"])} <= daily_keys
    assert dg.AssetKey(["marts", "feed_health_rows"]) in unpartitioned_sql_asset_keys(sql_defs)

    insert_rows(warehouse, "feeds", [{"feed_url": "https://a.example/rss", "title": "Show A"}])
    seed_product_day(warehouse, DAY_1, {"Chips": 1}, delivered=True)
    assert run(sql_defs, warehouse, DAY_1, DAILY).success
    after_the_day = run(sql_defs, warehouse, selection=unpartitioned_sql_asset_keys(sql_defs))
    assert after_the_day.success
    assert warehouse.query("SELECT n_rows FROM marts.feed_health_rows").item() == 2  # feeds a and b on DAY_1
