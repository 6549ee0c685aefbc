"""Transcription fans out into shards: a stable shard per episode, one step per shard, the same tables as one shard,
and a shard finished by an earlier run that failed later is reused instead of transcribed again."""

import datetime as dt
import hashlib

import dagster as dg
import polars as pl
import pytest

from podcast_assets.assets.transcripts import STAGED_SEGMENTS, STAGED_STATUS, transcripts
from podcast_assets.core.audio import decode_16k_mono
from podcast_assets.core.sharding import parse_shard_key, shard_key, shard_of
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)
# Two episodes in shards 0 and 1 of 3 (shard 2 stays empty: its step must still succeed).
EPISODES = {"ep-0": "deep-rest-8.mp3", "ep-4": "grid-report-40.mp3"}


def test_shard_of_is_a_stable_hash_that_spreads_episodes():
    # Pinned: a worker in another process (or a later release) must put an episode in the same shard.
    expected = int.from_bytes(hashlib.sha1(b"episode-42").digest()[:8], "big") % 7
    assert shard_of("episode-42", 7) == expected
    counts = [0] * 4
    for n in range(4000):
        counts[shard_of(f"https://example.com/feed.xml#{n}", 4)] += 1
    assert all(900 < c < 1100 for c in counts), counts
    assert {shard_of(f"id-{n}", 1) for n in range(50)} == {0}
    assert parse_shard_key(shard_key(3, 16)) == (3, 16)
    for bad in ("shard_4_of_4", "shard_004_of_004", "transcripts", ""):
        with pytest.raises(ValueError):
            parse_shard_key(bad)
    with pytest.raises(ValueError):
        shard_of("x", 0)


def _add_episodes(warehouse: WarehouseResource, tmp_path) -> list[str]:
    ids = []
    for n, (episode_id, name) in enumerate(EPISODES.items()):
        audio = tmp_path / name
        audio.write_bytes(media_bytes(name))
        duration_s = len(decode_16k_mono(audio)) / 16_000
        warehouse.execute(
            """INSERT INTO episodes (partition_date, episode_id, feed_url, title, show_title, audio_path, duration_s,
               audio_sha256, published_at, status)
               VALUES (?, ?, 'http://127.0.0.1/feed.xml', ?, 'Show', ?, ?, ?, ?, 'ok')""",
            [DAY, episode_id, name, str(audio), duration_s, f"sha-{n}", dt.datetime(2026, 11, 24, 8, n)],
        )
        ids.append(episode_id)
    return ids


def materialize_transcripts(**transcriber) -> dg.ExecuteInProcessResult:
    """The day's `transcripts` on CPU with these transcriber settings; the run and both checks must pass."""
    result = dg.materialize(
        [transcripts],
        partition_key=DAY.isoformat(),
        resources={
            "warehouse": WarehouseResource(),
            "media": MediaStoreResource(),
            "transcriber": TranscriberResource(device="cpu", **transcriber),
        },
    )
    assert result.success
    assert [e.passed for e in result.get_asset_check_evaluations()] == [True, True]
    return result


def _tables(warehouse: WarehouseResource) -> tuple[list, list]:
    segments = warehouse.query("SELECT * EXCLUDE (partition_date) FROM transcripts ORDER BY episode_id, segment_index")
    status = warehouse.query(
        "SELECT episode_id, status, source, model, n_segments, audio_s FROM transcript_status ORDER BY episode_id"
    )
    return segments.rows(), status.rows()


def _forget_day(warehouse: WarehouseResource) -> None:
    for table in ("transcripts", "transcript_status"):
        warehouse.execute(f"DELETE FROM {table} WHERE partition_date = ?", [DAY])


def test_shards_give_the_tables_of_one_shard_and_reuse_a_shard_staged_by_a_failed_run(home, tmp_path):
    warehouse = WarehouseResource()
    ids = _add_episodes(warehouse, tmp_path)
    assert sorted(shard_of(i, 3) for i in ids) == [0, 1]
    one = materialize_transcripts(shards=1)
    assert one.asset_materializations_for_node("transcripts")[0].metadata["episodes_asr"].value == 2
    reference = _tables(warehouse)
    assert len(reference[1]) == 2 and all(row[1] == "ok" for row in reference[1])

    _forget_day(warehouse)
    three = materialize_transcripts(shards=3)
    shard_steps = sorted(
        e.step_key for e in three.all_events if e.is_step_success and ".transcribe_shard[" in e.step_key
    )
    assert shard_steps == [f"transcripts.transcribe_shard[{shard_key(i, 3)}]" for i in range(3)]
    assert _tables(warehouse) == reference  # whisper on CPU is deterministic: the split changes nothing
    assert warehouse.query(f"SELECT count(*) AS n FROM {STAGED_STATUS}")["n"][0] == 0  # staging emptied

    # A run that failed after one shard finished left that shard's rows staged; the next run reuses them.
    staged_id = ids[1]
    warehouse.execute(
        f"INSERT INTO {STAGED_SEGMENTS} SELECT * REPLACE ('staged by an earlier run' AS text) FROM transcripts "
        "WHERE episode_id = ?",
        [staged_id],
    )
    warehouse.execute(f"INSERT INTO {STAGED_STATUS} SELECT * FROM transcript_status WHERE episode_id = ?", [staged_id])
    _forget_day(warehouse)
    again = materialize_transcripts(shards=3)
    metadata = again.asset_materializations_for_node("transcripts")[0].metadata
    assert metadata["episodes_reused"].value == 1 and metadata["episodes_asr"].value == 1
    texts = warehouse.query("SELECT episode_id, text FROM transcripts ORDER BY episode_id, segment_index")
    assert set(texts.filter(pl.col("episode_id") == staged_id)["text"]) == {"staged by an earlier run"}
    assert "staged by an earlier run" not in texts.filter(pl.col("episode_id") != staged_id)["text"].to_list()
    assert warehouse.query(f"SELECT count(*) AS n FROM {STAGED_SEGMENTS}")["n"][0] == 0
