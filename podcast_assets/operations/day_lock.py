"""One `podcast-brief run` per day at a time on this home: a lock file per day, holding its owner's pid.

`fcntl.flock` locks end with the process that holds them, so a killed run never leaves a stale lock; the file's
text (pid, host, start time, command) only says who holds it. Runs launched by the daemon are serialized per day
by the run queue (`tag_concurrency_limits` on `dagster/partition` in dagster.yaml); the CLI also waits for those
(`runner.wait_for_day`).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from podcast_assets.core.processes import host_name
from podcast_assets.settings import home_dir

NOTICE_INTERVAL_S = 60.0


class DayLocked(RuntimeError):
    """Another process runs this day and the caller chose not to wait."""


def lock_path(day: dt.date) -> Path:
    folder = home_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"run-{day.isoformat()}.lock"


def holder(day: dt.date) -> str:
    """What the lock file says about its holder (empty when nobody wrote it yet)."""
    try:
        return lock_path(day).read_text().strip()
    except OSError:
        return ""


@contextmanager
def day_lock(
    day: dt.date,
    wait: bool = True,
    timeout_s: float | None = None,
    log: Callable[[str], None] = print,
    purpose: str = "run",
) -> Iterator[None]:
    """Hold the day's lock for the block. Waits (saying who holds it, once a minute) or raises `DayLocked`."""
    path = lock_path(day)
    handle = path.open("a+")
    try:
        started = time.monotonic()
        noticed = 0.0
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                owner = holder(day) or "another process"
                if not wait or (timeout_s is not None and time.monotonic() - started > timeout_s):
                    raise DayLocked(
                        f"{day.isoformat()} is being run by {owner}; wait for it to finish or stop it "
                        f"(lock file {path})"
                    ) from None
                if time.monotonic() - noticed >= NOTICE_INTERVAL_S:
                    log(f"waiting: {day.isoformat()} is being run by {owner}")
                    noticed = time.monotonic()
                time.sleep(1.0)
        handle.seek(0)
        handle.truncate()
        command = " ".join(sys.argv)[:300]
        now = dt.datetime.now(dt.UTC)
        handle.write(f"pid {os.getpid()} on {host_name()} since {now:%Y-%m-%d %H:%M:%S} UTC ({purpose}: {command})\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()
