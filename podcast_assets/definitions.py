"""The one Definitions object: assets, checks, resources, jobs, schedules and sensors."""

import dagster as dg

from podcast_assets.assets.audio_briefs import audio_briefs
from podcast_assets.assets.briefs import brief_deliveries, briefs
from podcast_assets.assets.credits import episode_credits, insight_credits
from podcast_assets.assets.episodes import episodes
from podcast_assets.assets.insight_embeddings import insight_embeddings
from podcast_assets.assets.insights import insight_clusters, insights
from podcast_assets.assets.registry import feeds, subscribers
from podcast_assets.assets.sql_models import sql_model_definitions
from podcast_assets.assets.transcripts import transcripts
from podcast_assets.operations import pool_waits
from podcast_assets.operations.dead_runs import dead_run_sweeper
from podcast_assets.operations.retention import audio_retention_job, audio_retention_schedule
from podcast_assets.orchestration.deployment import deployment_name, executor_for, resources_for
from podcast_assets.orchestration.execution import with_operations_policies
from podcast_assets.orchestration.jobs import daily_brief_job, daily_brief_schedule
from podcast_assets.orchestration.sensors import new_feed_episodes_job, new_feed_sensor, run_failure_recorder

# local (default), production, celery or kubernetes: see orchestration/deployment.py and deploy/README.md.
DEPLOYMENT = deployment_name()

# Every process that loads the code location (run workers, the CLI) waits for pool slots without spinning a core
# and logs who holds them (a fix for dagster 1.13's wait loop; see operations/pool_waits.py).
pool_waits.install()

# SQL models from dbt_like_sql/ (or $PODCAST_BRIEF_SQL_DIR) join the same lineage graph. Only their assets are
# kept at module scope: `dagster -m` refuses a module with two Definitions objects.
SQL_ASSETS = list(sql_model_definitions().assets or [])

defs = dg.Definitions(
    # Deployment-wide policies applied once here: one-run-per-day backfills, cost hooks, freshness of briefs.
    assets=with_operations_policies(
        [
            feeds,
            subscribers,
            episodes,
            episode_credits,
            transcripts,
            insights,
            insight_embeddings,
            insight_clusters,
            insight_credits,
            briefs,
            brief_deliveries,
            audio_briefs,
            *SQL_ASSETS,
        ]
    ),
    jobs=[daily_brief_job, new_feed_episodes_job, audio_retention_job],
    schedules=[daily_brief_schedule, audio_retention_schedule],
    sensors=[new_feed_sensor, run_failure_recorder, dead_run_sweeper],
    resources=resources_for(DEPLOYMENT),
    executor=executor_for(DEPLOYMENT),
)
