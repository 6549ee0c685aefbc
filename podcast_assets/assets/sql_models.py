"""SQL models (`dbt_like_sql/`) as Dagster assets: one asset per model (dagster-dbt's shape), its tests as
asset checks, and one `sql_project` asset whose check lists every error in the project.

The logic (parsing, rendering, DDL, tests) is in `podcast_assets.core.sql_models`; this module turns a loaded
project into assets. Loading never fails: a model that does not compile becomes an asset whose materialization
fails with the error's file and line, so the Python assets, the schedule and every other model still load.
"""

import datetime as dt
import hashlib
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
    parse_vars,
    run_test,
)
from podcast_assets.core.sql_models.graph import upstream_of
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.warehouse import WarehouseResource

SQL_DIR_ENV = "PODCAST_BRIEF_SQL_DIR"
SQL_VARS_ENV = "PODCAST_BRIEF_SQL_VARS"
DEFAULT_SQL_DIR = Path(__file__).resolve().parents[2] / "dbt_like_sql"
# `sql_daily` is one of the groups the daily job selects (orchestration/jobs.py); `sql` runs after the day.
PARTITIONED_GROUP = "sql_daily"
UNPARTITIONED_GROUP = "sql"
PROJECT_ASSET_KEY = dg.AssetKey("sql_project")
PROJECT_CHECK_NAME = "sql_project_parses"
SQL_KINDS = {"duckdb", "sql"}
SQL_POOL = "duckdb_writer"
SAMPLE_ROWS_SHOWN = 5
# Run tag: incremental models rebuild from scratch (dbt's --full-refresh; `podcast-brief sql run --full-refresh`).
FULL_REFRESH_TAG = "podcast_brief/sql_full_refresh"


def resolve_models_dir(models_dir: str | Path | None = None) -> Path:
    """The argument, else $PODCAST_BRIEF_SQL_DIR, else the repository's dbt_like_sql/."""
    chosen = models_dir or os.environ.get(SQL_DIR_ENV) or DEFAULT_SQL_DIR
    return Path(chosen).expanduser().resolve()


def load_sql_project(models_dir: str | Path | None = None, vars: dict[str, Any] | None = None) -> SqlProject:
    """The project, never raising: `vars` (else $PODCAST_BRIEF_SQL_VARS, a YAML mapping) override its vars."""
    root = resolve_models_dir(models_dir)
    problems: list[SqlModelError] = []
    if vars is None and os.environ.get(SQL_VARS_ENV):
        try:
            vars = parse_vars(os.environ[SQL_VARS_ENV], SQL_VARS_ENV)
        except SqlModelError as error:
            problems.append(error)
    try:
        project = load_project(root, vars)
    except Exception as error:  # a bug in the loader must not take the code location down either
        project = SqlProject(root=root, models={}, sources={})
        problems.append(SqlModelError(f"the SQL project could not be loaded: {type(error).__name__}: {error}", root))
    project.problems = problems + project.problems
    return project


def sql_model_definitions(models_dir: str | Path | None = None, vars: dict[str, Any] | None = None) -> dg.Definitions:
    """One asset per model and the `sql_project` asset (no resources: they need `warehouse`). Never raises
    for a mistake in the project."""
    return dg.Definitions(assets=sql_assets(load_sql_project(models_dir, vars)))


def sql_assets(project: SqlProject) -> list[dg.AssetsDefinition]:
    """Every model's asset, the checks that read other models (their own steps), and `sql_project`."""
    assets = [_model_asset(project, model) for model in project.models.values()]
    checks = [
        _separate_check(project, model, test)
        for model in project.models.values()
        if not model.broken
        for test in model.tests
        if _reads_other_models(project, test)
    ]
    return [*assets, *checks, _project_asset(project)]


def unpartitioned_sql_asset_keys(defs: dg.Definitions) -> list[dg.AssetKey]:
    """Keys of the unpartitioned SQL assets in `defs` (refreshed after the day's partitioned job)."""
    keys: list[dg.AssetKey] = []
    for assets_def in defs.assets or []:
        if isinstance(assets_def, dg.AssetsDefinition):
            keys += [spec.key for spec in assets_def.specs if spec.group_name == UNPARTITIONED_GROUP]
    return sorted(keys, key=lambda key: key.to_user_string())


def asset_key(key: tuple[str, str]) -> dg.AssetKey:
    return dg.AssetKey(list(key))


def op_name(model: SqlModel) -> str:
    return f"sql__{model.schema}__{model.name}"


# ---------------------------------------------------------------- one asset per model


def _model_asset(project: SqlProject, model: SqlModel) -> dg.AssetsDefinition:
    partitions_def = daily_partitions if model.partitioned else None
    spec = _asset_spec(project, model, partitions_def)
    if model.error is not None:
        return _broken_model_asset(project, model, spec)
    tests = [test for test in model.tests if not _reads_other_models(project, test)]
    check_specs = [_check_spec(project, test) for test in tests]

    @dg.multi_asset(
        name=op_name(model),
        specs=[spec],
        check_specs=check_specs,
        can_subset=True,  # tests can run without rebuilding the model ("Execute checks" in the UI)
        partitions_def=partitions_def,
        pool=SQL_POOL,
    )
    def _build_model(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> Iterator:
        window = _window(context) if model.partitioned else None
        key = asset_key(model.key)
        with warehouse.connect() as connection:
            if key in context.selected_asset_keys:
                try:
                    full_refresh = context.run.tags.get(FULL_REFRESH_TAG) == "true"
                    run = materialize_model(connection, project, model.key, window, full_refresh)
                except SqlModelError as error:
                    raise _failure(project, error) from None
                _log_run(context, project, model, run)
                yield dg.MaterializeResult(asset_key=key, metadata=_materialization_metadata(project, run))
            for test in tests:
                if dg.AssetCheckKey(key, test.name) in context.selected_asset_check_keys:
                    yield _check_result(key, run_test(connection, project, test, window), window)

    return _build_model


def _reads_other_models(project: SqlProject, test: DataTest) -> bool:
    """A test that reads other models (a relationships parent, a second ref) runs as its own step after them:
    a check inside the model's step could run before they are built."""
    return bool(_other_models(project, test))


def _other_models(project: SqlProject, test: DataTest) -> set[tuple[str, str]]:
    # Never a model downstream of the tested one: it would wait on the check (a blocking one) and the check on it.
    return set(test.model_deps) - downstream_of(project, [test.model]) - {test.model}


def _separate_check(project: SqlProject, model: SqlModel, test: DataTest) -> dg.AssetChecksDefinition:
    spec = _check_spec(project, test)

    @dg.asset_check(
        asset=asset_key(model.key),
        name=test.name,
        description=test.description,
        blocking=test.blocking,
        additional_deps=[dep.asset_key for dep in spec.additional_deps],
        metadata=dict(spec.metadata),
        pool=SQL_POOL,
    )
    def _test(context: dg.AssetCheckExecutionContext, warehouse: WarehouseResource) -> dg.AssetCheckResult:
        window = _window(context) if model.partitioned else None
        with warehouse.connect() as connection:
            return _check_result(asset_key(model.key), run_test(connection, project, test, window), window)

    return _test


def _broken_model_asset(project: SqlProject, model: SqlModel, spec: dg.AssetSpec) -> dg.AssetsDefinition:
    """A model that does not compile: in the graph where it belongs, failing with its error when run."""
    assert model.error is not None
    error = model.error

    @dg.multi_asset(
        name=op_name(model),
        specs=[spec],
        partitions_def=spec.partitions_def,
        pool=SQL_POOL,
    )
    def _broken_model(context: dg.AssetExecutionContext) -> Iterator:
        raise _failure(project, error)
        yield  # a generator, like the working models' steps

    return _broken_model


def _failure(project: SqlProject, error: SqlModelError) -> dg.Failure:
    metadata: dict[str, Any] = {}
    if error.path is not None:
        metadata["file"] = project.relative(error.path)
    if error.line is not None:
        metadata["line"] = error.line
    return dg.Failure(description=project.format_error(error), metadata=metadata, allow_retries=False)


def _code_reference(path: Path) -> dg.CodeReferencesMetadataValue:
    """ "Open in editor" from the UI; the API is marked beta in Dagster 1.13, which is pinned."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.CodeReferencesMetadataValue(
            code_references=[dg.LocalFileCodeReference(file_path=str(path), line_number=1)]
        )


def _asset_spec(project: SqlProject, model: SqlModel, partitions_def: dg.PartitionsDefinition | None) -> dg.AssetSpec:
    path = project.relative(model.path)
    description = model.description or f"SQL model `{path}`."
    description += f"\n\nMaterialized as `{model.materialized}` from `{path}`."
    metadata: dict[str, Any] = {
        "dagster/table_name": f"{model.schema}.{model.name}",
        "materialized": model.materialized,
        "path": path,
        "dagster/code_references": _code_reference(model.path),
    }
    if model.unique_key:
        metadata["unique_key"] = ", ".join(model.unique_key)
    if model.error is not None:
        shown = project.format_error(model.error)
        description = f"**This model does not compile:** `{shown}`\n\n{description}"
        metadata["sql_error"] = dg.MetadataValue.md(f"```\n{shown}\n```")
    broken_upstream = sorted(
        project.models[k].label for k in upstream_of(project, [model.key]) if project.models[k].broken
    )
    if broken_upstream:
        description += f"\n\nReads model(s) that do not compile: {', '.join(broken_upstream)}."
    return dg.AssetSpec(
        key=asset_key(model.key),
        deps=_deps(project, model),
        description=description,
        group_name=PARTITIONED_GROUP if partitions_def else UNPARTITIONED_GROUP,
        kinds=SQL_KINDS,
        tags=dict.fromkeys(model.tags, ""),
        partitions_def=partitions_def,
        # Only the tests may be selected (no materialization then).
        skippable=True,
        # Editing the SQL marks the asset's materializations as out of date in the UI.
        code_version=hashlib.sha256(model.template.encode()).hexdigest()[:16],
        metadata=metadata,
    )


def _deps(project: SqlProject, model: SqlModel) -> list[dg.AssetDep]:
    upstream = [(asset_key(key), project.models[key].partitioned) for key in sorted(model.model_deps)]
    sources = {dg.AssetKey(list(source.asset_key)): source.partitioned for source in model.source_deps}
    upstream += sorted(sources.items(), key=lambda item: item[0].to_user_string())
    return [dg.AssetDep(key, partition_mapping=_mapping(model, partitioned)) for key, partitioned in upstream]


def _mapping(model: SqlModel, upstream_partitioned: bool) -> dg.PartitionMapping | None:
    """An unpartitioned model over a partitioned input reads all its days; a partitioned model that looks
    back N days reads N earlier partitions; a partitioned model over an unpartitioned input reads its
    current table (no mapping needed)."""
    if not upstream_partitioned:
        return None
    if not model.partitioned:
        return dg.AllPartitionMapping()
    if not model.lookback_days:
        return None
    with warnings.catch_warnings():
        # Beta parameter; without it the first days' windows reach before the partitions' start.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.TimeWindowPartitionMapping(
            start_offset=-model.lookback_days, allow_nonexistent_upstream_partitions=True
        )


def _check_spec(project: SqlProject, test: DataTest) -> dg.AssetCheckSpec:
    metadata: dict[str, Any] = {"test": test.kind, "severity": test.severity}
    if test.path:
        metadata["defined_in"] = project.relative(test.path) + (f":{test.line}" if test.line else "")
    if test.error is not None:
        metadata["sql_error"] = project.format_error(test.error)
    return dg.AssetCheckSpec(
        name=test.name,
        asset=asset_key(test.model),
        description=test.description,
        blocking=test.blocking,
        metadata=metadata,
        # Other tables the test reads (a relationships parent, a second model), for lineage; never a model
        # downstream of the tested one, which would make the two steps wait on each other.
        additional_deps=sorted(
            {dg.AssetKey(list(source.asset_key)) for source in test.source_deps}
            | {asset_key(key) for key in _other_models(project, test)},
            key=lambda key: key.to_user_string(),
        ),
    )


# ---------------------------------------------------------------- running a model


def _window(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> PartitionWindow:
    # A partition model replaces exactly one day: a multi-day range (single-run backfill) would be wrong.
    if len(context.partition_keys) != 1:
        raise dg.Failure(description=f"SQL models run one day per run, got {len(context.partition_keys)} days")
    start, end = context.partition_time_window
    return PartitionWindow(
        day=start.astimezone(dt.UTC).date(),
        start=start.astimezone(dt.UTC).replace(tzinfo=None),
        end=end.astimezone(dt.UTC).replace(tzinfo=None),
    )


def _log_run(context: dg.AssetExecutionContext, project: SqlProject, model: SqlModel, run: ModelRun) -> None:
    for created in run.created_upstream:
        upstream = project.models[created]
        context.log.info(f"built missing upstream {upstream.label} ({upstream.materialized}) on the way")
        context.log_event(
            dg.AssetMaterialization(
                asset_key=asset_key(created),
                description=f"built on the way by {model.label}, which reads it",
                metadata={"materialized": upstream.materialized},
            )
        )
    added = f", {run.rows_added} added" if run.rows_added is not None and model.materialized == "incremental" else ""
    context.log.info(f"{model.label}: {run.row_count} rows ({model.materialized}{added})")


def _materialization_metadata(project: SqlProject, run: ModelRun) -> dict[str, Any]:
    columns = describe_columns(project, run.key, run.columns)
    metadata: dict[str, Any] = {
        "dagster/row_count": run.row_count,
        "dagster/column_schema": dg.TableSchema(
            columns=[dg.TableColumn(c["name"], c["type"], description=c["description"] or None) for c in columns]
        ),
        "compiled_sql": dg.MetadataValue.md(f"```sql\n{run.compiled_sql.strip()}\n```"),
    }
    if run.incremental_run is not None:
        metadata["rows_added"] = run.rows_added or 0
        metadata["is_incremental"] = run.incremental_run
    return metadata


def _check_result(key: dg.AssetKey, result: TestRun, window: PartitionWindow | None) -> dg.AssetCheckResult:
    metadata: dict[str, Any] = {
        "failing_rows": result.failing_rows,
        # Checks are not partitioned (that API is in preview): say which day's rows were tested.
        "partition": window.day.isoformat() if window else "all rows",
    }
    if result.sql:
        metadata["sql"] = dg.MetadataValue.md(f"```sql\n{result.sql.strip()}\n```")
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


# ---------------------------------------------------------------- the project as a whole


def _project_asset(project: SqlProject) -> dg.AssetsDefinition:
    """What the code location loaded (like dbt's manifest): its models, and a check that fails with every
    error of the project (`podcast-brief sql check` prints the same list)."""
    errors = [project.format_error(error) for error in project.errors()]
    path = project.relative(project.root) if project.root.parent != project.root else str(project.root)

    @dg.asset(
        key=PROJECT_ASSET_KEY,
        group_name=UNPARTITIONED_GROUP,
        kinds={"sql"},
        description=(
            f"The SQL project `{path}` as the code location loaded it: its models and their materializations. "
            f"Its check `{PROJECT_CHECK_NAME}` fails with every error (file:line: message)."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                PROJECT_CHECK_NAME,
                asset=PROJECT_ASSET_KEY,
                description="Every model, test and yml file of the SQL project loads (like `dbt parse`).",
            )
        ],
        metadata={"path": str(project.root), "errors_at_load": len(errors)},
    )
    def sql_project(context: dg.AssetExecutionContext) -> Iterator:
        rows = [
            {
                "model": model.label,
                "materialized": model.materialized,
                "upstream": ", ".join(sorted(f"{s}.{n}" for s, n in model.model_deps)),
                "status": "error" if model.broken else "ok",
            }
            for model in project.models.values()
        ]
        yield dg.MaterializeResult(
            metadata={
                "models": len(project.models),
                "tests": len(project.tests()),
                "errors": len(errors),
                "model_list": dg.MetadataValue.md(_markdown_rows(rows) if rows else "(no models)"),
            }
        )
        for error in errors:
            context.log.error(error)
        yield dg.AssetCheckResult(
            check_name=PROJECT_CHECK_NAME,
            passed=not errors,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"errors": len(errors), "error_list": dg.MetadataValue.md(_error_list(errors))},
            description=f"{len(errors)} error(s); first: {errors[0]}" if errors else None,
        )

    return sql_project


def _error_list(errors: list[str]) -> str:
    return "```\n" + "\n".join(errors) + "\n```" if errors else "no errors"
