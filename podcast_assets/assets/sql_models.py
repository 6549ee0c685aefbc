"""SQL models (`dbt_like_sql/`) as Dagster assets: one subsettable multi-asset per partitioning.

The logic (rendering, ordering, DDL, tests) is in `podcast_assets.core.sql_models`; this module turns a
loaded project into asset specs and check specs, and runs the selected models in dependency order.
"""

import datetime as dt
import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import dagster as dg

from podcast_assets.core.sql_models import (
    DataTest,
    ModelRun,
    PartitionWindow,
    SqlModel,
    SqlModelError,
    SqlProject,
    TestRun,
    describe_columns,
    downstream_of,
    load_project,
    materialize_model,
    run_test,
)
from podcast_assets.partitions import daily_partitions
from podcast_assets.resources.warehouse import WarehouseResource

SQL_DIR_ENV = "PODCAST_BRIEF_SQL_DIR"
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
PARTITIONED_OP = "sql_models_daily"
UNPARTITIONED_OP = "sql_models"
# `sql_daily` is one of the groups the daily job selects (podcast_assets/jobs.py).
PARTITIONED_GROUP = "sql_daily"
UNPARTITIONED_GROUP = "sql"
SQL_KINDS = {"duckdb", "sql"}
SAMPLE_ROWS_SHOWN = 5


def resolve_models_dir(models_dir: str | Path | None = None) -> Path:
    """The argument, else $PODCAST_BRIEF_SQL_DIR, else the repository's dbt_like_sql/."""
    chosen = models_dir or os.environ.get(SQL_DIR_ENV) or DEFAULT_SQL_DIR
    return Path(chosen).expanduser().resolve()


def sql_model_definitions(models_dir: str | Path | None = None) -> dg.Definitions:
    """The SQL models' multi-assets (no resources: they need `warehouse`). Raises SqlModelError on a bad project."""
    project = load_project(resolve_models_dir(models_dir))
    assets = [
        _sql_multi_asset(project, partitioned=True),
        _sql_multi_asset(project, partitioned=False),
    ]
    return dg.Definitions(assets=[a for a in assets if a is not None])


def unpartitioned_sql_asset_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    """Keys of the unpartitioned SQL assets in `defs` (run them after the day's partitioned job)."""
    keys: list[dg.AssetKey] = []
    for assets_def in defs.assets or []:
        if isinstance(assets_def, dg.AssetsDefinition) and assets_def.node_def.name == UNPARTITIONED_OP:
            keys.extend(sorted(assets_def.keys, key=lambda key: key.to_user_string()))
    return keys


def asset_key(key: tuple[str, str]) -> dg.AssetKey:
    return dg.AssetKey(list(key))


# ---------------------------------------------------------------- specs


def _sql_multi_asset(project: SqlProject, partitioned: bool) -> dg.AssetsDefinition | None:
    models = project.ordered(partitioned=partitioned)
    if not models:
        return None
    partitions_def = daily_partitions if partitioned else None
    specs = [_asset_spec(project, model, partitions_def) for model in models]
    check_specs = [_check_spec(project, test) for model in models for test in model.tests]
    name = PARTITIONED_OP if partitioned else UNPARTITIONED_OP

    @dg.multi_asset(
        name=name,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        partitions_def=partitions_def,
        pool="duckdb_writer",
        description=(
            f"Runs the {'daily partitioned' if partitioned else 'unpartitioned'} SQL models of "
            f"{project.root.name}/ in dependency order, then their tests."
        ),
    )
    def _run_sql_models(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        window = _window(context) if partitioned else None
        yield from _run_selected(context, warehouse, project, models, window)

    return _run_sql_models


def _asset_spec(project: SqlProject, model: SqlModel, partitions_def: dg.PartitionsDefinition | None) -> dg.AssetSpec:
    path = project.relative(model.path)
    description = model.description or f"SQL model `{path}`."
    return dg.AssetSpec(
        key=asset_key(model.key),
        deps=_deps(project, model),
        description=f"{description}\n\nMaterialized as `{model.materialized}` from `{path}`.",
        group_name=PARTITIONED_GROUP if partitions_def else UNPARTITIONED_GROUP,
        kinds=SQL_KINDS,
        partitions_def=partitions_def,
        # A model whose upstream failed (or failed a blocking test) is skipped, not failed.
        skippable=True,
        # Editing the SQL marks the asset's materializations as out of date in the UI.
        code_version=hashlib.sha256(model.template.encode()).hexdigest()[:16],
        metadata={
            "dagster/table_name": f"{model.schema}.{model.name}",
            "materialized": model.materialized,
            "path": path,
        },
    )


def _deps(project: SqlProject, model: SqlModel) -> list[dg.AssetDep]:
    deps = [
        dg.AssetDep(asset_key(key), partition_mapping=_mapping(model, project.models[key].partitioned))
        for key in sorted(model.model_deps)
    ]
    source_keys = {source.asset_key: source.partitioned for source in model.source_deps}
    deps += [
        dg.AssetDep(dg.AssetKey(list(key)), partition_mapping=_mapping(model, partitioned))
        for key, partitioned in sorted(source_keys.items())
    ]
    return deps


def _mapping(model: SqlModel, upstream_partitioned: bool) -> dg.PartitionMapping | None:
    """A partitioned model that looks back N days reads N earlier partitions of its partitioned inputs."""
    if not (model.partitioned and upstream_partitioned and model.lookback_days):
        return None
    with warnings.catch_warnings():
        # Beta parameter; without it the first days' windows reach before the partitions' start.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=-model.lookback_days, allow_nonexistent_upstream_partitions=True
        )


def _check_spec(project: SqlProject, test: DataTest) -> dg.AssetCheckSpec:
    metadata = {"test": test.kind, "severity": test.severity}
    if test.path:
        metadata["defined_in"] = project.relative(test.path)
    return dg.AssetCheckSpec(
        name=test.name,
        asset=asset_key(test.model),
        description=test.description,
        blocking=test.blocking,
        metadata=metadata,
        # Python tables the test also reads (e.g. a relationships parent), for lineage. Only those:
        # a dep on a SQL model of the other multi-asset could make the two steps wait on each other.
        additional_deps=sorted({dg.AssetKey(list(source.asset_key)) for source in test.source_deps}, key=str),
    )


# ---------------------------------------------------------------- execution


def _window(context: dg.AssetExecutionContext) -> PartitionWindow:
    # A partition model replaces exactly one day: a multi-day range (single-run backfill) would be wrong.
    if len(context.partition_keys) != 1:
        raise dg.Failure(description=f"SQL models run one day per run, got {len(context.partition_keys)} days")
    start, end = context.partition_time_window
    return PartitionWindow(
        day=start.astimezone(dt.UTC).date(),
        start=start.astimezone(dt.UTC).replace(tzinfo=None),
        end=end.astimezone(dt.UTC).replace(tzinfo=None),
    )


def _run_selected(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    project: SqlProject,
    models: list[SqlModel],
    window: PartitionWindow | None,
) -> Iterator:
    """Models in dependency order, each followed by its tests. A failing model does not stop the
    models that do not read it; the step fails at the end, naming every failed file."""
    selected_checks = context.selected_asset_check_keys
    skipped: dict[tuple[str, str], str] = {}  # model -> why it is skipped
    errors: list[str] = []
    with warehouse.connect() as connection:
        for model in models:
            key = asset_key(model.key)
            tests = [t for t in model.tests if dg.AssetCheckKey(key, t.name) in selected_checks]
            if key not in context.selected_asset_keys and not tests:
                continue
            if model.key in skipped:
                context.log.warning(f"{key.to_user_string()}: skipped, {skipped[model.key]}")
                continue
            if key in context.selected_asset_keys:
                try:
                    run = materialize_model(connection, project, model.key, window)
                except SqlModelError as error:
                    context.log.error(str(error))
                    errors.append(str(error))
                    skipped |= dict.fromkeys(downstream_of(project, [model.key]), f"{key.to_user_string()} failed")
                    continue
                _log_run(context, model, run)
                yield dg.MaterializeResult(asset_key=key, metadata=_materialization_metadata(project, run))
            for test in tests:
                result = run_test(connection, project, test, window)
                yield _check_result(key, result, window)
                if not result.passed and test.blocking:
                    reason = f"blocking test {test.name} of {key.to_user_string()} failed"
                    skipped |= dict.fromkeys(downstream_of(project, [model.key]), reason)
    if errors:
        raise dg.Failure(description=f"{len(errors)} SQL model(s) failed:\n" + "\n".join(errors))


def _log_run(context: dg.AssetExecutionContext, model: SqlModel, run: ModelRun) -> None:
    for created in run.created_views:
        context.log.info(f"created missing upstream view {'.'.join(created)} (a view holds no data)")
    context.log.info(f"{model.schema}.{model.name}: {run.row_count} rows ({model.materialized})")


def _materialization_metadata(project: SqlProject, run: ModelRun) -> dict:
    columns = describe_columns(project, run.key, run.columns)
    return {
        "dagster/row_count": run.row_count,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c["name"], c["type"], description=c["description"] or None) for c in columns]
        ),
        "compiled_sql": dg.MetadataValue.md(f"```sql\n{run.compiled_sql.strip()}\n```"),
    }


def _check_result(key: dg.AssetKey, result: TestRun, window: PartitionWindow | None) -> dg.AssetCheckResult:
    metadata: dict = {
        "failing_rows": result.failing_rows,
        # Checks are not partitioned (that API is in preview): say which day's rows were tested.
        "partition": window.day.isoformat() if window else "all rows",
        "sql": dg.MetadataValue.md(f"```sql\n{result.sql.strip()}\n```"),
    }
    if result.sample:
        metadata["failing_rows_sample"] = dg.MetadataValue.md(_markdown_rows(result.sample))
    if result.error:
        metadata["error"] = result.error
    severity = dg.AssetCheckSeverity.WARN if result.test.severity == "warn" else dg.AssetCheckSeverity.ERROR
    return dg.AssetCheckResult(
        asset_key=key,
        check_name=result.test.name,
        passed=result.passed,
        severity=severity,
        metadata=metadata,
        description=result.error,
    )


def _markdown_rows(rows: list[dict]) -> str:
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows[:SAMPLE_ROWS_SHOWN]:
        cells = [str(row[c]).replace("|", "\\|").replace("\n", " ") for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
