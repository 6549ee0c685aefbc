"""Where state lives. Read at call time (never at import), so tests and ops switch by environment."""

from __future__ import annotations

import os
from pathlib import Path

from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV, UrlPolicy

HOME_ENV = "PODCAST_BRIEF_HOME"
DEFAULT_HOME = "./.podcast_brief"


def home_dir() -> Path:
    """The one folder for all state: warehouse, audio, rendered briefs, outbox, Dagster instance."""
    home = Path(os.environ.get(HOME_ENV) or DEFAULT_HOME).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True)
    return home


def url_policy(allow_private_hosts: str | None = None) -> UrlPolicy:
    """The fetch policy: public http(s) only, plus the hosts in `allow_private_hosts` (falling back to
    PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS, read now). Default: every private and local address is refused."""
    if allow_private_hosts is None:
        allow_private_hosts = os.environ.get(ALLOW_PRIVATE_HOSTS_ENV, "")
    return UrlPolicy.from_allow_list(allow_private_hosts)


def ensure_dagster_home() -> Path:
    """Point Dagster's instance at `<home>/dagster` unless DAGSTER_HOME is already set."""
    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(home_dir() / "dagster")
    path = Path(os.environ["DAGSTER_HOME"])
    path.mkdir(parents=True, exist_ok=True)
    config = path / "dagster.yaml"
    if not config.exists():
        # Local default: runs and events in SQLite under the home folder; pools capped so one process writes DuckDB;
        # the daemon (`podcast-brief ui`) re-runs a failed daily run from the failed step (dagster/max_retries).
        config.write_text(
            "telemetry:\n  enabled: false\n"
            "concurrency:\n  pools:\n    default_limit: 1\n"
            "run_retries:\n  enabled: true\n  max_retries: 2\n"
        )
    return path
