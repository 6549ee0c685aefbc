"""transcripts: timed segments for every ok episode of the day, from the publisher or from whisperx."""

import datetime as dt
import time
from pathlib import Path

import dagster as dg
import polars as pl

from podcast_assets.assets.reporting import markdown_table
from podcast_assets.core.audio import AudioError, decode_16k_mono, is_silent
from podcast_assets.core.transcript_formats import TranscriptFormatError, parse_transcript
from podcast_assets.core.transcripts import asr_prompt, normalize_segments, segment_time_problems
from podcast_assets.execution import GPU_OP_TAGS
from podcast_assets.partitions import daily_partitions
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

SEGMENT_SCHEMA = {
    "partition_date": pl.Date,
    "episode_id": pl.String,
    "segment_index": pl.Int32,
    "start_s": pl.Float64,
    "end_s": pl.Float64,
    "text": pl.String,
    "speaker": pl.String,
    "source": pl.String,
    "model": pl.String,
    "language": pl.String,
}
STATUS_SCHEMA = {
    "partition_date": pl.Date,
    "episode_id": pl.String,
    "status": pl.String,
    "source": pl.String,
    "model": pl.String,
    "language": pl.String,
    "device": pl.String,
    "n_segments": pl.Int32,
    "audio_s": pl.Float64,
    "wall_s": pl.Float64,
    "error": pl.String,
    "audio_sha256": pl.String,
}


def _publisher_segments(episode: dict) -> tuple[list, str | None]:
    """Segments from the publisher's transcript, or why it cannot be used."""
    try:
        document = Path(episode["transcript_path"]).read_text(encoding="utf-8", errors="replace")
        segments = normalize_segments(
            parse_transcript(document, episode["transcript_type"] or "", episode["duration_s"]), episode["duration_s"]
        )
    except (OSError, TranscriptFormatError) as error:
        return [], f"publisher transcript unusable ({error}); used ASR"
    return (segments, None) if segments else ([], "publisher transcript is empty; used ASR")


def _transcribe_episode(
    episode: dict, transcriber: TranscriberResource, media: MediaStoreResource
) -> tuple[list, dict]:
    """(segments, status row) for one episode. Never raises for bad audio: that becomes the status."""
    status = {"episode_id": episode["episode_id"], "audio_s": episode["duration_s"], "n_segments": 0}
    started = time.perf_counter()
    note = episode["transcript_error"]
    if episode["transcript_path"]:
        segments, note = _publisher_segments(episode)
        if segments:
            status.update(
                status="ok",
                source="publisher",
                model="publisher",
                language=None,
                device=None,
                n_segments=len(segments),
                wall_s=time.perf_counter() - started,
                error=None,
            )
            return segments, status
    status.update(source="asr", model=transcriber.model_name(), device=transcriber.resolved_device())
    if not episode["audio_path"]:
        # Deleted by the audio_retention job and no transcript of these bytes to reuse: a clear per-item outcome.
        deleted = episode.get("audio_deleted_at")
        status.update(
            status="failed",
            error=f"audio deleted by retention{f' on {deleted:%Y-%m-%d}' if deleted else ''}; "
            "re-run episodes for this day to download it again",
            wall_s=time.perf_counter() - started,
        )
        return [], status
    try:
        audio = decode_16k_mono(media.local_copy(episode["audio_path"]))
    except (AudioError, OSError) as error:  # OSError: the stored audio could not be fetched
        status.update(status="failed", error=str(error), wall_s=time.perf_counter() - started)
        return [], status
    status["audio_s"] = len(audio) / 16_000
    if is_silent(audio):
        status.update(status="empty", error="silent audio: nothing to transcribe", wall_s=time.perf_counter() - started)
        return [], status
    prompt = asr_prompt(episode["show_title"], episode["title"], episode.get("description"))
    result = transcriber.transcribe(audio, prompt)
    segments = normalize_segments(result.segments, status["audio_s"])
    status.update(
        status="ok" if segments else "empty",
        language=result.language,
        n_segments=len(segments),
        wall_s=time.perf_counter() - started,
        error=note if segments else "no speech detected",
    )
    return segments, status


@dg.asset(
    partitions_def=daily_partitions,
    deps=["episodes"],
    kinds={"python", "duckdb", "whisperx"},
    group_name="ingest",
    pool="gpu",
    op_tags=GPU_OP_TAGS,
    check_specs=[
        dg.AssetCheckSpec("every_ok_episode_has_transcript_or_reason", asset="transcripts"),
        dg.AssetCheckSpec("segment_times_ordered_and_within_audio", asset="transcripts"),
    ],
)
def transcripts(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    transcriber: TranscriberResource,
    media: MediaStoreResource,
) -> dg.MaterializeResult:
    """Timed transcript segments of the day's ok episodes: the publisher's `podcast:transcript` when there is one
    (source 'publisher', speakers from VTT voice tags), whisperx otherwise (source 'asr').

    Corrupt, empty or silent audio is recorded per episode in `transcript_status` (status failed/empty with the
    reason); the rest of the day is transcribed.
    """
    day = dt.date.fromisoformat(context.partition_key)
    day_episodes = warehouse.query(
        "SELECT * FROM episodes WHERE partition_date = ? AND status = 'ok' ORDER BY published_at, episode_id", [day]
    ).to_dicts()
    # ASR is the expensive step: a re-run reuses a transcript made from the same audio bytes by the same model.
    reusable = {
        row["episode_id"]: row
        for row in warehouse.query(
            "SELECT * FROM transcript_status WHERE partition_date = ? AND status = 'ok' AND source = 'asr' "
            "AND model = ?",
            [day, transcriber.model_name()],
        ).to_dicts()
    }
    previous_segments = warehouse.query("SELECT * FROM transcripts WHERE partition_date = ?", [day])
    segment_rows: list[dict] = []
    status_rows: list[dict] = []
    reused = 0
    started = time.perf_counter()
    for episode in day_episodes:
        earlier = reusable.get(episode["episode_id"])
        if earlier and not episode["transcript_path"] and earlier["audio_sha256"] == episode["audio_sha256"]:
            status_rows.append({**earlier, "wall_s": 0.0})
            segment_rows += previous_segments.filter(pl.col("episode_id") == episode["episode_id"]).to_dicts()
            reused += 1
            continue
        segments, status = _transcribe_episode(episode, transcriber, media)
        status_rows.append({"partition_date": day, **status, "audio_sha256": episode["audio_sha256"]})
        segment_rows += [
            {
                "partition_date": day,
                "episode_id": episode["episode_id"],
                "segment_index": index,
                "start_s": s.start_s,
                "end_s": s.end_s,
                "text": s.text,
                "speaker": s.speaker,
                "source": status["source"],
                "model": status["model"],
                "language": status["language"],
            }
            for index, s in enumerate(segments)
        ]
        context.log.info(
            f"{episode['title']!r}: {status['status']} via {status['source']} ({status['n_segments']} segments)"
        )
    wall_s = time.perf_counter() - started

    segment_frame = pl.DataFrame(segment_rows, schema=SEGMENT_SCHEMA, orient="row")
    status_frame = pl.DataFrame(status_rows, schema=STATUS_SCHEMA, orient="row")
    warehouse.replace_partition("transcripts", day, segment_frame)
    warehouse.replace_partition("transcript_status", day, status_frame)

    asr = status_frame.filter((pl.col("source") == "asr") & (pl.col("wall_s") > 0))
    asr_audio_s = float(asr["audio_s"].fill_null(0).sum())
    asr_wall_s = float(asr["wall_s"].fill_null(0).sum())
    missing = {e["episode_id"] for e in day_episodes} - set(status_frame["episode_id"].to_list())
    problems = segment_time_problems(segment_rows, {e["episode_id"]: e["duration_s"] for e in day_episodes})
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": segment_frame.height,
            "dagster/column_schema": warehouse.table_schema("transcripts"),
            "episodes_transcribed": status_frame.filter(pl.col("status") == "ok").height,
            "episodes_publisher": status_frame.filter(pl.col("source") == "publisher").height,
            "episodes_asr": asr.height,
            "episodes_reused": reused,
            "episodes_empty_or_failed": status_frame.filter(pl.col("status") != "ok").height,
            "audio_seconds_transcribed": asr_audio_s,
            "wall_seconds": wall_s,
            "real_time_factor": (asr_audio_s / asr_wall_s) if asr_wall_s else 0.0,
            "device": transcriber.resolved_device() if asr.height else "none",
            "model": transcriber.model_name(),
            "status": dg.MetadataValue.md(
                markdown_table(status_frame.select("episode_id", "status", "source", "n_segments", "audio_s", "error"))
            ),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="every_ok_episode_has_transcript_or_reason",
                passed=not missing
                and status_frame.filter((pl.col("status") != "ok") & pl.col("error").is_null()).is_empty(),
                metadata={"episodes_without_outcome": len(missing)},
            ),
            dg.AssetCheckResult(
                check_name="segment_times_ordered_and_within_audio",
                passed=not problems,
                metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:20]) or "none")},
            ),
        ],
    )
