"""The one Definitions object: assets, checks, resources, jobs, schedules and sensors."""

import dagster as dg

from podcast_assets.assets.episodes import episodes
from podcast_assets.assets.registry import feeds, subscribers
from podcast_assets.assets.transcripts import transcripts
from podcast_assets.jobs import daily_brief_job, daily_brief_schedule
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

defs = dg.Definitions(
    assets=[feeds, subscribers, episodes, transcripts],
    jobs=[daily_brief_job],
    schedules=[daily_brief_schedule],
    resources={
        "warehouse": WarehouseResource(),
        "http": HttpClientResource(),
        "transcriber": TranscriberResource(),
    },
)
