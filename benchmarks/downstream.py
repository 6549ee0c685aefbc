"""The day after the models, at scale: `briefs` (ranking + rendering) and `brief_deliveries` (SMTP) for synthetic data.

    python -m benchmarks.downstream [--subscribers 100000] [--insights 10000] [--senders 8]

No ASR: a day of `--insights` synthetic insights (template sentences about 400 topics, embedded with the packaged
MiniLM before timing, clustered by topic) and `--subscribers` confirmed subscribers with 1-5 interests each (5% of
them restricted to a few feeds). Timed: the real `briefs` asset (interest embeddings, ranking, rendering, writing
the day's rows and files) and the real `brief_deliveries` asset sending every brief to a local aiosmtpd sink (a
separate process) with `--senders` parallel connections. Peak RSS: this process's (the step's), and the largest
finished child's (a `briefs` worker process: chunks of subscribers are ranked and rendered in one per core).
`briefs` runs twice: with the interest-embedding cache empty (a first day) and filled (a later day).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TOPICS_A = (
    "battery", "solar", "grid", "sleep", "transit", "housing", "soil", "ocean", "vaccine", "chip", "wheat", "coffee",
    "bicycle", "wildfire", "drought", "insurance", "tariff", "pension", "rental", "nuclear",
)  # fmt: skip
TOPICS_B = (
    "recycling", "policy", "costs", "research", "safety", "supply chains", "startups", "regulation", "jobs",
    "exports", "prices", "adoption", "storage", "subsidies", "demand", "emissions", "labor", "funding", "imports",
    "trials",
)  # fmt: skip
TEMPLATES = (
    "New figures show {topic} rose by {n} percent last year, faster than most analysts expected.",
    "The surprising finding on {topic}: {n} out of 100 projects never recover their upfront cost.",
    "Contrary to the usual story, {topic} got {n} percent cheaper once cities stopped subsidising it.",
    "A study of {n} regions found that {topic} matters more than interest rates for household budgets.",
    "Experts now think {topic} could cut emissions by {n} percent within a decade if rules stay stable.",
)
DAY = dt.date(2026, 11, 24)


def topics() -> list[str]:
    return [f"{a} {b}" for a in TOPICS_A for b in TOPICS_B]


def synthetic_day(warehouse, n_insights: int, embed, cache: bool = True) -> None:
    """Episodes, insights, embeddings, clusters and summaries of DAY in the warehouse. `cache`: keep the insight
    vectors in the temp folder for the next benchmark run."""
    import numpy as np
    import polars as pl

    from podcast_assets.assets.insights import _embeddings_table_sql

    rng = random.Random(13)
    all_topics = topics()
    n_episodes = max(n_insights // 10, 1)
    episodes = pl.DataFrame(
        {
            "partition_date": [DAY] * n_episodes,
            "episode_id": [f"ep{e}" for e in range(n_episodes)],
            "feed_url": [f"https://feeds.example.com/{e % 200}.xml" for e in range(n_episodes)],
            "show_title": [f"Show {e % 200}" for e in range(n_episodes)],
            "title": [f"Episode {e}" for e in range(n_episodes)],
            "link": [f"https://shows.example.com/{e}" for e in range(n_episodes)],
            "audio_url": [f"https://media.example.com/{e}.mp3" for e in range(n_episodes)],
            "status": ["ok"] * n_episodes,
        }
    )
    rows = []
    for i in range(n_insights):
        topic_index = rng.randrange(len(all_topics))
        template = rng.randrange(len(TEMPLATES))
        text = TEMPLATES[template].format(topic=all_topics[topic_index], n=rng.randrange(3, 97))
        rows.append((f"in{i:06d}", f"ep{i % n_episodes}", text, f"c{topic_index}-{template}"))
    insights = pl.DataFrame(
        {
            "partition_date": [DAY] * n_insights,
            "insight_id": [r[0] for r in rows],
            "episode_id": [r[1] for r in rows],
            "start_s": [float(rng.randrange(0, 3000)) for _ in rows],
            "end_s": [3010.0] * n_insights,
            "text": [r[2] for r in rows],
            "score": [round(rng.uniform(0.35, 1.0), 3) for _ in rows],
        }
    )
    texts = [r[2] for r in rows]
    cache_path = Path(tempfile.gettempdir()) / f"podcast-brief-bench-insights-{n_insights}.npy"
    vectors = np.load(cache_path) if cache and cache_path.exists() else embed(texts)
    if cache:
        np.save(cache_path, vectors)
    clusters = pl.DataFrame(
        {"partition_date": [DAY] * n_insights, "insight_id": insights["insight_id"], "cluster_id": [r[3] for r in rows]}
    )
    cluster_ids = sorted(set(clusters["cluster_id"]))
    summaries = pl.DataFrame(
        {
            "partition_date": [DAY] * len(cluster_ids),
            "cluster_id": cluster_ids,
            "label": cluster_ids,
            "salience": [round(rng.random(), 3) for _ in cluster_ids],
        }
    )
    warehouse.create_table(_embeddings_table_sql(vectors.shape[1]))
    embeddings = pl.DataFrame(
        {
            "partition_date": [DAY] * n_insights,
            "insight_id": insights["insight_id"],
            "embedding": np.asarray(vectors, dtype=np.float32),
            "model": ["all-MiniLM-L6-v2"] * n_insights,
        }
    )
    for table, frame in (
        ("episodes", episodes),
        ("insights", insights),
        ("insight_embeddings", embeddings),
        ("insight_clusters", clusters),
        ("cluster_summaries", summaries),
    ):
        warehouse.replace_partition(table, DAY, frame)


def synthetic_subscribers(catalog, n: int) -> None:
    """`n` confirmed subscribers with 1-5 interests each, inserted in batches."""
    from podcast_assets.catalog.registry import utc_now
    from podcast_assets.catalog.tables import subscribers
    from podcast_assets.core.subscribers import subscriber_id_for

    rng = random.Random(7)
    all_topics = topics()
    now = utc_now()
    batch = []
    for s in range(n):
        email = f"reader{s}@example.com"
        feeds = [f"https://feeds.example.com/{rng.randrange(200)}.xml" for _ in range(3)] if s % 20 == 0 else None
        batch.append(
            {
                "subscriber_id": subscriber_id_for(email),
                "email": email,
                "name": f"Reader {s}",
                "interests": ", ".join(rng.sample(all_topics, rng.randint(1, 5))),
                "feeds": feeds,
                "created_at": now,
                "confirmed_at": now,
                "active": True,
                "paused": False,
            }
        )
        if len(batch) == 10_000 or s == n - 1:
            with catalog.begin() as connection:
                connection.execute(subscribers.insert(), batch)
            batch = []


def fill_interest_cache(warehouse, catalog, embedder) -> None:
    """What a first day does before ranking: every distinct interest phrase embedded into the cache."""
    from podcast_assets.assets.interest_vectors import cached_phrase_vectors
    from podcast_assets.catalog.registry import receiving_subscribers
    from podcast_assets.core.subscribers import interest_phrases

    phrases = {p for s in receiving_subscribers(catalog) for p in interest_phrases(s["interests"])}
    cached_phrase_vectors(warehouse, embedder, sorted(phrases))


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_child_rss_mib() -> float:
    """The largest finished child process so far: the `briefs` worker processes (the SMTP sink still runs)."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--insights", type=int, default=10_000)
    parser.add_argument("--senders", type=int, default=8, help="parallel SMTP connections (mailer.max_senders)")
    parser.add_argument(
        "--skip-cold", action="store_true", help="fill the interest cache in the setup; time only a later day"
    )
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="podcast-brief-bench-downstream-"))
    os.environ["PODCAST_BRIEF_HOME"] = str(home)

    import dagster as dg

    from podcast_assets.assets.briefs import brief_deliveries, briefs
    from podcast_assets.catalog import CatalogResource
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.mailer import MailerResource
    from podcast_assets.resources.transcriber import TranscriberResource
    from podcast_assets.resources.warehouse import WarehouseResource
    from podcast_assets_tests.conftest import free_port

    warehouse, catalog, embedder = WarehouseResource(), CatalogResource(), EmbedderResource(device="cpu")
    started = time.perf_counter()
    synthetic_day(warehouse, args.insights, embedder.encode)
    synthetic_subscribers(catalog, args.subscribers)
    if args.skip_cold:
        fill_interest_cache(warehouse, catalog, embedder)
    setup_s = time.perf_counter() - started
    print(f"setup (not timed): {args.insights} insights embedded, {args.subscribers} subscribers in {setup_s:.0f} s")

    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows = []
    try:
        time.sleep(2.0)  # the sink listening
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=port, max_senders=args.senders)
        resources = {
            "warehouse": warehouse,
            "catalog": catalog,
            "embedder": embedder,
            "mailer": mailer,
            "transcriber": TranscriberResource(),  # the second pass is off: nothing is transcribed
        }
        partition = DAY.isoformat()
        # briefs twice: the first run embeds every distinct interest text (the cache is empty: the first day), the
        # second finds them cached (every later day, but for new or changed subscribers).
        stages = [("briefs", briefs), ("brief_deliveries", brief_deliveries)]
        if not args.skip_cold:
            stages.insert(0, ("briefs, interest cache empty", briefs))
        for name, asset in stages:
            cpu_before = time.process_time()
            started = time.perf_counter()
            result = dg.materialize([asset], partition_key=partition, resources=resources)
            wall_s = time.perf_counter() - started
            assert result.success
            metadata = result.asset_materializations_for_node(asset.key.path[-1])[0].metadata
            counts = {k: v.value for k, v in metadata.items() if k in ("briefs_written", "deliveries_sent")}
            rows.append((name, wall_s, time.process_time() - cpu_before, counts, peak_rss_mib(), peak_child_rss_mib()))
            print(f"{name}: {wall_s:.1f} s {counts}", flush=True)
    finally:
        sink.terminate()
        sink.wait(timeout=30)
        shutil.rmtree(home, ignore_errors=True)  # ~9 GB at 100,000 subscribers (files, warehouse, catalog)

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d}; {args.insights} insights, {args.subscribers} subscribers, "
        f"{args.senders} SMTP senders\n"
    )
    print(
        "| stage | wall (s) | CPU s of the step process | per 1,000 subscribers (s) | result | peak RSS, step process "
        "(MiB) | peak RSS, a worker process (MiB) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, wall_s, cpu_s, counts, rss, child_rss in rows:
        per_k = wall_s / args.subscribers * 1000
        print(f"| {name} | {wall_s:.1f} | {cpu_s:.1f} | {per_k:.2f} | {counts} | {rss:.0f} | {child_rss:.0f} |")
    total = sum(r[1] for r in rows if r[0] in ("briefs", "brief_deliveries"))
    per_k = total / args.subscribers * 1000
    print(f"| briefs (cached interests) + delivery | {total:.1f} | | {per_k:.2f} | | | |")


if __name__ == "__main__":
    main()
