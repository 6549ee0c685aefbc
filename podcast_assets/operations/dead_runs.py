"""Runs whose process is gone never block later runs.

A run killed with SIGKILL (an out-of-memory kill, a lost machine) stays STARTED in the instance and keeps the pool
slots its steps claimed, so every later step of that pool waits forever. `clear_dead_runs` finds such runs (their
process is gone, see `run_processes`), marks them failed with a message saying why, and frees their slots; it also
frees slots still held by runs that already ended. `podcast-brief run` calls it before every run, waiting steps
call it for the run that holds their slot (`pool_waits`), and the `dead_run_sweeper` sensor calls it every minute
under the daemon. Dagster's own run monitoring (enabled in every dagster.yaml we ship) covers the run launchers
that can check their workers (Kubernetes) and frees slots of ended runs (`free_slots_after_run_end_seconds`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from podcast_assets.operations.run_processes import RunProcess, process_alive, run_process

# Runs that may own a live process: NOT_STARTED and STARTING (being launched), STARTED, CANCELING.
# QUEUED runs have no process yet and belong to the run queue; they are left alone.
LIVE_STATUSES = [
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
    dg.DagsterRunStatus.CANCELING,
]
FINISHED_STATUSES = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED]


@dataclass(frozen=True)
class ClearedRun:
    run_id: str
    job_name: str
    partition: str | None
    status: str  # what the instance said before it was cleared
    process: RunProcess | None
    reason: str

    def describe(self) -> str:
        day = f" ({self.partition})" if self.partition else ""
        return f"run {self.run_id} of {self.job_name}{day}: {self.reason}"


def _day(run: dg.DagsterRun) -> str | None:
    return run.tags.get("dagster/partition")


def is_dead(instance: dg.DagsterInstance, run: dg.DagsterRun, trust_launcher_pids: bool = False) -> RunProcess | None:
    """The run's process when it is known to be gone, else None (alive, or cannot be told from here)."""
    if run.status not in LIVE_STATUSES:
        return None
    process = run_process(instance, run, trust_launcher_pids)
    if process is None or process_alive(process) is not False:
        return None
    return process


def clear_run(instance: dg.DagsterInstance, run: dg.DagsterRun, process: RunProcess | None, reason: str) -> ClearedRun:
    """Mark `run` failed with `reason` and free every pool slot (and pending claim) it holds."""
    message = (
        f"Marked failed by podcast-brief: {reason}. Its pool slots were freed so later runs can proceed; "
        "re-run the day to finish it (every stage replaces its day, deliveries are never sent twice)."
    )
    cleared = ClearedRun(run.run_id, run.job_name, _day(run), run.status.value, process, reason)
    if run.status in (dg.DagsterRunStatus.CANCELING,):
        instance.report_run_canceled(run, message)
    else:
        instance.report_run_failed(run, message)
    free_run_slots(instance, run.run_id)
    return cleared


def free_run_slots(instance: dg.DagsterInstance, run_id: str) -> None:
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        storage.free_concurrency_slots_for_run(run_id)


def clear_dead_runs(
    instance: dg.DagsterInstance,
    trust_launcher_pids: bool = False,
    log: Callable[[str], None] | None = None,
    only_run_ids: set[str] | None = None,
) -> list[ClearedRun]:
    """Fail the runs whose process is gone and free their slots; free slots still held by ended runs.
    Returns what was cleared (each also logged through `log`)."""
    cleared: list[ClearedRun] = []
    filters = dg.RunsFilter(statuses=LIVE_STATUSES, run_ids=list(only_run_ids) if only_run_ids else None)
    for run in instance.get_runs(filters=filters):
        process = is_dead(instance, run, trust_launcher_pids)
        if process is None:
            continue
        reason = f"its process ({process.describe()}, from {process.source}) is gone; it was {run.status.value}"
        cleared.append(clear_run(instance, run, process, reason))
    storage = instance.event_log_storage
    if storage.supports_global_concurrency_limits:
        holders = storage.get_concurrency_run_ids()
        if only_run_ids is not None:
            holders &= only_run_ids
        if holders:
            ended = instance.get_runs(filters=dg.RunsFilter(run_ids=list(holders), statuses=FINISHED_STATUSES))
            for run in ended:
                storage.free_concurrency_slots_for_run(run.run_id)
                reason = f"it had ended ({run.status.value}) but still held pool slots"
                cleared.append(ClearedRun(run.run_id, run.job_name, _day(run), run.status.value, None, reason))
    for item in cleared:
        if log:
            log(f"cleared {item.describe()}")
    return cleared


def active_runs_of_day(instance: dg.DagsterInstance, job_name: str, day: str) -> list[dg.DagsterRun]:
    """Runs of `job_name` for partition `day` that are queued or running (the CLI waits for them)."""
    return list(
        instance.get_runs(
            filters=dg.RunsFilter(
                job_name=job_name,
                statuses=[*LIVE_STATUSES, dg.DagsterRunStatus.QUEUED],
                tags={"dagster/partition": day},
            )
        )
    )


def run_started_at(instance: dg.DagsterInstance, run_id: str) -> dt.datetime | None:
    record = instance.get_run_record_by_id(run_id)
    if record is None:
        return None
    stamp = record.start_time or record.create_timestamp.timestamp()
    return dt.datetime.fromtimestamp(stamp, dt.UTC)


@dg.sensor(minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING)
def dead_run_sweeper(context: dg.SensorEvaluationContext) -> dg.SkipReason:
    """Every minute under the daemon: runs whose process is gone (killed, out of memory) are marked failed and
    their pool slots freed, so the schedule's next run is never stuck behind them. Judges runs started by
    `podcast-brief run` on this host and, with the default run launcher, the runs this code server launched."""
    cleared = clear_dead_runs(context.instance, trust_launcher_pids=True, log=context.log.warning)
    if cleared:
        return dg.SkipReason("cleared: " + "; ".join(item.describe() for item in cleared))
    return dg.SkipReason("no dead runs")
