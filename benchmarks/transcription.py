"""The whole `transcripts` asset, sharded vs the per-episode way, against raw whisperx, in one process on one input.

    python -m benchmarks.transcription [--copies 1 3] [--shards 2 4]

The demo day's ASR episodes (x`copies`: the same audio under new episode ids, a bigger day) are transcribed by:

- raw whisperx: `load_model` + `transcribe` per episode in this process, 2 CTranslate2 threads (model loaded
  before timing);
- the per-episode way, in process: one `transcribe_shard` step does every episode (`shards=1`), 2 threads, the
  pipeline already loaded (what BENCHMARKS.md measured before the fan-out);
- the per-episode way, as a run: the same through the multiprocess executor (a process per step, which loads the
  model), as the daemon runs it;
- sharded: `shards=N`, one CTranslate2 thread per shard step, the multiprocess executor running two steps at once.

The raw engine and the per-episode baselines use whisperx's default pyannote VAD (the asset before round 4); the
per-episode run and the sharded runs are then repeated with the silero VAD (`transcriber.vad`, CPU's default now).

Each line gives the wall time of the whole asset (plan, shard steps and write, with process starts and model loads
where the executor pays them) and the mean WER against the demo scripts, so speed is compared at equal WER.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import time
from pathlib import Path

import dagster as dg

from podcast_assets.assets.episodes import episodes
from podcast_assets.assets.transcripts import transcripts
from podcast_assets.orchestration.deployment import local_resources

# The two baselines every row is compared with: today's asset in process and as a run, both with pyannote.
IN_PROCESS_BASELINE = "per-episode asset in process (pyannote VAD, shards=1, 2 threads, model loaded)"
RUN_BASELINE = "per-episode asset as a run (pyannote VAD, multiprocess, shards=1, 2 threads)"
bench_job = dg.define_asset_job("bench_transcripts", selection=dg.AssetSelection.assets(transcripts))
# Loaded again by every step process of the multiprocess executor (hence module scope).
defs = dg.Definitions(assets=[episodes, transcripts], jobs=[bench_job], resources=local_resources())


def _forget_transcripts(warehouse, day: dt.date) -> None:
    for table in ("transcripts", "transcript_status"):
        warehouse.execute(f"DELETE FROM {table} WHERE partition_date = ?", [day])


def _mean_wer(warehouse, day: dt.date, scripts: dict[str, str]) -> float:
    from podcast_assets.core.wer import word_error_rate

    rows = warehouse.query(
        """SELECT e.audio_url, string_agg(t.text, ' ' ORDER BY t.segment_index) AS text
           FROM transcripts t JOIN episodes e USING (partition_date, episode_id)
           WHERE t.partition_date = ? AND t.source = 'asr' GROUP BY t.episode_id, e.audio_url""",
        [day],
    ).rows()
    rates = [word_error_rate(scripts[url.rsplit("/", 1)[-1].removesuffix(".mp3")], text) for url, text in rows]
    return sum(rates) / len(rates)


def _copy_day(warehouse, day: dt.date, copies: int) -> None:
    """`copies - 1` more of each ASR episode: same audio and feed, a new episode id (so nothing is reused)."""
    for copy in range(1, copies):
        warehouse.execute(
            """INSERT INTO episodes SELECT * REPLACE (episode_id || '#copy' || ?::VARCHAR AS episode_id)
               FROM episodes WHERE partition_date = ? AND status = 'ok' AND transcript_path IS NULL
               AND NOT contains(episode_id, '#copy')""",
            [copy, day],
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 3], help="day sizes: copies of the demo day")
    parser.add_argument("--shards", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--pyannote-shards", action="store_true", help="also the sharded runs with pyannote")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="podcast-brief-bench-asr-"))
    os.environ["PODCAST_BRIEF_HOME"] = str(home)  # inherited by the executor's step processes
    os.environ.setdefault("PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS", "127.0.0.1")

    import whisperx
    from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

    from podcast_assets.catalog import CatalogResource
    from podcast_assets.core.audio import decode_16k_mono
    from podcast_assets.demo.run import register_demo
    from podcast_assets.evaluation.demo_network import DEMO_DAY
    from podcast_assets.evaluation.network import demo_network
    from podcast_assets.evaluation.server import SiteServer
    from podcast_assets.resources.transcriber import TranscriberResource, packaged_model_dir
    from podcast_assets.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource()
    resources = local_resources()
    partition = DEMO_DAY.isoformat()
    with SiteServer() as site:
        register_demo(CatalogResource(), site)
        assert dg.materialize([episodes], partition_key=partition, resources=resources).success
    scripts = {e.slug: " ".join(t.text for t in e.turns) for _, e in demo_network().episodes()}
    model_dir, language = packaged_model_dir("tiny.en")
    threads = os.cpu_count() or 1
    raw_model = whisperx.load_model(
        str(model_dir), "cpu", compute_type="int8", language=language, vad_method="pyannote",
        local_files_only=True, threads=threads,
    )  # fmt: skip
    in_process = TranscriberResource(device="cpu", shards=1, vad="pyannote")
    in_process.load()
    job = ReconstructableJob(
        ReconstructableRepository.for_module("benchmarks.transcription", "defs", working_directory=os.getcwd()),
        "bench_transcripts",
    )

    def as_run(instance, shards: int, cpu_threads: int, vad: str) -> None:
        config = {"device": "cpu", "shards": shards, "cpu_threads": cpu_threads, "vad": vad}
        result = dg.execute_job(
            job,
            instance,
            tags={"dagster/partition": partition},
            run_config={"resources": {"transcriber": {"config": config}}},
        )
        assert result.success

    rows = []
    with dg.instance_for_test() as instance:  # no pool limits: the executor runs two steps at once
        for copies in sorted(args.copies):
            _copy_day(warehouse, DEMO_DAY, copies)
            day = warehouse.query(
                "SELECT audio_path, duration_s FROM episodes WHERE partition_date = ? AND status = 'ok' "
                "AND transcript_path IS NULL",
                [DEMO_DAY],
            )
            audio_s = float(day["duration_s"].sum())
            size = f"{audio_s:.0f} s audio, {day.height} episodes"

            def raw(paths=tuple(day["audio_path"])) -> None:
                for path in paths:
                    raw_model.transcribe(
                        decode_16k_mono(Path(path)), batch_size=in_process.batch_size,
                        chunk_size=in_process.chunk_size_s, language=language,
                    )  # fmt: skip

            def runs_with(vad: str, shard_counts) -> list:
                """The per-episode run (2 threads) and a sharded run per count (1 thread per shard), with `vad`."""
                return [
                    (
                        f"per-episode asset as a run ({vad} VAD, multiprocess, shards=1, 2 threads)",
                        lambda: as_run(instance, 1, 0, vad),
                        "wer",
                    ),
                    *(
                        (
                            f"sharded asset as a run ({vad} VAD, multiprocess, shards={n}, 1 thread each)",
                            lambda n=n: as_run(instance, n, 1, vad),
                            "wer",
                        )
                        for n in shard_counts
                    ),
                ]

            ways = [
                ("raw whisperx, 1 process x 2 threads (pyannote VAD)", raw, None),
                (
                    IN_PROCESS_BASELINE,
                    lambda: dg.materialize(
                        [transcripts], partition_key=partition, resources={**resources, "transcriber": in_process}
                    ),
                    "wer",
                ),
                *runs_with("pyannote", args.shards if args.pyannote_shards else []),
                *runs_with("silero", args.shards),
            ]
            for name, run, wer in ways:
                _forget_transcripts(warehouse, DEMO_DAY)
                started = time.perf_counter()
                run()
                seconds = time.perf_counter() - started
                rows.append((size, name, seconds, _mean_wer(warehouse, DEMO_DAY, scripts) if wer else None))
                print(f"{size} | {name} | {seconds:.2f} s | WER {rows[-1][3]}", flush=True)

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}\n"
    )
    print("| day | way | wall (s) | vs per-episode asset in process | vs per-episode run | mean WER |")
    print("|---|---|---|---|---|---|")
    for size, name, seconds, wer in rows:
        same_day = {n: s for d, n, s, _ in rows if d == size}
        in_process_s = same_day[IN_PROCESS_BASELINE]
        run_s = same_day[RUN_BASELINE]
        wer_text = f"{wer:.3f}" if wer is not None else "n/a"
        print(
            f"| {size} | {name} | {seconds:.2f} | {in_process_s / seconds:.2f}x | {run_s / seconds:.2f}x | {wer_text} |"
        )


if __name__ == "__main__":
    main()
