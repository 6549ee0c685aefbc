"""Where state lives. Read at call time (never at import), so tests and ops switch by environment."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV, UrlPolicy

HOME_ENV = "PODCAST_BRIEF_HOME"
DEFAULT_HOME = "./.podcast_brief"


def home_dir() -> Path:
    """The one folder for all state: warehouse, audio, rendered briefs, outbox, Dagster instance."""
    home = _resolved(os.environ.get(HOME_ENV) or DEFAULT_HOME, os.getcwd())
    home.mkdir(parents=True, exist_ok=True)
    return home


@functools.lru_cache(maxsize=16)
def _resolved(path: str, cwd: str) -> Path:
    """Resolved once per setting (and working folder, for the relative default): home_dir() is called for every
    link signed, ~7 per brief a day."""
    return Path(path).expanduser().resolve()


def _set_environment(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextmanager
def environment(values: dict[str, str | None]) -> Iterator[None]:
    """Set (or, with None, unset) environment variables for the block, then put them back as they were."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        _set_environment(values)
        yield
    finally:
        _set_environment(saved)


def url_policy(allow_private_hosts: str | None = None) -> UrlPolicy:
    """The fetch policy: public http(s) only, plus the hosts in `allow_private_hosts` (falling back to
    PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS, read now). Default: every private and local address is refused."""
    if allow_private_hosts is None:
        allow_private_hosts = os.environ.get(ALLOW_PRIVATE_HOSTS_ENV, "")
    return UrlPolicy.from_allow_list(allow_private_hosts)


# The local instance (`podcast-brief run`, `podcast-brief ui`): runs and events in SQLite under the home folder.
# - pools: one slot per pool (one GPU step, one DuckDB writer at a time);
# - the run queue: one run per day partition at a time (the schedule, a backfill and a UI re-run never race);
# - run retries: the daemon re-runs a failed daily run from the failed step (the job sets dagster/max_retries);
# - run monitoring: runs stuck starting or canceling are failed, and pool slots still held by runs that ended are
#   freed a minute later. Runs whose process died are cleared by `podcast-brief run` before it starts and by the
#   `dead_run_sweeper` sensor (podcast_assets/operations/dead_runs.py).
LOCAL_DAGSTER_YAML = """\
# Written by podcast-brief (local instance, version 2). Delete this file to get the current default again.
telemetry:
  enabled: false
concurrency:
  runs:
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
  pools:
    default_limit: 1
run_retries:
  enabled: true
  max_retries: 2
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  free_slots_after_run_end_seconds: 60
  poll_interval_seconds: 60
"""
# What earlier versions wrote: replaced by the current default (a file edited by hand is left alone).
_EARLIER_DAGSTER_YAML = (
    "telemetry:\n  enabled: false\n"
    "concurrency:\n  pools:\n    default_limit: 1\n"
    "run_retries:\n  enabled: true\n  max_retries: 2\n"
)


def ensure_dagster_home() -> Path:
    """Point Dagster's instance at `<home>/dagster` unless DAGSTER_HOME is already set; write its dagster.yaml
    (`LOCAL_DAGSTER_YAML`) when there is none."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(home_dir() / "dagster")
    path = Path(os.environ["DAGSTER_HOME"])
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists() or config.read_text() == _EARLIER_DAGSTER_YAML:
        from podcast_assets.core.atomic_files import atomic_write_text

        atomic_write_text(config, LOCAL_DAGSTER_YAML)
    return path
