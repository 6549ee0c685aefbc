"""Operating the platform: sensors, retries, freshness, backfill policy and cost accounting, on real parts
(HTTP server on 127.0.0.1, SMTP server, DuckDB file, a real Dagster instance in a temp folder)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import dagster as dg
import pytest

from podcast_assets.assets.briefs import brief_deliveries
from podcast_assets.assets.transcripts import transcripts as transcripts_asset
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_subscriber
from podcast_assets.catalog.tables import feeds
from podcast_assets.commands.cli import main as cli_main
from podcast_assets.evaluation.demo_network import DEEP_REST, DEMO_DAY, GRID_REPORT
from podcast_assets.evaluation.feeds import feed_path, media_bytes, publish_network
from podcast_assets.orchestration.execution import with_operations_policies
from podcast_assets.orchestration.sensors import (
    FEED_URL_TAG,
    NEW_FEED_JOB_NAME,
    AlertWebhookResource,
    new_feed_run_requests,
    new_feed_sensor,
    run_failure_recorder,
)
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.conftest import free_port, patched_env, smtp_server

DAY = DEMO_DAY.isoformat()


@pytest.fixture
def instance(tmp_path: Path):
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as test_instance:
        yield test_instance


def _defs():
    from podcast_assets.definitions import defs

    return defs


def _on_demo_day(show) -> int:
    return sum(1 for episode in show.episodes if episode.published_at.date() == DEMO_DAY)


def _with_policies(assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The asset as definitions.py deploys it (hooks, backfill policy), without bound resources."""
    return with_operations_policies([assets_def])[0]


def _set_added_at(url: str, added_at: dt.datetime) -> None:
    with CatalogResource().begin() as connection:
        connection.execute(feeds.update().where(feeds.c.feed_url == url).values(added_at=added_at))


# ---------------------------------------------------------------- wiring


def test_definitions_carry_the_operations_policies():
    defs = _defs()
    graph = defs.resolve_asset_graph()
    briefs = graph.get(dg.AssetKey("briefs"))
    assert briefs.freshness_policy.fail_window.to_timedelta() == dt.timedelta(hours=26)
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        if node.partitions_def is not None:
            assert node.backfill_policy == dg.BackfillPolicy.multi_run(max_partitions_per_run=1), key
    job_tags = defs.resolve_job_def("daily_brief").tags
    assert job_tags["dagster/max_retries"] == "2"
    for name in ("episodes", "brief_deliveries"):
        policy = defs.resolve_assets_def(name).op.retry_policy
        assert policy.max_retries >= 2 and policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter is not None
    # transcripts is graph-backed: its per-shard step carries the GPU routing, the plan and write steps do not.
    shard_op = defs.resolve_assets_def("transcripts").node_def.node_named("transcribe_shard").definition
    for tags in (
        shard_op.tags,
        defs.resolve_assets_def("insight_embeddings").node_def.node_named("embed_shard").definition.tags,
    ):
        assert tags["dagster-celery/queue"] == "gpu"
        assert json.loads(tags["dagster-k8s/config"])["container_config"]["resources"]["limits"]["nvidia.com/gpu"]
    hooks = {hook.name for hook in defs.resolve_assets_def("episodes").hook_defs}
    assert {"record_cost_on_success", "record_cost_on_failure"} <= hooks
    assert {s.name for s in defs.sensors} == {"new_feed_sensor", "run_failure_recorder", "dead_run_sweeper"}


def test_new_feed_requests_follow_the_cursor():
    rows = [
        {"feed_url": "http://a/feed", "added_at": dt.datetime(2026, 11, 24, 8)},
        {"feed_url": "http://b/feed", "added_at": dt.datetime(2026, 11, 25, 9)},
    ]
    requests, cursor = new_feed_run_requests(rows, "2026-11-25T00:00:00", dt.datetime(2026, 11, 25, 10))
    assert [(r.tags[FEED_URL_TAG], r.partition_key) for r in requests] == [("http://b/feed", "2026-11-24")]
    assert new_feed_run_requests(rows, cursor, dt.datetime(2026, 11, 25, 11)) == ([], cursor)
    # First tick ever: feeds added since 00:00 UTC today are new, older ones were the schedule's business.
    first, _ = new_feed_run_requests(rows, None, dt.datetime(2026, 11, 25, 10))
    assert [r.tags[FEED_URL_TAG] for r in first] == ["http://b/feed"]


# ---------------------------------------------------------------- new feed sensor, end to end


def test_new_feed_sensor_fetches_the_new_feeds_episodes(home, site, instance):
    warehouse = WarehouseResource()
    urls = dict(zip(("grid", "model", "rest", "signal"), publish_network(site), strict=True))
    assert cli_main(["feeds", "add", urls["grid"]]) == 0
    _set_added_at(urls["grid"], dt.datetime.combine(DEMO_DAY, dt.time(8)))
    job = _defs().resolve_job_def(NEW_FEED_JOB_NAME)
    assert job.execute_in_process(partition_key=DAY, instance=instance).success  # the day as the schedule saw it
    grid_episodes = warehouse.query("SELECT episode_id FROM episodes WHERE feed_url = ?", [urls["grid"]]).height
    assert grid_episodes == _on_demo_day(GRID_REPORT)

    # Ops add a feed the next morning; the sensor's last tick was at midnight.
    assert cli_main(["feeds", "add", urls["rest"]]) == 0
    _set_added_at(urls["rest"], dt.datetime.combine(DEMO_DAY + dt.timedelta(days=1), dt.time(9)))
    cursor = dt.datetime.combine(DEMO_DAY + dt.timedelta(days=1), dt.time()).isoformat()
    result = new_feed_sensor(
        dg.build_sensor_context(
            cursor=cursor, instance=instance, resources={"warehouse": warehouse, "catalog": CatalogResource()}
        )
    )
    assert [(r.partition_key, r.tags[FEED_URL_TAG]) for r in result.run_requests] == [(DAY, urls["rest"])]
    again = new_feed_sensor(
        dg.build_sensor_context(
            cursor=result.cursor, instance=instance, resources={"warehouse": warehouse, "catalog": CatalogResource()}
        )
    )
    assert not again.run_requests

    grid_fetches = site.site.requests[feed_path(GRID_REPORT)]
    request = result.run_requests[0]
    run = job.execute_in_process(partition_key=request.partition_key, tags=request.tags, instance=instance)
    assert run.success
    rest = warehouse.query(
        "SELECT status FROM episodes WHERE feed_url = ? AND partition_date = ?", [urls["rest"], DEMO_DAY]
    )
    assert rest.height == _on_demo_day(DEEP_REST) and set(rest["status"]) == {"ok"}
    # Cost accounting came along through the hooks: one row per step, CPU seconds measured.
    costs = warehouse.query("SELECT * FROM run_costs WHERE run_id = ?", [run.run_id])
    assert costs["step_key"].to_list() == ["episodes"] and costs["cpu_s"][0] > 0 and costs["device"][0] == "cpu"
    observations = instance.fetch_observations(dg.AssetKey("episodes"), limit=10).records
    assert any("cost/cpu_seconds" in r.asset_observation.metadata for r in observations)
    assert site.site.requests[feed_path(GRID_REPORT)] == grid_fetches
    # Restricted to the new feed: the other feed was not polled and its rows of the day are untouched.
    assert warehouse.query("SELECT episode_id FROM episodes WHERE feed_url = ?", [urls["grid"]]).height == grid_episodes


# ---------------------------------------------------------------- what retries do, with real failures


def test_flaky_feed_is_retried_in_place_and_a_dead_one_keeps_its_day(home, site, instance):
    """A feed answering 503 twice is retried inside the step (backoff with jitter) and its day is complete in one
    run. A feed that stays down is recorded in feeds.last_error, the other feeds go on, its episodes already stored
    for the day are kept, and the next run picks it up. The step itself never fails for this."""
    warehouse = WarehouseResource()
    urls = publish_network(site)
    for url in urls[:1] + urls[2:3]:  # grid report and deep rest
        cli_main(["feeds", "add", url])
    site.site.resources[feed_path(DEEP_REST)].fail_times = 2
    job = _defs().resolve_job_def(NEW_FEED_JOB_NAME)

    result = job.execute_in_process(partition_key=DAY, instance=instance)
    assert result.success
    assert site.site.requests[feed_path(DEEP_REST)] == 3
    assert warehouse.query("SELECT last_error FROM feeds WHERE feed_url = ?", [urls[2]])["last_error"][0] is None
    assert warehouse.query("SELECT * FROM episodes WHERE feed_url = ?", [urls[2]]).height == _on_demo_day(DEEP_REST)

    site.site.resources[feed_path(DEEP_REST)].fail_times = 100  # down for good
    result = job.execute_in_process(partition_key=DAY, instance=instance)
    assert result.success
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    error = warehouse.query("SELECT last_error FROM feeds WHERE feed_url = ?", [urls[2]])["last_error"][0]
    assert error == "HTTP 503 fetching feed"
    assert warehouse.query("SELECT * FROM episodes WHERE feed_url = ?", [urls[2]]).height == _on_demo_day(DEEP_REST)
    assert warehouse.query("SELECT * FROM episodes WHERE feed_url = ?", [urls[0]]).height == _on_demo_day(GRID_REPORT)

    site.site.resources[feed_path(DEEP_REST)].fail_times = 0
    assert job.execute_in_process(partition_key=DAY, instance=instance).success
    assert warehouse.query("SELECT last_error FROM feeds WHERE feed_url = ?", [urls[2]])["last_error"][0] is None


def test_smtp_outage_is_a_failed_row_and_the_next_run_delivers_once(home, instance):
    """brief_deliveries records a send failure per subscriber (the step succeeds, the RetryPolicy does not fire);
    the next materialization sends it, and a third never sends twice."""
    warehouse = WarehouseResource()
    subscriber_id = add_subscriber(CatalogResource(), "ada@example.com", "batteries", "Ada")
    warehouse.execute(
        "INSERT INTO brief_documents VALUES (?, ?, 1, 'ok', '# Brief', '<h1>Brief</h1>', 'Brief', NULL)",
        [DEMO_DAY, subscriber_id],
    )
    deliveries = _with_policies(brief_deliveries)
    port = free_port()  # nothing listens here yet: connection refused

    def deliver(mailer: MailerResource) -> dg.ExecuteInProcessResult:
        return dg.materialize(
            [deliveries],
            partition_key=DAY,
            instance=instance,
            resources={"warehouse": warehouse, "catalog": CatalogResource(), "mailer": mailer},
            selection=["brief_deliveries"],
        )

    down = deliver(MailerResource(smtp_host="127.0.0.1", smtp_port=port, timeout_s=5))
    assert down.success
    assert not [e for e in down.all_events if e.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY]
    row = warehouse.query("SELECT status, attempts, error FROM brief_deliveries").to_dicts()[0]
    assert row["status"] == "failed" and row["attempts"] == 1 and "Connection" in row["error"]

    with smtp_server() as (controller, inbox):
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=controller.port, timeout_s=5)
        assert deliver(mailer).success
        assert deliver(mailer).success
    row = warehouse.query("SELECT status, attempts FROM brief_deliveries").to_dicts()[0]
    assert row == {"status": "sent", "attempts": 2}
    assert [to for to, _ in inbox.messages] == [["ada@example.com"]]


# ---------------------------------------------------------------- run failure sensor


class _Webhook:
    """A real HTTP endpoint on 127.0.0.1 that records JSON POSTs."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alert"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_run_failure_sensor_records_and_alerts_a_real_failed_run(home, instance, tmp_path):
    warehouse = WarehouseResource()
    audio = tmp_path / "episode.mp3"
    audio.write_bytes(media_bytes("deep-rest-8.mp3"))
    warehouse.execute(
        """INSERT INTO episodes (partition_date, episode_id, feed_url, title, audio_path, duration_s, status)
           VALUES (?, 'e1', 'http://127.0.0.1/feed.xml', 'An episode', ?, 40.0, 'ok')""",
        [DEMO_DAY, str(audio)],
    )
    # A transcriber pointed at a model folder that does not exist: the transcripts step raises, the run fails.
    transcripts = _with_policies(transcripts_asset)
    failed = dg.materialize(
        [transcripts],
        partition_key=DAY,
        instance=instance,
        raise_on_error=False,
        resources={
            "warehouse": warehouse,
            "catalog": CatalogResource(),
            "transcriber": TranscriberResource(model=str(tmp_path / "no-model"), device="cpu"),
            "media": MediaStoreResource(),
        },
    )
    assert not failed.success
    run = instance.get_run_by_id(failed.run_id)
    failure_event = (
        instance.get_records_for_run(failed.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        .records[0]
        .event_log_entry.dagster_event
    )

    def evaluate(webhook_url: str | None) -> None:
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_recorder",
            dagster_event=failure_event,
            dagster_instance=instance,
            dagster_run=run,
            resources={"warehouse": warehouse, "alert_webhook": AlertWebhookResource(url=webhook_url)},
        ).for_run_failure()
        run_failure_recorder(context)

    with patched_env({"PODCAST_BRIEF_ALERT_WEBHOOK_URL": None}):
        evaluate(None)  # the default: no webhook
    row = warehouse.query("SELECT * FROM run_failures").to_dicts()
    assert len(row) == 1 and row[0]["run_id"] == failed.run_id and row[0]["partition_key"] == DAY
    # The step of the shard holding e1 (transcripts is a graph-backed asset: one step per shard).
    (failed_step,) = row[0]["failed_steps"]
    assert failed_step.startswith("transcripts.transcribe_shard[") and "neither tiny.en" in row[0]["error"]
    assert row[0]["alerted"] is False

    webhook = _Webhook()
    try:
        with patched_env({"PODCAST_BRIEF_ALERT_WEBHOOK_URL": webhook.url}):  # production sets it this way
            evaluate(None)
    finally:
        webhook.stop()
    assert [a["run_id"] for a in webhook.received] == [failed.run_id]
    assert "transcripts" in webhook.received[0]["text"]
    assert warehouse.query("SELECT alerted FROM run_failures")["alerted"].to_list() == [True]

    evaluate(webhook.url)  # webhook now down: still recorded, not alerted, no exception
    assert warehouse.query("SELECT alerted FROM run_failures")["alerted"].to_list() == [False]

    # The failure hook accounted the failed step's cost too.
    costs = warehouse.query("SELECT outcome, cpu_s FROM run_costs WHERE run_id = ?", [failed.run_id]).to_dicts()
    failures = [c for c in costs if c["outcome"] == "failure"]  # the failed shard step; the others succeeded
    assert len(failures) == 1 and failures[0]["cpu_s"] > 0
