"""Audio retention: episode audio of publication days older than N days is deleted, so disk does not grow forever.

The `audio_retention` job (daily schedule, 04:00 UTC, before the 05:00 daily brief) deletes through the media
resource (the home folder or the fsspec URL), records what it freed as run metadata, and marks each episode row:
`audio_path` null, `audio_deleted_at` set. Transcripts, insights and briefs stay. A later re-run of such a day
downloads the audio again in `episodes`; `transcripts` reuses the transcript made from the same bytes.
"""

import datetime as dt
import shutil

import dagster as dg
import polars as pl

from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir


def delete_old_audio(
    warehouse: WarehouseResource, media: MediaStoreResource, today: dt.date, log=None
) -> dict[str, int | str]:
    """Delete the audio of every day before `today - retention days`; returns what was deleted."""
    days = media.audio_retention_days()
    cutoff = today - dt.timedelta(days=days)
    old_days = warehouse.query(
        "SELECT DISTINCT partition_date FROM episodes WHERE partition_date < ? AND audio_path IS NOT NULL ORDER BY 1",
        [cutoff],
    )["partition_date"].to_list()
    files, freed, episodes_marked = 0, 0, 0
    for day in old_days:
        frame = warehouse.query("SELECT * FROM episodes WHERE partition_date = ?", [day])
        deleted_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        for location in frame.filter(pl.col("audio_path").is_not_null())["audio_path"].unique().to_list():
            freed += media.delete(location)
            files += 1
        marked = pl.col("audio_path").is_not_null()
        n_marked = frame.filter(marked).height
        episodes_marked += n_marked
        frame = frame.with_columns(
            pl.when(marked).then(pl.lit(deleted_at)).otherwise(pl.col("audio_deleted_at")).alias("audio_deleted_at"),
            pl.lit(None, pl.String).alias("audio_path"),
        )
        # One transaction per day (delete + insert): a kill leaves the day either untouched or fully marked.
        warehouse.replace_partition("episodes", day, frame)
        if log:
            log.info(f"{day}: audio of {n_marked} episode(s) deleted")
    # Downloads left in the home folder for old days (the local copy of audio uploaded to a URL, a killed run's
    # leftovers): the day folders go too.
    audio_root = home_dir() / "audio"
    for folder in sorted(audio_root.iterdir()) if audio_root.is_dir() else []:
        try:
            folder_day = dt.date.fromisoformat(folder.name)
        except ValueError:
            continue
        if folder.is_dir() and folder_day < cutoff:
            for file in folder.rglob("*"):
                if file.is_file():
                    freed += file.stat().st_size
                    files += 1
            shutil.rmtree(folder, ignore_errors=True)
    return {
        "retention_days": days,
        "cutoff_day": cutoff.isoformat(),
        "days_cleared": len(old_days),
        "episodes_marked": episodes_marked,
        "files_deleted": files,
        "bytes_deleted": freed,
    }


@dg.op(description="Delete episode audio older than the media resource's retention (default 30 days).")
def delete_expired_audio(
    context: dg.OpExecutionContext, warehouse: WarehouseResource, media: MediaStoreResource
) -> dict:
    scheduled = context.run.tags.get("dagster/scheduled_execution_time")
    today = dt.datetime.fromisoformat(scheduled).date() if scheduled else dt.datetime.now(dt.UTC).date()
    outcome = delete_old_audio(warehouse, media, today, context.log)
    context.log.info(f"audio retention: {outcome}")
    context.add_output_metadata(dict(outcome))
    return outcome


@dg.job(name="audio_retention", description="Delete episode audio past its retention; rows keep the rest.")
def audio_retention_job():
    delete_expired_audio()


audio_retention_schedule = dg.ScheduleDefinition(
    name="audio_retention_schedule",
    job=audio_retention_job,
    cron_schedule="0 4 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING,
)
