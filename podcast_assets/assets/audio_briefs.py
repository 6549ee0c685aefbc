"""audio_briefs: per subscriber, one MP3 of the original audio of their picks, each introduced by a spoken line."""

import datetime as dt

import dagster as dg
import numpy as np
import polars as pl

from podcast_assets.core.atomic_files import atomic_write_bytes
from podcast_assets.core.audio import AudioError, probe_duration_s
from podcast_assets.core.audio_brief import GAP_S, RATE, clip_span, cut, decode, encode_mp3, silence, speak
from podcast_assets.orchestration.partitions import daily_partitions
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.settings import home_dir

AUDIO_BRIEF_SCHEMA = {
    "partition_date": pl.Date,
    "subscriber_id": pl.String,
    "path": pl.String,
    "clips": pl.Int32,
    "duration_s": pl.Float64,
    "bytes": pl.Int64,
}

_PICKS_SQL = """
SELECT b.subscriber_id, b.rank, b.insight_id, i.episode_id, i.start_s, i.end_s, e.audio_path, e.duration_s,
       coalesce(f.title, e.show_title, e.feed_url) AS show, e.title AS episode_title
FROM briefs b
JOIN insights i ON i.partition_date = b.partition_date AND i.insight_id = b.insight_id
JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
LEFT JOIN feeds f ON f.feed_url = e.feed_url
WHERE b.partition_date = ?
ORDER BY b.subscriber_id, b.rank
"""


class AudioBriefConfig(dg.Config):
    voice: str = "en-us"  # an espeak-ng voice (`espeak-ng --voices`)


def _clips(picks: pl.DataFrame, media: MediaStoreResource, log) -> tuple[dict[str, np.ndarray], list[str]]:
    """Every picked insight's clip, each episode decoded once and shared by every subscriber who picked from it."""
    clips, problems = {}, []
    for (episode_id,), rows in picks.unique("insight_id").group_by("episode_id"):
        first = rows.row(0, named=True)
        try:
            if not first["audio_path"]:
                raise AudioError("audio no longer kept (retention)")
            samples = decode(media.local_copy(first["audio_path"]))
            for row in rows.to_dicts():
                clips[row["insight_id"]] = cut(samples, clip_span(row["start_s"], row["end_s"], len(samples) / RATE))
        except (AudioError, OSError) as error:
            problems.append(f"{episode_id}: {error}")
            log.warning(f"audio brief clips of episode {episode_id} skipped: {error}")
    return clips, problems


@dg.asset(
    partitions_def=daily_partitions,
    deps=["briefs"],
    kinds={"python", "duckdb"},
    group_name="delivery",
    check_specs=[
        dg.AssetCheckSpec("clips_within_their_episodes", asset="audio_briefs"),
        dg.AssetCheckSpec("every_mp3_decodes", asset="audio_briefs"),
    ],
)
def audio_briefs(
    context: dg.AssetExecutionContext,
    config: AudioBriefConfig,
    warehouse: WarehouseResource,
    media: MediaStoreResource,
) -> dg.MaterializeResult:
    """Per subscriber with a brief, `audio_briefs/<day>/<subscriber>.mp3`: for each pick, "From Show, episode
    title" spoken by espeak-ng, then the original audio of the insight (its sentences plus a little room, faded,
    at -16 LUFS). An episode whose audio cannot be read loses its clips; the other picks still play."""
    day = dt.date.fromisoformat(context.partition_key)
    picks = warehouse.query(_PICKS_SQL, [day])
    clips, problems = _clips(picks, media, context.log)
    outside = picks.filter(
        (pl.col("start_s") < 0) | (pl.col("end_s") > pl.col("duration_s") + 0.5) | (pl.col("end_s") < pl.col("start_s"))
    )
    intros: dict[str, np.ndarray] = {}
    unspoken: list[str] = []
    folder = home_dir() / "audio_briefs" / day.isoformat()
    rows, undecodable = [], []
    encoded: dict[tuple[str, ...], bytes] = {}  # subscribers with the same picks share one encoding (~0.6 s each)
    for (subscriber_id,), mine in picks.group_by("subscriber_id", maintain_order=True):
        parts = []
        playable = mine.filter(pl.col("insight_id").is_in(list(clips)))
        for pick in playable.to_dicts():
            line = f"From {pick['show']}, {pick['episode_title'] or 'an episode'}."
            if line not in intros:
                try:
                    intros[line] = speak(line, config.voice)
                except AudioError as error:  # no TTS engine here: the clips still play, without their intro
                    unspoken.append(str(error))
                    intros[line] = silence(0)
            parts += [intros[line], silence(GAP_S), clips[pick["insight_id"]], silence(GAP_S)]
        if not parts:
            continue
        key = tuple(playable["insight_id"])
        if key not in encoded:
            encoded[key] = encode_mp3(np.concatenate(parts))
        path = folder / f"{subscriber_id}.mp3"
        atomic_write_bytes(path, encoded[key])  # a reader never sees half an MP3
        try:
            duration = probe_duration_s(path)
        except AudioError:
            undecodable.append(subscriber_id)
            duration = 0.0
        clip_count = len(parts) // 4
        rows.append((day, subscriber_id, str(path), clip_count, duration, path.stat().st_size))
    if unspoken:
        context.log.warning(f"{len(unspoken)} intros not spoken: {unspoken[0]}")
    frame = pl.DataFrame(rows, schema=AUDIO_BRIEF_SCHEMA, orient="row")
    warehouse.replace_partition("audio_briefs", day, frame)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "episodes_cut": picks.filter(pl.col("insight_id").is_in(list(clips)))["episode_id"].n_unique(),
            "clips_cut_once": len(clips),
            "distinct_mp3s_encoded": len(encoded),
            "total_minutes": float(frame["duration_s"].sum() or 0) / 60,
            "total_bytes": int(frame["bytes"].sum() or 0),
            "episodes_skipped": dg.MetadataValue.json(problems),
            "intros_not_spoken": len(unspoken),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name="clips_within_their_episodes",
                passed=outside.is_empty(),
                metadata={"outside": outside.height},
            ),
            dg.AssetCheckResult(
                check_name="every_mp3_decodes", passed=not undecodable, metadata={"undecodable": len(undecodable)}
            ),
        ],
    )
