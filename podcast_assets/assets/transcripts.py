"""transcripts: timed segments for every ok episode of the day, from the publisher or from whisperx.

A graph-backed asset: `plan_transcript_shards` fans the day out into `TranscriberResource.shards` shards (a stable
hash of the episode id), each `transcribe_shard` step transcribes its episodes on whichever worker takes it (the
`gpu` pool / Celery queue / k8s GPU pod) and stages its rows in the warehouse, and `write_transcripts` replaces the
day's `transcripts` and `transcript_status` from the staged rows and runs the checks. Steps exchange no Python
values (Nothing-typed dynamic outputs), so no shared IO-manager storage is needed. Why this shape rather than a
day x shard partition dimension: README "Transcription fan-out".
"""

import datetime as dt
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl

from podcast_assets.assets.reporting import markdown_table
from podcast_assets.core.audio import AudioError, decode_16k_mono, is_silent
from podcast_assets.core.sharding import parse_shard_key, shard_key, shard_of
from podcast_assets.core.transcript_formats import Segment, TranscriptFormatError, parse_transcript
from podcast_assets.core.transcripts import asr_prompt, normalize_segments, segment_time_problems
from podcast_assets.orchestration.execution import GPU_OP_TAGS
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource, Transcription
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


@dataclass
class _AsrJob:
    """An episode whose decoded, non-silent audio waits for the model."""

    episode: dict
    status: dict
    audio: np.ndarray
    prompt: str | None
    note: str | None
    prepare_s: float  # publisher fallback, fetch and decode: this episode's own time before the model


def _prepare_episode(
    episode: dict, transcriber: TranscriberResource, media: MediaStoreResource
) -> tuple[list, dict] | _AsrJob:
    """The episode's (segments, status row) when it needs no model (publisher transcript, deleted, corrupt or
    silent audio), else the ASR job. Never raises for bad audio: that becomes the status."""
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
    feed_terms = (*(episode.get("person_names") or ()), *(episode.get("chapter_titles") or ()))
    prompt = asr_prompt(episode["show_title"], episode["title"], episode.get("description"), tuple(feed_terms))
    return _AsrJob(episode, status, audio, prompt, note, time.perf_counter() - started)


def _finish_episode(
    job: _AsrJob, result: Transcription | Exception, model_s: float, transcriber: TranscriberResource
) -> tuple[list, dict]:
    """(segments, status row) from the model's result for the job (an exception: that episode failed), with
    speakers told apart by voice (`TranscriberResource.speaker_turns`)."""
    status = job.status
    if isinstance(result, Exception):
        status.update(status="failed", error=f"transcription failed: {result}", wall_s=job.prepare_s + model_s)
        return [], status
    started = time.perf_counter()
    segments, note = _with_speakers(normalize_segments(result.segments, status["audio_s"]), job.audio, transcriber)
    status.update(
        status="ok" if segments else "empty",
        language=result.language,
        n_segments=len(segments),
        wall_s=job.prepare_s + model_s + time.perf_counter() - started,
        error=("; ".join(n for n in (job.note, note) if n) or None) if segments else "no speech detected",
    )
    return segments, status


def _with_speakers(segments: list, audio: np.ndarray, transcriber: TranscriberResource) -> tuple[list, str | None]:
    """(segments with speakers, note): a failure of the voice encoder keeps the transcript, without speakers."""
    try:
        return transcriber.with_speakers(segments, audio), None
    except Exception as error:  # the transcript is good without speakers; say why they are missing
        return segments, f"speakers not told apart: {error}"


def _transcribe_episode(
    episode: dict, transcriber: TranscriberResource, media: MediaStoreResource
) -> tuple[list, dict]:
    """(segments, status row) for one episode, transcribed on its own."""
    job = _prepare_episode(episode, transcriber, media)
    if not isinstance(job, _AsrJob):
        return job
    started = time.perf_counter()
    result = transcriber.transcribe(job.audio, job.prompt)
    return _finish_episode(job, result, time.perf_counter() - started, transcriber)


# Decoded audio held at once by cross-episode batching (16 kHz float32: 230 MB an hour); a longer shard is
# transcribed in groups of about this much audio, each group batched across its episodes.
CROSS_EPISODE_GROUP_AUDIO_S = 3600.0


def _transcribe_episodes_batched(
    episodes: list[dict], transcriber: TranscriberResource, media: MediaStoreResource
) -> Iterator[tuple[dict, list, dict]]:
    """(episode, segments, status row) per episode, in order, the model batching VAD chunks across episodes
    (`TranscriberResource.transcribe_many`). An episode's `wall_s` is its own preparation plus its share (by audio
    seconds) of its group's model time. Corrupt, silent or failing episodes are per-episode outcomes as above."""
    outcomes: dict[int, tuple[list, dict]] = {}
    group: list[tuple[int, _AsrJob]] = []

    def run_group() -> None:
        started = time.perf_counter()
        results = transcriber.transcribe_many([(job.audio, job.prompt) for _, job in group])
        model_s = time.perf_counter() - started
        group_audio_s = sum(job.status["audio_s"] for _, job in group) or 1.0
        for (position, job), result in zip(group, results, strict=True):
            share_s = model_s * job.status["audio_s"] / group_audio_s
            outcomes[position] = _finish_episode(job, result, share_s, transcriber)
        group.clear()

    emitted = 0
    for position, episode in enumerate(episodes):
        job = _prepare_episode(episode, transcriber, media)
        if isinstance(job, _AsrJob):
            group.append((position, job))
            if sum(j.status["audio_s"] for _, j in group) >= CROSS_EPISODE_GROUP_AUDIO_S:
                run_group()
        else:
            outcomes[position] = job
        while emitted in outcomes:
            yield episodes[emitted], *outcomes.pop(emitted)
            emitted += 1
    if group:
        run_group()
    while emitted in outcomes:
        yield episodes[emitted], *outcomes.pop(emitted)
        emitted += 1


# Rows of finished shards wait here (in the warehouse every worker already writes to) until `write_transcripts`
# replaces the day; a shard that ran in an earlier, failed run is reused from here by a re-run.
STAGED_SEGMENTS = "transcripts_staged"
STAGED_STATUS = "transcript_status_staged"
_STAGING_DDL = f"""
CREATE TABLE IF NOT EXISTS {STAGED_SEGMENTS} (
    partition_date DATE NOT NULL, episode_id VARCHAR NOT NULL, segment_index INTEGER NOT NULL,
    start_s DOUBLE NOT NULL, end_s DOUBLE NOT NULL, text VARCHAR, speaker VARCHAR, source VARCHAR NOT NULL,
    model VARCHAR, language VARCHAR
);
CREATE TABLE IF NOT EXISTS {STAGED_STATUS} (
    partition_date DATE NOT NULL, episode_id VARCHAR NOT NULL, status VARCHAR NOT NULL, source VARCHAR,
    model VARCHAR, language VARCHAR, device VARCHAR, n_segments INTEGER, audio_s DOUBLE, wall_s DOUBLE,
    error VARCHAR, audio_sha256 VARCHAR
);
"""
CHECK_SPECS = [
    dg.AssetCheckSpec("every_ok_episode_has_transcript_or_reason", asset="transcripts"),
    dg.AssetCheckSpec("segment_times_ordered_and_within_audio", asset="transcripts"),
]
_CHECK_OUTPUTS = {spec.name: spec.get_python_identifier() for spec in CHECK_SPECS}


# What the feed says about an episode beyond its notes: chapter titles and the people on it (`episode_credits`),
# spelled as the show spells them, for the ASR prompt.
_DAY_EPISODES_SQL = """
SELECT e.*,
       (SELECT list(c.title ORDER BY c.start_s) FROM episode_chapters c
        WHERE c.partition_date = e.partition_date AND c.episode_id = e.episode_id) AS chapter_titles,
       (SELECT list(DISTINCT p.name) FROM episode_persons p
        WHERE p.partition_date = e.partition_date AND p.episode_id = e.episode_id) AS person_names
FROM episodes e
WHERE e.partition_date = ? AND e.status = 'ok'
ORDER BY e.published_at, e.episode_id
"""


def _day_episodes(warehouse: WarehouseResource, day: dt.date) -> list[dict]:
    return warehouse.query(_DAY_EPISODES_SQL, [day]).to_dicts()


def _segment_rows(day: dt.date, episode_id: str, segments: list, status: dict) -> list[dict]:
    return [
        {
            "partition_date": day,
            "episode_id": episode_id,
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


def _reused_with_speakers(
    episode: dict, status: dict, frame: pl.DataFrame, transcriber: TranscriberResource, media: MediaStoreResource
) -> tuple[dict, pl.DataFrame]:
    """A reused transcript made before speakers were told apart by voice gets them now (the audio is decoded
    again, the model is not run again). Without audio, or when the voices fail, it is reused as it is."""
    if transcriber.speaker_turns != "voices" or frame["speaker"].drop_nulls().len() or not episode["audio_path"]:
        return status, frame
    segments = [Segment(r["start_s"], r["end_s"], r["text"], None) for r in frame.sort("segment_index").to_dicts()]
    try:
        audio = decode_16k_mono(media.local_copy(episode["audio_path"]))
    except (AudioError, OSError):
        return status, frame
    labeled, note = _with_speakers(segments, audio, transcriber)
    if note or labeled == segments:
        return status, frame
    status = {**status, "n_segments": len(labeled)}  # wall_s stays 0: reused, whisper did not run
    rows = _segment_rows(status["partition_date"], episode["episode_id"], labeled, status)
    return status, pl.DataFrame(rows, schema=SEGMENT_SCHEMA, orient="row")


def _reusable(warehouse: WarehouseResource, day: dt.date, model: str, episode_ids: list[str]) -> dict[str, tuple]:
    """episode_id -> (status row, segments frame) of ASR transcripts already made for the day by this model:
    written by an earlier run (`transcript_status`) or staged by a shard of a run that failed later."""
    found: dict[str, tuple] = {}
    if not episode_ids:
        return found
    for status_table, segment_table in (("transcript_status", "transcripts"), (STAGED_STATUS, STAGED_SEGMENTS)):
        rows = warehouse.query(
            f"SELECT * FROM {status_table} WHERE partition_date = ? AND status = 'ok' AND source = 'asr' "
            "AND model = ? AND list_contains(?, episode_id)",
            [day, model, episode_ids],
        ).to_dicts()
        if not rows:
            continue
        segments = warehouse.query(
            f"SELECT * FROM {segment_table} WHERE partition_date = ? AND list_contains(?, episode_id) "
            "ORDER BY episode_id, segment_index",
            [day, [row["episode_id"] for row in rows]],
        )
        for row in rows:
            found.setdefault(row["episode_id"], (row, segments.filter(pl.col("episode_id") == row["episode_id"])))
    return found


def _stage(warehouse: WarehouseResource, day: dt.date, episode_ids: list[str], segments, status) -> None:
    """Replace this shard's staged rows (keyed by its episodes, so a changed shard count leaves no stale rows)."""
    shard_rows = "partition_date = ? AND list_contains(?, episode_id)"
    warehouse.replace_rows(
        [
            (table, shard_rows, [day, episode_ids], frame)
            for table, frame in ((STAGED_SEGMENTS, segments), (STAGED_STATUS, status))
        ]
    )


@dg.op(ins={"episodes": dg.In(dg.Nothing), "episode_credits": dg.In(dg.Nothing)}, out=dg.DynamicOut(dg.Nothing))
def plan_transcript_shards(
    context: dg.OpExecutionContext, warehouse: WarehouseResource, transcriber: TranscriberResource
):
    """One `transcribe_shard` step per shard (every shard, even an empty one: the day's steps look the same)."""
    count = transcriber.shards
    day = dt.date.fromisoformat(context.partition_key)
    sizes = [0] * count
    for episode in _day_episodes(warehouse, day):
        sizes[shard_of(episode["episode_id"], count)] += 1
    context.log.info(f"{sum(sizes)} episodes in {count} shards: {sizes}")
    warehouse.create_table(_STAGING_DDL)
    for index in range(count):
        yield dg.DynamicOutput(None, mapping_key=shard_key(index, count))


@dg.op(ins={"shard": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing), pool="gpu", tags=GPU_OP_TAGS)
def transcribe_shard(
    context: dg.OpExecutionContext,
    warehouse: WarehouseResource,
    transcriber: TranscriberResource,
    media: MediaStoreResource,
) -> None:
    """Transcribe the episodes of one shard of the day and stage their rows. Reuses a transcript made from the
    same audio bytes by the same model (an earlier run, or this shard in a run that failed after it). With
    `transcriber.cross_episode_batching` the model's batches take VAD chunks from several of the shard's episodes."""
    index, count = parse_shard_key(context.get_mapping_key())
    day = dt.date.fromisoformat(context.partition_key)
    episodes = [e for e in _day_episodes(warehouse, day) if shard_of(e["episode_id"], count) == index]
    episode_ids = [e["episode_id"] for e in episodes]
    reusable = _reusable(warehouse, day, transcriber.model_name(), episode_ids)
    segment_rows: list[dict] = []
    status_rows: list[dict] = []
    reused: list[pl.DataFrame] = []
    to_transcribe = []
    for episode in episodes:
        earlier = reusable.get(episode["episode_id"])
        if earlier and not episode["transcript_path"] and earlier[0]["audio_sha256"] == episode["audio_sha256"]:
            status, frame = _reused_with_speakers(
                episode, {**earlier[0], "wall_s": 0.0}, earlier[1], transcriber, media
            )
            status_rows.append(status)
            reused.append(frame)
        else:
            to_transcribe.append(episode)
    if transcriber.cross_episode_batching:
        outcomes = _transcribe_episodes_batched(to_transcribe, transcriber, media)
    else:
        outcomes = ((e, *_transcribe_episode(e, transcriber, media)) for e in to_transcribe)
    for episode, segments, status in outcomes:
        status_rows.append({"partition_date": day, **status, "audio_sha256": episode["audio_sha256"]})
        segment_rows += _segment_rows(day, episode["episode_id"], segments, status)
        context.log.info(
            f"{episode['title']!r}: {status['status']} via {status['source']} ({status['n_segments']} segments)"
        )
    segment_frame = pl.concat(
        [
            pl.DataFrame(segment_rows, schema=SEGMENT_SCHEMA, orient="row"),
            *(f.select(list(SEGMENT_SCHEMA)).cast(SEGMENT_SCHEMA) for f in reused),
        ]
    )
    status_frame = pl.DataFrame(status_rows, schema=STATUS_SCHEMA, orient="row")
    _stage(warehouse, day, episode_ids, segment_frame, status_frame)
    context.add_output_metadata({"episodes": len(episodes), "episodes_reused": len(reused)})


def _check_results(day_episodes: list[dict], status_frame: pl.DataFrame, segment_frame: pl.DataFrame) -> list:
    missing = {e["episode_id"] for e in day_episodes} - set(status_frame["episode_id"].to_list())
    problems = segment_time_problems(segment_frame.to_dicts(), {e["episode_id"]: e["duration_s"] for e in day_episodes})
    return [
        dg.AssetCheckResult(
            asset_key="transcripts",
            check_name="every_ok_episode_has_transcript_or_reason",
            passed=not missing
            and status_frame.filter((pl.col("status") != "ok") & pl.col("error").is_null()).is_empty(),
            metadata={"episodes_without_outcome": len(missing)},
        ),
        dg.AssetCheckResult(
            asset_key="transcripts",
            check_name="segment_times_ordered_and_within_audio",
            passed=not problems,
            metadata={"problems": dg.MetadataValue.md("\n".join(f"- {p}" for p in problems[:20]) or "none")},
        ),
    ]


@dg.op(
    ins={"shards": dg.In(dg.Nothing)},
    out={"result": dg.Out(dg.Nothing), **{name: dg.Out(dg.Nothing) for name in _CHECK_OUTPUTS.values()}},
)
def write_transcripts(context: dg.OpExecutionContext, warehouse: WarehouseResource, transcriber: TranscriberResource):
    """Replace the day's `transcripts` and `transcript_status` with the staged rows of its episodes, in the
    day's episode order; then the staged rows of the day are dropped."""
    day = dt.date.fromisoformat(context.partition_key)
    day_episodes = _day_episodes(warehouse, day)
    order = {e["episode_id"]: position for position, e in enumerate(day_episodes)}
    ids = list(order)
    status_frame = (
        warehouse.query(
            f"SELECT * FROM {STAGED_STATUS} WHERE partition_date = ? AND list_contains(?, episode_id)", [day, ids]
        )
        .select(list(STATUS_SCHEMA))
        .cast(STATUS_SCHEMA)
        .sort(pl.col("episode_id").replace_strict(order, return_dtype=pl.Int64))
    )
    segment_frame = (
        warehouse.query(
            f"SELECT * FROM {STAGED_SEGMENTS} WHERE partition_date = ? AND list_contains(?, episode_id)", [day, ids]
        )
        .select(list(SEGMENT_SCHEMA))
        .cast(SEGMENT_SCHEMA)
        .sort(pl.col("episode_id").replace_strict(order, return_dtype=pl.Int64), "segment_index")
    )
    warehouse.replace_partition("transcripts", day, segment_frame)
    warehouse.replace_partition("transcript_status", day, status_frame)
    for table in (STAGED_SEGMENTS, STAGED_STATUS):
        warehouse.execute(f"DELETE FROM {table} WHERE partition_date = ?", [day])

    asr = status_frame.filter((pl.col("source") == "asr") & (pl.col("wall_s") > 0))
    asr_audio_s = float(asr["audio_s"].fill_null(0).sum())
    asr_wall_s = float(asr["wall_s"].fill_null(0).sum())
    reused = status_frame.filter(
        (pl.col("source") == "asr") & (pl.col("status") == "ok") & (pl.col("wall_s") == 0)
    ).height
    yield dg.Output(
        None,
        "result",
        metadata={
            "dagster/row_count": segment_frame.height,
            "dagster/column_schema": warehouse.table_schema("transcripts"),
            "episodes_transcribed": status_frame.filter(pl.col("status") == "ok").height,
            "episodes_publisher": status_frame.filter(pl.col("source") == "publisher").height,
            "episodes_asr": asr.height,
            "episodes_reused": reused,
            "episodes_empty_or_failed": status_frame.filter(pl.col("status") != "ok").height,
            "audio_seconds_transcribed": asr_audio_s,
            "asr_seconds": asr_wall_s,  # summed over shards: compute, not the step's wall time
            "real_time_factor": (asr_audio_s / asr_wall_s) if asr_wall_s else 0.0,
            "shards": transcriber.shards,
            "device": transcriber.resolved_device() if asr.height else "none",
            "model": transcriber.model_name(),
            "status": dg.MetadataValue.md(
                markdown_table(status_frame.select("episode_id", "status", "source", "n_segments", "audio_s", "error"))
            ),
        },
    )
    yield from _check_results(day_episodes, status_frame, segment_frame)


@dg.graph_asset(
    partitions_def=daily_partitions,
    # After episode_credits: chapter titles and people's names go into the ASR prompt.
    ins={
        "episodes": dg.AssetIn("episodes", dagster_type=dg.Nothing),
        "episode_credits": dg.AssetIn("episode_credits", dagster_type=dg.Nothing),
    },
    kinds={"python", "duckdb", "whisperx"},
    group_name="ingest",
    check_specs=CHECK_SPECS,
)
def transcripts(episodes, episode_credits):
    """Timed transcript segments of the day's ok episodes: the publisher's `podcast:transcript` when there is one
    (source 'publisher', speakers from VTT voice tags), whisperx otherwise (source 'asr').

    Corrupt, empty or silent audio is recorded per episode in `transcript_status` (status failed/empty with the
    reason); the rest of the day is transcribed. The day is split into shards (a stable hash of the episode id,
    `transcriber.shards`), one `transcribe_shard` step each, so several workers transcribe one day in parallel. With
    `transcriber.cross_episode_batching` (for GPU workers) whisper's batches take VAD chunks from several episodes
    of a shard, with the same segments as one episode at a time.
    """
    shards = plan_transcript_shards(episodes=episodes, episode_credits=episode_credits)
    written = write_transcripts(shards.map(transcribe_shard).collect())
    return {
        "result": written[0],
        **{name: output for name, output in zip(_CHECK_OUTPUTS.values(), written[1:], strict=True)},
    }
