"""Run the daily job for a day through the Dagster instance: the same job the schedule launches.

Safe to kill (see README "Operating"): before it starts, runs whose process is gone are marked failed and their
pool slots freed; one `podcast-brief run` per day at a time (a lock file per day, and it waits for the daemon's
runs of that day); SIGINT/SIGTERM cancel the run (marked CANCELED, slots freed) and the command exits non-zero.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid

import dagster as dg

from podcast_assets.daily_runs.summary import day_summary
from podcast_assets.operations.day_lock import day_lock
from podcast_assets.operations.dead_runs import active_runs_of_day, clear_dead_runs, free_run_slots, run_started_at
from podcast_assets.operations.interrupts import (
    RunInterrupted,
    cancel_on_signal,
    last_signal,
    signal_seen,
    signals_stop_the_command,
)
from podcast_assets.operations.run_processes import run_process, this_process_tags
from podcast_assets.orchestration.jobs import DAILY_JOB_NAME
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import ensure_dagster_home

# The terminal gets step progress and warnings; every DEBUG event is still in the run's log in the UI.
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
LAUNCHED_BY_TAG = "podcast_brief/launched_by"
LAUNCHED_BY_CLI = {LAUNCHED_BY_TAG: "cli"}
DAY_WAIT_NOTICE_S = 60.0


def run_day(
    day: dt.date, instance: dg.DagsterInstance | None = None, resource_config: dict[str, dict] | None = None
) -> dg.ExecuteInProcessResult:
    """Materialize every daily asset of `day`. Per-episode failures are rows, not a failed run.
    `resource_config` overrides resource settings for this run, e.g. {"transcriber": {"model": "base"}}.
    The run carries this process's pid and host as tags (how a dead run is recognized later). A SIGINT/SIGTERM
    during the run cancels it: marked CANCELED, pool slots freed, then `RunInterrupted` is raised."""
    from podcast_assets.definitions import defs

    instance = instance or dg.DagsterInstance.get()
    run_id = str(uuid.uuid4())
    try:
        with cancel_on_signal(instance, run_id):
            result = defs.resolve_job_def(DAILY_JOB_NAME).execute_in_process(
                partition_key=day.isoformat(),
                instance=instance,
                raise_on_error=False,
                run_id=run_id,
                tags={**LAUNCHED_BY_CLI, **this_process_tags()},
                run_config={
                    **CONSOLE_INFO,
                    "resources": {name: {"config": config} for name, config in (resource_config or {}).items()},
                },
            )
    except KeyboardInterrupt:  # a signal outside Dagster's own handling (setting up, tearing down)
        _finish_canceled(instance, run_id)
        raise RunInterrupted(last_signal(), run_id if instance.has_run(run_id) else None) from None
    if signal_seen():
        succeeded = _finish_canceled(instance, run_id)
        raise RunInterrupted(last_signal(), run_id, run_had_finished=succeeded)
    return result


def _finish_canceled(instance: dg.DagsterInstance, run_id: str) -> bool:
    """After an interrupt: an unfinished or interrupted run ends CANCELED and holds no pool slot. True when the
    run had already succeeded (the signal came after its last step), which stays SUCCESS."""
    run = instance.get_run_by_id(run_id)
    if run is not None and run.status not in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.CANCELED):
        instance.report_run_canceled(run, "podcast-brief run was interrupted (SIGINT/SIGTERM): run canceled")
    free_run_slots(instance, run_id)
    return run is not None and run.status == dg.DagsterRunStatus.SUCCESS


def refresh_unpartitioned_sql(instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult | None:
    """Views and tables of dbt_like_sql/ that span all days: rebuilt after the day's run."""
    from podcast_assets.assets.sql_models import unpartitioned_sql_asset_keys
    from podcast_assets.definitions import defs

    keys = unpartitioned_sql_asset_keys(defs)
    if not keys:
        return None
    job = dg.define_asset_job("sql_refresh", selection=dg.AssetSelection.assets(*keys))
    resolved = dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def("sql_refresh")
    return resolved.execute_in_process(
        instance=instance, raise_on_error=False, run_config=CONSOLE_INFO, tags=this_process_tags()
    )


def wait_for_day(instance: dg.DagsterInstance, day: dt.date, wait: bool = True) -> None:
    """Wait while a run of the daily job for `day` launched elsewhere (the schedule, the UI) is queued or running.
    Dead ones are cleared on the way (`clear_dead_runs`)."""
    from podcast_assets.operations.day_lock import DayLocked

    noticed = 0.0
    while True:
        clear_dead_runs(instance, log=print)
        active = active_runs_of_day(instance, DAILY_JOB_NAME, day.isoformat())
        if not active:
            return
        names = "; ".join(_describe_run(instance, run) for run in active)
        if not wait:
            raise DayLocked(f"{day.isoformat()} already has a run in progress: {names}")
        if time.monotonic() - noticed >= DAY_WAIT_NOTICE_S:
            print(
                f"waiting: {day.isoformat()} already has a run in progress: {names}. If its process is gone "
                "(e.g. a run from before pid tags, or on a lost machine): podcast-brief runs fail RUN_ID"
            )
            noticed = time.monotonic()
        time.sleep(2.0)


def _describe_run(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str:
    started = run_started_at(instance, run.run_id)
    since = f" since {started:%Y-%m-%d %H:%M:%S} UTC" if started else ""
    process = run_process(instance, run)
    who = f", {process.describe()}" if process else f", launched by {run.tags.get(LAUNCHED_BY_TAG, 'the daemon/UI')}"
    return f"{run.run_id} ({run.status.value}{since}{who})"


def run_days(first: dt.date, last: dt.date, wait: bool = True) -> bool:
    """Run each day in order and print its summary; True when every run succeeded. Raises `RunInterrupted` on
    SIGINT/SIGTERM and `DayLocked` when `wait` is False and a day is already being run."""
    if last < first:
        raise ValueError("--to is before --from")
    ensure_dagster_home()
    ok = True
    with signals_stop_the_command(), dg.DagsterInstance.get() as instance:
        for cleared in clear_dead_runs(instance):
            print(f"cleared a dead run before starting: {cleared.describe()}")
        day = first
        while day <= last:
            with day_lock(day, wait=wait):
                wait_for_day(instance, day, wait)
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
