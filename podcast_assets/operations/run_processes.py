"""Which process runs a Dagster run, and whether that process is still alive.

Runs started by `podcast-brief run` carry their process as run tags (pid, host, the process's start time, so a
reused pid is not mistaken for the run). Runs launched by Dagster's default run launcher (the schedule, the UI)
name their process in the "Started process for run (pid: N)" engine event; that pid is on the host of the code
server that launched it, so it is judged only there (`trust_launcher_pids`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import dagster as dg

from podcast_assets.core.processes import host_name, process_start_ticks

RUN_PID_TAG = "podcast_brief/pid"
RUN_HOST_TAG = "podcast_brief/host"
RUN_PROCESS_START_TAG = "podcast_brief/process_start"


def this_process_tags() -> dict[str, str]:
    """Run tags naming the current process: written on every run `podcast-brief run` starts."""
    pid = os.getpid()
    tags = {RUN_PID_TAG: str(pid), RUN_HOST_TAG: host_name()}
    start = process_start_ticks(pid)
    if start:
        tags[RUN_PROCESS_START_TAG] = start
    return tags


@dataclass(frozen=True)
class RunProcess:
    pid: int
    host: str | None  # None: the host of the code server that launched it (default run launcher)
    start_ticks: str | None
    source: str  # "run tags" or "launcher event"

    def describe(self) -> str:
        where = f" on {self.host}" if self.host else ""
        return f"pid {self.pid}{where}"


def process_alive(process: RunProcess) -> bool | None:
    """True/False where it can be told from here; None for a process on another host."""
    if process.host is not None and process.host != host_name():
        return None
    try:
        os.kill(process.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if process.start_ticks is not None:
        current = process_start_ticks(process.pid)
        if current is not None and current != process.start_ticks:
            return False  # the pid was reused by a later process
    return True


def _launcher_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid in the run's first "Started process for run" engine event, if any."""
    records = instance.get_records_for_run(
        run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=20, ascending=True
    ).records
    for record in records:
        event = record.event_log_entry.dagster_event
        data = event.engine_event_data if event else None
        if data is None or not (record.event_log_entry.user_message or "").startswith("Started process for run"):
            continue
        pid = data.metadata.get("pid") if data.metadata else None
        text = getattr(pid, "value", pid)
        if text is not None and str(text).isdigit():
            return int(str(text))
    return None


def run_process(
    instance: dg.DagsterInstance, run: dg.DagsterRun, trust_launcher_pids: bool = False
) -> RunProcess | None:
    """The process that runs `run`, or None where nothing says which."""
    tags = run.tags
    if tags.get(RUN_PID_TAG, "").isdigit():
        return RunProcess(int(tags[RUN_PID_TAG]), tags.get(RUN_HOST_TAG), tags.get(RUN_PROCESS_START_TAG), "run tags")
    if trust_launcher_pids:
        from dagster._core.launcher import DefaultRunLauncher

        if isinstance(instance.run_launcher, DefaultRunLauncher):
            pid = _launcher_pid(instance, run.run_id)
            if pid is not None:
                return RunProcess(pid, None, None, "launcher event")
    return None
