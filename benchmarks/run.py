"""Stage benchmarks, each against the raw engine on the same input in the same process.

    python -m benchmarks.run [--repeat-insights 40]

1. transcription: the `transcripts` asset (Dagster materialization incl. warehouse I/O) vs plain whisperx
   (`whisperx.load_model` + `transcribe`) on the demo day's 8 episodes, same model, batch size, threads, chunking.
2. embeddings: the `insight_embeddings` asset vs plain `SentenceTransformer.encode` on the same insight texts and
   contexts (the transcript 30 s either side of each insight).
3. clustering: insights per second through `cluster_ideas` + `summarize_clusters`.
Prints a Markdown table; BENCHMARKS.md records a run.
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
import numpy as np
import polars as pl


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat-insights", type=int, default=40, help="copies of the day's insights to embed")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="podcast-brief-bench-"))
    os.environ["PODCAST_BRIEF_HOME"] = str(home)
    os.environ.pop("PODCAST_BRIEF_SMTP_HOST", None)
    os.environ.setdefault("PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS", "127.0.0.1")  # the demo network is served locally

    from podcast_assets.assets.episodes import episodes
    from podcast_assets.assets.insight_embeddings import insight_embeddings
    from podcast_assets.assets.insights import insights
    from podcast_assets.assets.transcripts import transcripts
    from podcast_assets.catalog import CatalogResource
    from podcast_assets.core.audio import decode_16k_mono
    from podcast_assets.core.clustering import cluster_ideas, summarize_clusters
    from podcast_assets.demo.run import register_demo
    from podcast_assets.evaluation.demo_network import DEMO_DAY
    from podcast_assets.evaluation.server import SiteServer
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.headlines import HeadlineWriterResource
    from podcast_assets.resources.http_client import HttpClientResource
    from podcast_assets.resources.media_store import MediaStoreResource
    from podcast_assets.resources.transcriber import TranscriberResource, packaged_model_dir
    from podcast_assets.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource()
    transcriber = TranscriberResource(device="cpu")
    embedder = EmbedderResource(device="cpu")
    threads = os.cpu_count() or 1
    resources = {
        "warehouse": warehouse,
        "catalog": CatalogResource(),
        "http": HttpClientResource(),
        "media": MediaStoreResource(),
        "transcriber": transcriber,
        "embedder": embedder,
        "headline_writer": HeadlineWriterResource(),
    }
    partition = DEMO_DAY.isoformat()
    rows = []

    with SiteServer() as site:
        register_demo(CatalogResource(), site)
        assert dg.materialize([episodes], partition_key=partition, resources=resources).success
    day_episodes = warehouse.query(
        "SELECT audio_path, duration_s FROM episodes WHERE status = 'ok' AND transcript_path IS NULL"
    )
    # The publisher-transcript episode is not ASR'd by the asset; keep the inputs identical.
    audio_s = float(day_episodes["duration_s"].sum())

    import whisperx

    # Models load before timing on both sides (the asset's transcriber caches its pipeline per process).
    model_dir, language = packaged_model_dir("tiny.en")
    model = whisperx.load_model(
        str(model_dir),
        "cpu",
        compute_type="int8",
        language=language,
        vad_method="pyannote",
        local_files_only=True,
        threads=threads,
    )
    transcriber.load()

    def plain_whisperx():
        for path in day_episodes["audio_path"]:
            model.transcribe(
                decode_16k_mono(Path(path)),
                batch_size=transcriber.batch_size,
                chunk_size=transcriber.chunk_size_s,
                language=language,
            )

    plain_s, _ = _timed(plain_whisperx)
    asset_s, result = _timed(lambda: dg.materialize([transcripts], partition_key=partition, resources=resources))
    assert result.success
    rows.append(
        (
            "transcription (tiny.en, int8, batch 8, 15 s chunks)",
            f"{audio_s:.0f} s audio, {day_episodes.height} episodes",
            plain_s,
            asset_s,
            f"{audio_s / asset_s:.1f}x real time",
        )
    )

    assert dg.materialize([insights], partition_key=partition, resources=resources).success
    day_insights = warehouse.query("SELECT * FROM insights WHERE partition_date = ?", [DEMO_DAY])
    copies = [
        day_insights.with_columns(pl.col("insight_id") + f"-{i}", pl.col("text") + f" ({i})")
        for i in range(args.repeat_insights)
    ]
    many = pl.concat(copies)
    warehouse.replace_partition("insights", DEMO_DAY, many)
    # The asset embeds each insight and the talk around it (its context): the raw side encodes the same texts.
    from podcast_assets.assets.insights import CONTEXT_WINDOW_S, INSIGHT_CONTEXT_SQL

    inputs = warehouse.query(INSIGHT_CONTEXT_SQL, [CONTEXT_WINDOW_S, CONTEXT_WINDOW_S, DEMO_DAY])
    texts, contexts = inputs["text"].to_list(), inputs["context"].to_list()
    embedder.load()  # both sides start with the model in memory

    def plain_encode():
        return [
            embedder.load().encode(
                batch,
                batch_size=embedder.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            for batch in (texts, contexts)
        ][0]

    plain_s, vectors = _timed(plain_encode)
    asset_s, result = _timed(lambda: dg.materialize([insight_embeddings], partition_key=partition, resources=resources))
    assert result.success
    rows.append(
        (
            "embeddings (MiniLM fp32, batch 64)",
            f"{len(texts)} insights + their 30 s contexts",
            plain_s,
            asset_s,
            f"{len(texts) / asset_s:.0f} insights/s",
        )
    )

    n = len(vectors)
    episode_ids = [str(i % 8) for i in range(n)]

    def raw_clustering() -> np.ndarray:  # the engine alone: sklearn on cosine, no idea similarity, no labels
        from sklearn.cluster import AgglomerativeClustering

        model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average", distance_threshold=0.4)
        return model.fit_predict(np.asarray(vectors))

    raw_cluster_s, _ = _timed(raw_clustering)
    labels_s, labels = _timed(lambda: cluster_ideas(np.asarray(vectors), texts, episode_ids))
    summary_s, _ = _timed(
        lambda: summarize_clusters(
            np.asarray(vectors),
            labels,
            texts,
            episode_ids,
            [str(i % 4) for i in range(n)],
            [0.5] * n,
            np.zeros((0, 0)),
            np.zeros(0),
        )
    )
    rows.append(
        (
            "clustering (idea similarity + agglomerative + labels)",
            f"{n} insights",
            raw_cluster_s,
            labels_s + summary_s,
            f"{n / (labels_s + summary_s):.0f} insights/s",
        )
    )

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}\n"
    )
    print("| stage | input | raw engine (s) | asset (s) | asset / raw | throughput |")
    print("|---|---|---|---|---|---|")
    for stage, size, raw, asset, throughput in rows:
        ratio = f"{asset / raw:.2f}" if raw else "n/a"
        print(
            f"| {stage} | {size} | {raw:.2f} | {asset:.2f} | {ratio} | {throughput} |"
            if raw
            else f"| {stage} | {size} | n/a | {asset:.2f} | n/a | {throughput} |"
        )


if __name__ == "__main__":
    main()
