"""`podcast-brief eval NETWORK_DIR`: serve a labeled network on 127.0.0.1, run its day, score the output.

The run is the real daily job (the same one the schedule launches) in a throwaway home folder, so the numbers
describe what a subscriber would have received. Results: a summary table on stdout, JSON with `--json`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV
from podcast_assets.evaluation.metrics import Report, score_day
from podcast_assets.evaluation.network import Network, load_network
from podcast_assets.settings import HOME_ENV, environment

if TYPE_CHECKING:
    from podcast_assets.catalog import CatalogResource


def _slug_of(url: str | None) -> str | None:
    """Demo/eval feeds name each enclosure /media/<slug>.mp3."""
    if not url:
        return None
    name = url.rsplit("/", 1)[-1]
    return name.removesuffix(".mp3")


def collect(network: Network, day: dt.date) -> Report:
    """Score what the warehouse in the current home folder holds for `day`."""
    from podcast_assets.resources.warehouse import WarehouseResource

    warehouse = WarehouseResource()
    episodes = warehouse.query("SELECT episode_id, audio_url FROM episodes WHERE partition_date = ?", [day])
    slug_of_episode = {row["episode_id"]: _slug_of(row["audio_url"]) for row in episodes.to_dicts()}
    insights = warehouse.query(
        "SELECT insight_id, episode_id, start_s, end_s, text FROM insights WHERE partition_date = ?", [day]
    ).to_dicts()
    clusters = dict(
        warehouse.query("SELECT insight_id, cluster_id FROM insight_clusters WHERE partition_date = ?", [day]).rows()
    )
    picks = warehouse.query(
        """SELECT s.email, b.rank, b.insight_id, b.related_insight_ids, b.also_on_insight_ids
           FROM briefs b JOIN subscribers s USING (subscriber_id) 
           WHERE b.partition_date = ? ORDER BY s.email, b.rank""",
        [day],
    ).to_dicts()
    transcripts = dict(
        warehouse.query(
            """SELECT episode_id, string_agg(text, ' ' ORDER BY segment_index) FROM transcripts
               WHERE partition_date = ? AND source = 'asr' GROUP BY episode_id""",
            [day],
        ).rows()
    )
    second_pass = warehouse.query(
        """SELECT insight_id, text, audio_s, wall_s FROM shown_passages
           WHERE partition_date = ? AND status = 'second_pass'""",
        [day],
    )
    shown = dict(second_pass.select("insight_id", "text").iter_rows())
    report = score_day(network, slug_of_episode, insights, clusters, picks, transcripts, shown)
    report.second_pass_audio_s = float(second_pass["audio_s"].sum() or 0.0)
    report.second_pass_wall_s = float(second_pass["wall_s"].sum() or 0.0)
    asr = warehouse.query(
        """SELECT coalesce(sum(audio_s), 0), coalesce(sum(wall_s), 0) FROM transcript_status
           WHERE partition_date = ? AND source = 'asr' AND status = 'ok'""",
        [day],
    ).rows()[0]
    report.asr_audio_s, report.asr_wall_s = float(asr[0]), float(asr[1])
    report.baseline_precision = cosine_baseline_precision(network, day, slug_of_episode)
    return report


def cosine_baseline_precision(network: Network, day: dt.date, slug_of_episode: dict[str, str]) -> float:
    """The plain baseline: each themed subscriber's 5 transcript sentences nearest their interests (MiniLM cosine),
    scored like the briefs. What the insight stages must beat."""
    from podcast_assets.core.segmenting import timed_sentences
    from podcast_assets.core.subscribers import parse_interests
    from podcast_assets.evaluation.metrics import label_of, labeled_spans
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.warehouse import WarehouseResource

    segments = WarehouseResource().query(
        "SELECT * FROM transcripts WHERE partition_date = ? ORDER BY episode_id, segment_index", [day]
    )
    sentences = []
    for (episode_id,), rows in segments.group_by("episode_id", maintain_order=True):
        sentences += timed_sentences(episode_id, rows.to_dicts())
    themed = [s for s in network.subscribers if s.theme]
    if not sentences or not themed:
        return 0.0
    embedder = EmbedderResource()
    vectors = embedder.encode([s.text for s in sentences])
    turns = labeled_spans(network)
    scripts = {e.slug: [t.text for t in e.turns] for _, e in network.episodes()}
    hits = total = 0
    for subscriber in themed:
        relevance = (vectors @ embedder.encode(parse_interests(subscriber.interests)).T).max(axis=1)
        for index in relevance.argsort()[::-1][:5]:
            sentence = sentences[index]
            slug = slug_of_episode.get(sentence.episode_id)
            label = label_of(turns.get(slug, []), sentence.start_s, sentence.end_s, sentence.text, scripts.get(slug))
            hits += bool(label and label.kind == "insight" and label.theme == subscriber.theme)
            total += 1
    return round(hits / total, 3)


def _served_port(catalog: CatalogResource) -> int:
    """The port a kept home's network was served on before (0: a new home). A re-run must serve the same feed URLs,
    or the day would hold every episode twice (the earlier feeds' rows are kept, as for any feed not polled)."""
    from podcast_assets.catalog.registry import list_feeds

    ports = {urlsplit(url).port for url in list_feeds(catalog)["feed_url"].to_list()}
    if len(ports) > 1:
        raise RuntimeError(
            f"this home holds feeds served on {len(ports)} different ports (runs before the port was kept): "
            "its day mixes copies of the network; use a new --home"
        )
    return ports.pop() if ports else 0


def run_network_day(network: Network, transcriber: dict | None = None) -> bool:
    """Serve `network`, register it in the current home folder and run its day through the daily job (in a home
    kept from an earlier run, on that run's port)."""
    import dagster as dg

    from podcast_assets.catalog import CatalogResource
    from podcast_assets.catalog.registry import add_feed, add_subscriber
    from podcast_assets.daily_runs.runner import run_day
    from podcast_assets.evaluation.feeds import publish_network
    from podcast_assets.evaluation.server import SiteServer

    catalog = CatalogResource()
    port = _served_port(catalog)
    try:
        server = SiteServer(port)
    except OSError as error:
        raise RuntimeError(
            f"this home's network was served on 127.0.0.1:{port}, in use now ({error}); a re-run must serve the "
            "same feed URLs: free the port or use a new --home"
        ) from error
    with server:
        for show, url in zip(network.shows, publish_network(server, network), strict=True):
            add_feed(catalog, url, show.title)
        for subscriber in network.subscribers:
            add_subscriber(catalog, subscriber.email, subscriber.interests, subscriber.name or None)
        with dg.DagsterInstance.ephemeral() as instance:
            result = run_day(
                network.day,
                instance,
                resource_config={"transcriber": transcriber or {}},
            )
    return result.success


def evaluate(
    folder: str | Path, home: Path | None = None, transcriber: dict | None = None, voices: str = "espeak"
) -> Report:
    """Run `folder`'s day in `home` (default: a temporary folder) and score it. `transcriber`: resource settings
    for this run, e.g. {"model": "base", "feed_prompt": False}; `voices`: which rendering of the network's audio
    is served (`espeak` or `neural`)."""
    network = load_network(folder, voices)
    allowed = os.environ.get(ALLOW_PRIVATE_HOSTS_ENV, "")
    with tempfile.TemporaryDirectory(prefix=f"eval-{network.name}-") as scratch:
        settings = {
            HOME_ENV: str(home or scratch),
            "PODCAST_BRIEF_SMTP_HOST": None,  # briefs go to the outbox, never to real addresses
            ALLOW_PRIVATE_HOSTS_ENV: ",".join(filter(None, [allowed, "127.0.0.1"])),  # the network is served here
        }
        with environment(settings):
            if not run_network_day(network, transcriber):
                raise RuntimeError(f"the daily run of {network.name} failed; see the log above")
            return collect(network, network.day)


def format_report(report: Report) -> str:
    lines = [f"{key:34} {value}" for key, value in report.summary().items()]
    return "\n".join(lines + ["", *report.details])


def main(
    folder: str,
    home: str | None,
    model: str,
    json_path: str | None,
    feed_prompt: bool = True,
    voices: str = "espeak",
    second_pass: str = "off",
) -> int:
    transcriber = {"model": model, "feed_prompt": feed_prompt, "second_pass_model": second_pass}
    report = evaluate(folder, Path(home) if home else None, transcriber, voices)
    print(format_report(report))
    if json_path:
        Path(json_path).write_text(json.dumps({**report.summary(), "details": report.details}, indent=1) + "\n")
    return 0
