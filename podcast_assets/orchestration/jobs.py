"""The daily job and its schedule: every partitioned asset of one day, each morning for the day before."""

import dagster as dg

DAILY_JOB_NAME = "daily_brief"
# Asset groups whose assets are all daily-partitioned; the job runs them for one publication day, with
# `subscribers` (the registry's daily snapshot of the catalog).
DAILY_GROUPS = ("ingest", "insights", "delivery", "sql_daily")

daily_brief_job = dg.define_asset_job(
    DAILY_JOB_NAME,
    selection=dg.AssetSelection.groups(*DAILY_GROUPS) | dg.AssetSelection.assets("subscribers"),
    description="Materialize every daily-partitioned asset of one publication day.",
    # Run-level retry (the daemon's run_retries, see deploy/dagster.yaml): a failed daily run is re-executed
    # from its failed steps twice; step-level RetryPolicy on network assets handles transient HTTP/SMTP errors.
    tags={"dagster/max_retries": "2", "dagster/retry_strategy": "FROM_FAILURE"},
)

# 05:00 UTC: the previous day's episodes are all published; the schedule targets yesterday's partition.
daily_brief_schedule = dg.build_schedule_from_partitioned_job(
    daily_brief_job, hour_of_day=5, minute_of_hour=0, default_status=dg.DefaultScheduleStatus.RUNNING
)
