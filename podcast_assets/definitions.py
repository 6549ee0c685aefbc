"""The one Definitions object: assets, checks, resources, jobs, schedules and sensors."""

import dagster as dg

from podcast_assets.assets.briefs import brief_deliveries, briefs
from podcast_assets.assets.episodes import episodes
from podcast_assets.assets.insights import insight_clusters, insight_embeddings, insights
from podcast_assets.assets.registry import feeds, subscribers
from podcast_assets.assets.sql_models import sql_model_definitions
from podcast_assets.assets.transcripts import transcripts
from podcast_assets.jobs import daily_brief_job, daily_brief_schedule
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.headlines import HeadlineWriterResource
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

python_defs = dg.Definitions(
    assets=[
        feeds, subscribers, episodes, transcripts, insights, insight_embeddings, insight_clusters, briefs,
        brief_deliveries,
    ],
    jobs=[daily_brief_job],
    schedules=[daily_brief_schedule],
    resources={
        "warehouse": WarehouseResource(),
        "http": HttpClientResource(),
        "transcriber": TranscriberResource(),
        "embedder": EmbedderResource(),
        "mailer": MailerResource(),
        "headline_writer": HeadlineWriterResource(),
    },
)

# SQL models from dbt_like_sql/ (or $PODCAST_BRIEF_SQL_DIR) join the same lineage graph.
defs = dg.Definitions.merge(python_defs, sql_model_definitions())
