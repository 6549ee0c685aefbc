"""Cross-episode batching: whisper's batches take VAD chunks from several episodes, and every episode still gets
exactly the segments it gets on its own (real tiny.en, real demo audio, the episodes' own feed prompts)."""

import datetime as dt
import wave
from pathlib import Path

import numpy as np
import pytest

from podcast_assets.core import cross_episode_batching
from podcast_assets.core.audio import decode_16k_mono
from podcast_assets.core.cross_episode_batching import AsrItem, Chunk, batches_across_items, transcribe_across_items
from podcast_assets.core.transcripts import asr_prompt
from podcast_assets.evaluation.demo_network import all_episodes
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.test_transcript_shards import materialize_transcripts

MEDIA = Path(__file__).resolve().parents[1] / "podcast_assets" / "evaluation" / "networks" / "demo" / "media"
DAY = dt.date(2026, 11, 24)


@pytest.fixture(scope="module")
def transcriber() -> TranscriberResource:
    return TranscriberResource(model="tiny.en", device="cpu", batch_size=8)


def _assert_same_segments(alone, batched) -> None:
    assert batched.language == alone.language
    assert [s.text for s in batched.segments] == [s.text for s in alone.segments]
    for a, b in zip(alone.segments, batched.segments, strict=True):
        assert abs(a.start_s - b.start_s) <= 1e-3 and abs(a.end_s - b.end_s) <= 1e-3, (a, b)


def test_batches_are_filled_across_episodes_in_order_and_skip_a_failed_episode():
    chunks = [Chunk(item, index, float(index), index + 1.0) for item, n in enumerate((3, 1, 4)) for index in range(n)]
    batches = list(batches_across_items(chunks, 3, skip=lambda item: False))
    assert [[(c.item, c.index) for c in b] for b in batches] == [
        [(0, 0), (0, 1), (0, 2)],
        [(1, 0), (2, 0), (2, 1)],
        [(2, 2), (2, 3)],
    ]
    failed: set[int] = set()
    seen = []
    for batch in batches_across_items(chunks, 2, skip=lambda item: item in failed):
        seen.append([(c.item, c.index) for c in batch])
        failed.add(0)  # item 0 fails in its first batch: its later chunks are not run
    assert seen == [[(0, 0), (0, 1)], [(1, 0), (2, 0)], [(2, 1), (2, 2)], [(2, 3)]]
    # Only chunks with the same key (the prompt's <|startoftranscript|> position) share a batch.
    by_key = list(batches_across_items(chunks, 3, skip=lambda item: False, key=lambda c: c.item == 1))
    assert [[(c.item, c.index) for c in b] for b in by_key] == [
        [(0, 0), (0, 1), (0, 2)],
        [(2, 0), (2, 1), (2, 2)],
        [(1, 0)],
        [(2, 3)],
    ]
    with pytest.raises(ValueError):
        next(batches_across_items(chunks, 0, skip=lambda item: False))


@pytest.fixture
def model_batches(monkeypatch) -> list[tuple[int, int]]:
    """(chunks, distinct prompts) of every batch the cross-episode path sends to the model."""
    seen: list[tuple[int, int]] = []
    run_batch = cross_episode_batching._run_batch

    def recording(pipeline, audios, prompts, *rest):
        seen.append((len(audios), len({tuple(p) for p in prompts})))
        return run_batch(pipeline, audios, prompts, *rest)

    monkeypatch.setattr(cross_episode_batching, "_run_batch", recording)
    return seen


def _cut_to_tokens(tokenizer, prompt: str, tokens: int) -> str:
    return tokenizer.decode(tokenizer.encode(" " + prompt)[:tokens]).strip()


def test_cross_episode_batches_give_each_episode_its_own_segments(transcriber, model_batches):
    demo_day = [(show, episode) for show, episode in all_episodes() if episode.published_at.date() == DAY][:3]
    items = [
        (decode_16k_mono(MEDIA / f"{episode.slug}.mp3"), asr_prompt(show.title, episode.title, episode.description))
        for show, episode in demo_day
    ]
    assert len(items) == 3 and all(prompt for _, prompt in items)
    alone = [transcriber.transcribe(audio, prompt) for audio, prompt in items]
    # An item that breaks VAD (no samples) sits between good ones: it fails alone.
    broken = (np.zeros(0, dtype=np.float32), "Nothing here.")
    batched = transcriber.transcribe_many([items[0], broken, *items[1:]])
    assert isinstance(batched[1], Exception)
    for one, many in zip(alone, [batched[0], *batched[2:]], strict=True):
        assert one.segments
        _assert_same_segments(one, many)
    assert transcriber.load().options.initial_prompt is None  # the shared pipeline is left unprompted

    # Different prompts of one token length: chunks of different episodes share batches (CTranslate2 batches only
    # prompts with <|startoftranscript|> at one position), and every episode still gets its own segments.
    tokenizer = transcriber.load().tokenizer
    same_length = [(audio, _cut_to_tokens(tokenizer, prompt, 24)) for audio, prompt in items]
    assert len({len(tokenizer.encode(" " + prompt)) for _, prompt in same_length}) == 1
    assert len({prompt for _, prompt in same_length}) == 3
    alone = [transcriber.transcribe(audio, prompt) for audio, prompt in same_length]
    model_batches.clear()
    raw = transcribe_across_items(
        transcriber.load(), [AsrItem(audio, prompt) for audio, prompt in same_length], 8, transcriber.chunk_size_s
    )  # no retry of a failed batch here: every result comes from the shared batches
    batched = [transcriber._finish(result, audio) for result, (audio, _) in zip(raw, same_length, strict=True)]
    for one, many in zip(alone, batched, strict=True):
        _assert_same_segments(one, many)
    assert any(prompts > 1 for _, prompts in model_batches), model_batches
    assert sum(chunks for chunks, _ in model_batches) == sum(len(r["segments"]) for r in raw)
    assert len(model_batches) < sum(-(-len(r["segments"]) // 8) for r in raw)  # fewer batches than one by one


def _write_silence(path: Path, seconds: float = 4.0) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * int(16_000 * seconds))


def _add_episode(warehouse: WarehouseResource, episode_id: str, audio: Path, minute: int, duration_s: float) -> None:
    warehouse.execute(
        """INSERT INTO episodes (partition_date, episode_id, feed_url, title, show_title, description, audio_path,
           duration_s, audio_sha256, published_at, status)
           VALUES (?, ?, 'http://127.0.0.1/feed.xml', ?, 'The Grid Report', 'Batteries and the power grid.', ?, ?,
           ?, ?, 'ok')""",
        [
            DAY,
            episode_id,
            f"Episode {episode_id}",  # one token length for every episode: their chunks may share batches
            str(audio),
            duration_s,
            f"sha-{episode_id}",
            dt.datetime(2026, 11, 24, 8, minute),
        ],
    )


def test_the_asset_batches_across_a_shard_and_a_silent_or_corrupt_episode_fails_alone(home, tmp_path, model_batches):
    warehouse = WarehouseResource()
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"\xff\xfb" + b"\x00" * 64)
    silent = tmp_path / "silent.wav"
    _write_silence(silent)
    good = []
    for name in ("grid-report-40.mp3", "deep-rest-8.mp3"):
        (tmp_path / name).write_bytes(media_bytes(name))
        good.append(tmp_path / name)
    # Ordered so the bad episodes sit between the good ones in the shard.
    for minute, (episode_id, path) in enumerate(
        [("ep-a", good[0]), ("ep-corrupt", corrupt), ("ep-silent", silent), ("ep-b", good[1])]
    ):
        duration_s = 4.0 if path in (corrupt, silent) else len(decode_16k_mono(path)) / 16_000
        _add_episode(warehouse, episode_id, path, minute, duration_s)

    def tables():
        segments = warehouse.query(
            "SELECT episode_id, segment_index, start_s, end_s, text, source, model, language FROM transcripts "
            "ORDER BY episode_id, segment_index"
        ).rows()
        status = warehouse.query(
            "SELECT episode_id, status, source, n_segments, error FROM transcript_status ORDER BY episode_id"
        ).rows()
        return segments, status

    materialize_transcripts(shards=1, cross_episode_batching=False)
    alone = tables()
    for table in ("transcripts", "transcript_status"):
        warehouse.execute(f"DELETE FROM {table} WHERE partition_date = ?", [DAY])
    batched_run = materialize_transcripts(shards=1, cross_episode_batching=True)
    batched = tables()

    status = {row[0]: row for row in batched[1]}
    assert status["ep-a"][1] == status["ep-b"][1] == "ok" and status["ep-a"][3] > 0 and status["ep-b"][3] > 0
    assert status["ep-corrupt"][1] == "failed" and "corrupt" in status["ep-corrupt"][4]
    assert status["ep-silent"][1] == "empty" and "silent" in status["ep-silent"][4]
    assert batched[1] == alone[1]
    assert [r[:2] + r[4:] for r in batched[0]] == [r[:2] + r[4:] for r in alone[0]]  # same texts
    for a, b in zip(alone[0], batched[0], strict=True):
        assert abs(a[2] - b[2]) <= 1e-3 and abs(a[3] - b[3]) <= 1e-3
    assert any(prompts > 1 for _, prompts in model_batches), model_batches  # the two good episodes shared a batch
    metadata = batched_run.asset_materializations_for_node("transcripts")[0].metadata
    assert metadata["episodes_asr"].value == 4 and metadata["episodes_empty_or_failed"].value == 2
    assert metadata["real_time_factor"].value > 0
