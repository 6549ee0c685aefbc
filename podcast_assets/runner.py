"""Run the daily job for a day through the Dagster instance: the same job the schedule launches."""

from __future__ import annotations

import datetime as dt

import dagster as dg

from podcast_assets.jobs import DAILY_JOB_NAME
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import ensure_dagster_home
from podcast_assets.summary import day_summary

# The terminal gets step progress and warnings; every DEBUG event is still in the run's log in the UI.
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def run_day(
    day: dt.date, instance: dg.DagsterInstance | None = None, resource_config: dict[str, dict] | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize every daily asset of `day`. Per-episode failures are rows, not a failed run.
    `resource_config` overrides resource settings for this run, e.g. {"transcriber": {"model": "base"}}."""
    from podcast_assets.definitions import defs

    instance = instance or dg.DagsterInstance.get()
    result = defs.resolve_job_def(DAILY_JOB_NAME).execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        raise_on_error=False,
        tags={"podcast_brief/launched_by": "cli"},
        run_config={
            **CONSOLE_INFO,
            "resources": {name: {"config": config} for name, config in (resource_config or {}).items()},
        },
    )
    return result


def refresh_unpartitioned_sql(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult | None:
    """Views and tables of dbt_like_sql/ that span all days: rebuilt after the day's run."""
    from podcast_assets.assets.sql_models import unpartitioned_sql_asset_keys
    from podcast_assets.definitions import defs

    keys = unpartitioned_sql_asset_keys(defs)
    if not keys:
        return None
    job = dg.define_asset_job("sql_refresh", selection=dg.AssetSelection.assets(*keys))
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("sql_refresh")
    return resolved.execute_in_process(instance=instance, raise_on_error=False, run_config=CONSOLE_INFO)


def run_days(first: dt.date, last: dt.date) -> bool:
    """Run each day in order and print its summary; True when every run succeeded."""
    if last < first:
        raise ValueError("--to is before --from")
    ensure_dagster_home()
    ok = True
    with dg.DagsterInstance.get() as instance:
        day = first
        while day <= last:
            result = run_day(day, instance)
            print(day_summary(WarehouseResource(), day, result.run_id, result.success))
            if not result.success:
                for event in result.all_events:
                    if event.is_step_failure:
                        print(f"  step {event.step_key} failed: {event.step_failure_data.error.message.strip()}")
                ok = False
            day += dt.timedelta(days=1)
        refreshed = refresh_unpartitioned_sql(instance)
        if refreshed is not None and not refreshed.success:
            print("refreshing the unpartitioned SQL models failed")
            ok = False
    return ok
