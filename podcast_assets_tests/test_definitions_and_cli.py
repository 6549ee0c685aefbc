"""The Definitions, the schedule, and the console script."""

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import list_feeds, list_subscribers
from podcast_assets.commands.cli import main

REPO = Path(__file__).resolve().parents[1]
PYTHON_ASSETS = {
    "episodes",
    "transcripts",
    "insights",
    "insight_embeddings",
    "insight_clusters",
    "briefs",
    "brief_deliveries",
}


def test_definitions_load_with_the_whole_graph_and_its_checks():
    from podcast_assets.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert PYTHON_ASSETS | {"feeds", "subscribers", "marts/daily_feed_health"} <= keys
    job = defs.resolve_job_def("daily_brief")
    assert job.partitions_def is not None
    job_keys = {key.to_user_string() for key in job.asset_layer.selected_asset_keys}
    assert PYTHON_ASSETS <= job_keys and "marts/daily_feed_health" in job_keys
    assert graph.get(dg.AssetKey("transcripts")).pools == {"gpu"}
    assert dg.AssetKey("transcripts") in graph.get(dg.AssetKey("insights")).parent_keys
    checks = {check.name for check in graph.asset_check_keys}
    assert {
        "no_duplicate_episode_ids",
        "every_ok_episode_has_transcript_or_reason",
        "segment_times_ordered_and_within_audio",
        "embedding_dimension_and_unit_norm",
        "no_two_insights_from_one_cluster",
        "never_sent_twice",
    } <= checks


def test_schedule_runs_the_previous_utc_day_each_morning():
    from podcast_assets.definitions import defs

    schedule = defs.resolve_schedule_def("daily_brief_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 5 * * *"
    context = dg.build_schedule_context(scheduled_execution_time=dt.datetime(2026, 11, 25, 5, 0, tzinfo=dt.UTC))
    requests = list(schedule.evaluate_tick(context).run_requests)
    assert [r.partition_key for r in requests] == ["2026-11-24"]


def test_feeds_commands_round_trip(home, capsys):
    assert main(["feeds", "add", "https://example.com/feed.xml", "--title", "Example"]) == 0
    assert main(["feeds", "add", "https://example.com/feed.xml"]) == 0
    assert "already registered" in capsys.readouterr().out
    assert main(["feeds", "list"]) == 0
    assert "https://example.com/feed.xml" in capsys.readouterr().out
    assert main(["feeds", "add", "ftp://nope"]) == 2
    assert main(["feeds", "remove", "https://example.com/feed.xml"]) == 0
    assert main(["feeds", "remove", "https://example.com/feed.xml"]) == 1
    assert list_feeds(CatalogResource()).is_empty()


def test_subscriber_validation_writes_nothing_on_bad_input(home, capsys):
    assert main(["subscribers", "add", "not-an-email", "--interests", "batteries"]) == 2
    assert "invalid email" in capsys.readouterr().err
    assert main(["subscribers", "add", "a@example.com", "--interests", " , ;"]) == 2
    assert "interests must not be empty" in capsys.readouterr().err
    assert list_subscribers(CatalogResource()).is_empty()
    assert main(["subscribers", "add", "A@Example.com", "--interests", "sleep, health", "--name", "A"]) == 0
    assert main(["subscribers", "remove", "a@example.com"]) == 0
    rows = list_subscribers(CatalogResource()).select("email", "active").to_dicts()
    assert rows == [{"email": "a@example.com", "active": False}]


def test_cli_run_materializes_a_day_through_the_instance(home, capsys, tmp_path):
    os.environ.pop("DAGSTER_HOME", None)
    try:
        assert main(["run", "--date", "2026-11-20"]) == 0
    finally:
        os.environ.pop("DAGSTER_HOME", None)
    out = capsys.readouterr().out
    assert "2026-11-20: run succeeded" in out and "episodes ok          0" in out
    compute = re.search(r"compute\s+([0-9.]+) CPU s", out)  # cost hooks wrote run_costs for this day
    assert compute and float(compute.group(1)) > 0
    instance_dir = home / "dagster"
    assert (instance_dir / "dagster.yaml").exists()
    with dg.DagsterInstance.from_config(str(instance_dir)) as instance:
        assert instance.run_retries_enabled  # the daemon re-runs a failed daily run
        runs = instance.get_runs()
        daily = [r for r in runs if r.job_name == "daily_brief"]
        assert daily and daily[0].tags.get("dagster/partition") == "2026-11-20"
        assert instance.get_latest_materialization_event(dg.AssetKey("briefs")) is not None
    assert main(["run"]) == 2
    with pytest.raises(SystemExit):
        main(["run", "--date", "yesterday"])


def test_dagster_cli_materializes_from_the_module(home):
    env = {**os.environ, "DAGSTER_HOME": str(home / "dagster-cli")}
    Path(env["DAGSTER_HOME"]).mkdir(parents=True)
    completed = subprocess.run(
        [
            str(Path(sys.executable).parent / "dagster"),
            "asset",
            "materialize",
            "-m",
            "podcast_assets.definitions",
            "--select",
            "episodes",
            "--partition",
            "2026-11-19",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "RUN_SUCCESS" in completed.stderr + completed.stdout


def test_run_outside_the_partitions_or_with_a_bad_date_is_one_line_and_exit_code_2(home, capsys):
    assert main(["run", "--date", "2020-10-09"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: no partition 2020-10-09: days run from 2026-01-01 to ") and error.count("\n") == 1
    assert main(["run", "--from", "2026-11-24", "--to", "2026-11-20"]) == 2
    assert "is before --from" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exited:
        main(["run", "--date", "2026-13-01"])
    assert exited.value.code == 2 and "expected YYYY-MM-DD" in capsys.readouterr().err
