"""Sensors: feeds added with `podcast-brief feeds add` get their episodes fetched at once, and failed runs are
recorded (log line, `run_failures` row, optional webhook)."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import httpx
import sqlalchemy as sa

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.tables import feeds
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.policy_http import DeadlineExceeded, policy_client
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import url_policy

# Run tag that restricts the `episodes` asset to one feed (the asset reads it from `context.run.tags`).
FEED_URL_TAG = "podcast_brief/feed_url"
LAUNCHED_BY_TAG = "podcast_brief/launched_by"
NEW_FEED_JOB_NAME = "new_feed_episodes"
ALERT_WEBHOOK_ENV = "PODCAST_BRIEF_ALERT_WEBHOOK_URL"

new_feed_episodes_job = dg.define_asset_job(
    NEW_FEED_JOB_NAME,
    selection=dg.AssetSelection.assets("episodes"),
    description="Fetch one newly added feed's episodes for the latest day (launched by `new_feed_sensor`).",
)


def _cursor_time(cursor: str | None, now: dt.datetime) -> dt.datetime:
    """Feeds added after this time are new. Without a cursor (first tick): since 00:00 UTC today, because the
    daily schedule already covered the feeds registered before yesterday's partition was run."""
    if cursor:
        return dt.datetime.fromisoformat(cursor)
    return dt.datetime.combine(now.date(), dt.time())


def partition_for_new_feed(added_at: dt.datetime) -> str:
    """The newest complete day when the feed was added (the day before, UTC): the day the daily schedule last
    targeted, which ran without this feed. Never before the first partition."""
    day = added_at.date() - dt.timedelta(days=1)
    first = dt.date.fromisoformat(daily_partitions.get_first_partition_key())
    return max(day, first).isoformat()


def new_feed_run_requests(
    rows: list[dict], cursor: str | None, now: dt.datetime
) -> tuple[list[dg.RunRequest], str | None]:
    """RunRequests for feeds with `added_at` after the cursor (naive UTC), and the new cursor."""
    since = _cursor_time(cursor, now)
    new = sorted((r for r in rows if r["added_at"] is not None and r["added_at"] > since), key=lambda r: r["added_at"])
    requests = [
        dg.RunRequest(
            run_key=f"{row['feed_url']}@{row['added_at'].isoformat()}",
            partition_key=partition_for_new_feed(row["added_at"]),
            tags={FEED_URL_TAG: row["feed_url"], LAUNCHED_BY_TAG: "new_feed_sensor"},
        )
        for row in new
    ]
    new_cursor = new[-1]["added_at"].isoformat() if new else (cursor or since.isoformat())
    return requests, new_cursor


@dg.sensor(
    job=new_feed_episodes_job,
    minimum_interval_seconds=60,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Launches `episodes` for the latest day, restricted to the new feed, when a feed is added.",
)
def new_feed_sensor(context: dg.SensorEvaluationContext, catalog: CatalogResource) -> dg.SensorResult:
    rows = catalog.rows(sa.select(feeds.c.feed_url, feeds.c.added_at).order_by(feeds.c.added_at))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    requests, cursor = new_feed_run_requests(rows, context.cursor, now)
    for request in requests:
        context.log.info(f"new feed {request.tags[FEED_URL_TAG]}: episodes of {request.partition_key}")
    if not requests:
        return dg.SensorResult(skip_reason=dg.SkipReason("no feed added since the last tick"), cursor=cursor)
    return dg.SensorResult(run_requests=requests, cursor=cursor)


class AlertWebhookResource(dg.ConfigurableResource):
    """POSTs a JSON alert (`{"text": ..., "run_id": ...}`, Slack-compatible) to `url`, falling back to
    PODCAST_BRIEF_ALERT_WEBHOOK_URL (read when an alert is sent). Off when neither is set: the default."""

    url: str | None = None
    timeout_s: float = 10.0
    # Same URL policy as feeds: a webhook on a private address (e.g. a chat bridge on the LAN) must be allowed
    # here or in PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS. Redirects are not followed.
    allow_private_hosts: str | None = None

    def target(self) -> str | None:
        return self.url or os.environ.get(ALERT_WEBHOOK_ENV) or None

    def enabled(self) -> bool:
        return bool(self.target())

    def send(self, payload: dict) -> None:
        """POST the alert. Raises httpx.HTTPError, UrlRefused or DeadlineExceeded when it cannot be delivered."""
        target = self.target()
        if not target:
            return
        policy = url_policy(self.allow_private_hosts)
        try:
            policy.check_url(target)
        except OSError:
            pass  # does not resolve: the POST reports it as a connection error
        with policy_client(
            policy, timeout_s=self.timeout_s, total_timeout_s=3 * self.timeout_s, user_agent="podcast-brief-alerts"
        ) as client:
            response = client.post(target, json=payload)
        response.raise_for_status()


def _root_message(error) -> str:
    """The user's exception (`ValueError: ...`) rather than Dagster's "Error occurred while executing op" wrapper."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error.message.strip()


def record_run_failure(
    warehouse: WarehouseResource, run: dg.DagsterRun, failed_steps: list[str], error: str | None, alerted: bool
) -> None:
    """One row per failed run (a re-evaluation of the same run replaces its row)."""
    warehouse.execute(
        """INSERT OR REPLACE INTO run_failures
           (run_id, job_name, partition_key, failed_at, failed_steps, error, launched_by, alerted)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            run.run_id,
            run.job_name,
            run.tags.get("dagster/partition"),
            dt.datetime.now(dt.UTC).replace(tzinfo=None),
            failed_steps,
            error,
            run.tags.get(LAUNCHED_BY_TAG),
            alerted,
        ],
    )


@dg.run_failure_sensor(
    name="run_failure_recorder",
    monitor_all_code_locations=False,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Logs every failed run, records it in `run_failures` and alerts the webhook when one is set.",
)
def run_failure_recorder(
    context: dg.RunFailureSensorContext, warehouse: WarehouseResource, alert_webhook: AlertWebhookResource
) -> None:
    run = context.dagster_run
    step_failures = context.get_step_failure_events()
    failed_steps = [event.step_key for event in step_failures if event.step_key]
    errors = [
        _root_message(event.step_failure_data.error)
        for event in step_failures
        if event.step_failure_data and event.step_failure_data.error
    ]
    error = "\n".join(errors) or (context.failure_event.message or "run failed")
    partition = run.tags.get("dagster/partition")
    context.log.error(
        f"run {run.run_id} of {run.job_name}"
        + (f" for {partition}" if partition else "")
        + f" failed in {', '.join(failed_steps) or 'run setup'}: {error.splitlines()[0] if error else ''}"
    )
    alerted = False
    if alert_webhook.enabled():
        try:
            alert_webhook.send(
                {
                    "text": f"Podcast Brief: run of {run.job_name} {partition or ''} failed in "
                    f"{', '.join(failed_steps) or 'run setup'}",
                    "run_id": run.run_id,
                    "job": run.job_name,
                    "partition": partition,
                    "failed_steps": failed_steps,
                    "error": error[:2000],
                }
            )
            alerted = True
        # UrlRefused and a bad allow list are ValueErrors: best effort, the row is the record.
        except (httpx.HTTPError, ValueError, DeadlineExceeded) as exc:
            context.log.warning(f"alert webhook failed: {exc}")
    record_run_failure(warehouse, run, failed_steps, error, alerted)
