"""`podcast-brief sql check|list|run`: the SQL models (dbt_like_sql/) for analysts and CI, like `dbt parse`,
`dbt ls` and `dbt run --select`. `check` and `list` touch no warehouse: CI runs `check` on the shipped models.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import Any

from podcast_assets.core.sql_models import SqlModelError, SqlProject, parse_vars, select_models


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected YYYY-MM-DD, got {value!r}") from error


def add_sql_commands(commands: argparse._SubParsersAction) -> None:
    """The `sql` command group of `podcast-brief`."""
    sql = commands.add_parser("sql", help="SQL models (dbt_like_sql/): check, list, run").add_subparsers(
        dest="action", required=True
    )
    check = sql.add_parser(
        "check", help="load every model, test and yml file (like dbt parse); print each error as file:line: message"
    )
    listing = sql.add_parser("list", help="models with their materialization, upstream models and status")
    run = sql.add_parser("run", help="materialize selected models (and their tests) through Dagster")
    run.add_argument(
        "--select", required=True, help="dbt selectors: MODEL, MODEL+ (and downstream), +MODEL (and upstream), tag:T"
    )
    run.add_argument("--date", type=_date, help="the day to run partitioned models for (YYYY-MM-DD)")
    run.add_argument("--full-refresh", action="store_true", help="rebuild incremental models from scratch")
    for command in (check, listing, run):
        command.add_argument(
            "--project", help="the SQL project folder (default: $PODCAST_BRIEF_SQL_DIR, dbt_like_sql/)"
        )
        command.add_argument("--vars", help="YAML mapping overriding the project's vars, e.g. '{top_n: 10}'")


def run_sql_command(args: argparse.Namespace) -> int:
    from podcast_assets.assets.sql_models import load_sql_project

    try:
        vars = parse_vars(args.vars, "--vars") if args.vars else None
    except SqlModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    project = load_sql_project(args.project, vars)
    if args.action == "check":
        return check(project)
    if args.action == "list":
        return list_models(project)
    return run_selected(project, args.select, args.date, args.full_refresh)


def check(project: SqlProject) -> int:
    """Every error as `file:line: message` (the file relative to the current folder), then a summary.
    Exit 1 when there is any error, 0 when the project is clean."""
    errors = project.errors()
    base = Path.cwd()
    for error in errors:
        print(error.format(base))
    n_tests = len(project.tests())
    where = os.path.relpath(project.root, base) if project.root.is_relative_to(base) else str(project.root)
    summary = f"{where}: {len(project.models)} models, {n_tests} tests, {len(errors)} error(s)"
    print(summary, file=sys.stderr if errors else sys.stdout)
    return 1 if errors else 0


def list_models(project: SqlProject) -> int:
    """Tab-separated: model, materialized, upstream models and sources, tags, status."""
    print("\t".join(("model", "materialized", "upstream", "tags", "status")))
    for model in project.models.values():
        upstream = sorted(f"{s}.{n}" for s, n in model.model_deps)
        upstream += sorted(f"source:{s.source_name}.{s.table_name}" for s in model.source_deps)
        status = "error: " + model.error.format(Path.cwd()).splitlines()[0] if model.error else "ok"
        print("\t".join((model.label, model.materialized, ",".join(upstream), ",".join(model.tags), status)))
    return 1 if project.errors() else 0


def run_selected(project: SqlProject, selector: str, day: dt.date | None, full_refresh: bool = False) -> int:
    """Materialize the selected models through the Dagster instance, partitioned ones for `day`, then the
    unpartitioned ones; print what was built, what failed and which tests failed. Exit 1 on any failure."""
    try:
        keys = select_models(project, selector)
    except SqlModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    daily = [key for key in keys if project.models[key].partitioned]
    if daily and day is None:
        names = ", ".join(project.models[key].label for key in daily)
        print(f"error: partitioned model(s) selected ({names}): give --date YYYY-MM-DD", file=sys.stderr)
        return 2
    others = [key for key in keys if not project.models[key].partitioned]
    ok = True
    for group, partition in ((daily, day.isoformat() if day else None), (others, None)):
        if group:
            ok = _run_group(project, group, partition, full_refresh) and ok
    return 0 if ok else 1


def _run_group(project: SqlProject, keys: list[tuple[str, str]], partition: str | None, full_refresh: bool) -> bool:
    import dagster as dg

    from podcast_assets.assets.sql_models import FULL_REFRESH_TAG, asset_key, sql_assets
    from podcast_assets.orchestration.deployment import deployment_name, resources_for
    from podcast_assets.settings import ensure_dagster_home

    ensure_dagster_home()
    selected = [asset_key(key) for key in keys]
    job = dg.define_asset_job("sql_run", selection=dg.AssetSelection.assets(*selected))
    defs = dg.Definitions(assets=sql_assets(project), jobs=[job], resources=resources_for(deployment_name()))
    tags: dict[str, Any] = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def("sql_run").execute_in_process(
            instance=instance,
            partition_key=partition,
            raise_on_error=False,
            tags=tags,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
    built = {e.asset_key: e.materialization for e in result.get_asset_materialization_events()}
    day = f" for {partition}" if partition else ""
    for key in selected:
        if key in built:
            rows = built[key].metadata.get("dagster/row_count")
            print(f"built {'.'.join(key.path)}{day}" + (f": {rows.value} rows" if rows is not None else ""))
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            message = (data.user_failure_data.description if data.user_failure_data else None) or data.error.message
            print(f"failed {event.step_key}: {message.strip()}", file=sys.stderr)
        elif event.is_step_skipped:
            print(f"skipped {event.step_key} (an upstream model failed)", file=sys.stderr)
    for evaluation in result.get_asset_check_evaluations():
        if not evaluation.passed:
            level = evaluation.severity.value.lower()
            rows = evaluation.metadata.get("failing_rows")
            detail = f"{rows.value} failing row(s)" if rows is not None else ""
            print(f"test {evaluation.check_name} of {evaluation.asset_key.to_user_string()} failed ({level}) {detail}")
    return result.success
