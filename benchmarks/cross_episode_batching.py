"""Cross-episode batching vs per-episode transcription on a day of many short episodes, in one process.

    python -m benchmarks.cross_episode_batching [--episodes 30] [--batch-sizes 8 16] [--repeats 2]
    python -m benchmarks.cross_episode_batching --device cuda --model base      # on a GPU box

The day: `--episodes` demo-length episodes, the demo day's MP3s taken in turn (copies under new ids), each with its
own feed prompt (`asr_prompt` of show title, episode title and description, as the `transcripts` asset builds it).
Audio is decoded before timing; the model is loaded and warmed up (one episode both ways) before timing. For each
batch size, per episode (`TranscriberResource.transcribe`, one episode's VAD chunks per batch) and cross-episode
(`TranscriberResource.transcribe_many`, batches filled from several episodes) run alternately (the first way of
each round swaps), `--repeats` times each; the best wall time of each counts. Printed: audio seconds, wall,
real-time factor, the ratio per-episode / cross-episode, whether every episode's texts are identical both ways (with
the largest segment time difference), and the mean WER of each way against the demo scripts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import time
from pathlib import Path

MEDIA = Path(__file__).resolve().parents[1] / "podcast_assets" / "evaluation" / "networks" / "demo" / "media"


def _day(episodes: int, prompts: str = "demo"):
    """[(audio, prompt, script)] for `episodes` episodes: the demo day's taken in turn. `prompts`: `demo` (each copy
    has its episode's feed prompt), `distinct` (the title gets " (copy N)": prompts of more lengths, as on a real
    day of many shows), `none` (no feed prompt)."""
    from podcast_assets.core.audio import decode_16k_mono
    from podcast_assets.core.transcripts import asr_prompt
    from podcast_assets.evaluation.demo_network import DEMO_DAY, all_episodes

    demo = [(show, episode) for show, episode in all_episodes() if episode.published_at.date() == DEMO_DAY]
    decoded = {episode.slug: decode_16k_mono(MEDIA / f"{episode.slug}.mp3") for _, episode in demo}
    day = []
    for n in range(episodes):
        show, episode = demo[n % len(demo)]
        title = episode.title if prompts != "distinct" or n < len(demo) else f"{episode.title} (copy {n // len(demo)})"
        prompt = asr_prompt(show.title, title, episode.description) if prompts != "none" else None
        day.append((decoded[episode.slug], prompt, episode.script))
    return day


def _compare(per_episode, cross_episode) -> tuple[bool, float]:
    """(every episode's texts identical, largest start/end difference in seconds)."""
    identical, largest = True, 0.0
    for one, many in zip(per_episode, cross_episode, strict=True):
        if isinstance(many, Exception):
            return False, float("inf")
        identical &= [s.text for s in one.segments] == [s.text for s in many.segments]
        for a, b in zip(one.segments, many.segments, strict=False):
            largest = max(largest, abs(a.start_s - b.start_s), abs(a.end_s - b.end_s))
    return identical, largest


def _mean_wer(results, day) -> float:
    from podcast_assets.core.wer import word_error_rate

    rates = [
        word_error_rate(script, " ".join(s.text for s in result.segments)) if not isinstance(result, Exception) else 1
        for result, (_, _, script) in zip(results, day, strict=True)
    ]
    return sum(rates) / len(rates)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=30, help="episodes in the day (demo day MP3s in turn)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each way; the best counts")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--model", default="tiny.en", help="tiny.en, base or a CTranslate2 folder")
    parser.add_argument("--threads", type=int, default=0, help="CTranslate2 CPU threads (0: every core)")
    parser.add_argument("--prompts", default="demo", choices=["demo", "distinct", "none"])
    args = parser.parse_args()

    from podcast_assets.core import cross_episode_batching
    from podcast_assets.resources.transcriber import TranscriberResource

    day = _day(args.episodes, args.prompts)
    items = [(audio, prompt) for audio, prompt, _ in day]
    audio_s = sum(len(audio) for audio, _ in items) / 16_000
    base = TranscriberResource(model=args.model, device=args.device, cpu_threads=args.threads)
    base.load()
    base.transcribe(*items[0])  # warm-up: first-call allocations, CUDA kernels
    base.transcribe_many(items[:1])
    # Batch sizes the model ran, per way (counted from here on).
    fills: dict[str, list[int]] = {"per-episode": [], "cross-episode": []}
    counting = {"way": "per-episode"}
    model = base.load().model
    generate_one_file = model.generate_segment_batched
    run_batch = cross_episode_batching._run_batch

    def count_one_file(features, *rest, **kwargs):
        fills[counting["way"]].append(features.shape[0] if len(features.shape) == 3 else 1)
        return generate_one_file(features, *rest, **kwargs)

    def count_across(pipeline, audios, *rest):
        fills[counting["way"]].append(len(audios))
        return run_batch(pipeline, audios, *rest)

    model.generate_segment_batched = count_one_file
    cross_episode_batching._run_batch = count_across
    load_before = os.getloadavg()
    print(
        f"{args.episodes} episodes ({args.prompts} prompts, {len({p for _, p in items})} distinct prompts"
        f"), {audio_s:.1f} s audio, model {base.model_name()} on "
        f"{base.resolved_device()} ({base.resolved_compute_type()}), chunks {base.chunk_size_s} s; "
        f"load average before {load_before[0]:.2f}",
        flush=True,
    )

    rows = []
    for batch_size in args.batch_sizes:
        transcriber = base.model_copy(update={"batch_size": batch_size})
        ways = {
            "per-episode": lambda t=transcriber: [t.transcribe(audio, prompt) for audio, prompt in items],
            "cross-episode": lambda t=transcriber: t.transcribe_many(items),
        }
        best: dict[str, float] = {}
        results: dict[str, list] = {}
        for repeat in range(args.repeats):
            order = list(ways) if repeat % 2 == 0 else list(reversed(ways))
            for name in order:
                counting["way"] = name
                fills[name].clear()
                started = time.perf_counter()
                results[name] = ways[name]()
                seconds = time.perf_counter() - started
                best[name] = min(best.get(name, seconds), seconds)
                print(
                    f"batch {batch_size} | {name} | run {repeat + 1} | {seconds:.2f} s | {audio_s / seconds:.1f}x "
                    f"| {len(fills[name])} model batches, mean fill {sum(fills[name]) / max(len(fills[name]), 1):.1f} "
                    f"| load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )
        identical, largest = _compare(results["per-episode"], results["cross-episode"])
        rows.append(
            (
                batch_size,
                best["per-episode"],
                best["cross-episode"],
                identical,
                largest,
                _mean_wer(results["per-episode"], day),
                _mean_wer(results["cross-episode"], day),
            )
        )

    load_after = os.getloadavg()
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; load average before {load_before[0]:.2f}, "
        f"after {load_after[0]:.2f} (1 min), {load_after[1]:.2f} (5 min)\n"
    )
    print(
        "| batch | audio (s) | per-episode wall (s) | per-episode x real time | cross-episode wall (s) "
        "| cross-episode x real time | per-episode / cross-episode | texts identical (max time diff) "
        "| mean WER per-episode | mean WER cross-episode |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for batch_size, per_s, cross_s, identical, largest, per_wer, cross_wer in rows:
        print(
            f"| {batch_size} | {audio_s:.1f} | {per_s:.2f} | {audio_s / per_s:.1f}x | {cross_s:.2f} "
            f"| {audio_s / cross_s:.1f}x | {per_s / cross_s:.2f}x | {'yes' if identical else 'NO'} ({largest:.3f} s) "
            f"| {per_wer:.3f} | {cross_wer:.3f} |"
        )


if __name__ == "__main__":
    main()
