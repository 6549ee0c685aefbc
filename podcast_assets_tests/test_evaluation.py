"""The evaluation harness: labeled networks load and validate, labels match passages by time and words, and
`podcast-brief eval` runs a real day (HTTP feeds, whisperx, MiniLM, DuckDB, Dagster) and scores it."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from podcast_assets.evaluation.build_media import build, cast
from podcast_assets.evaluation.metrics import LabeledSpan, label_of
from podcast_assets.evaluation.network import VOICE_CONDITIONS, NetworkError, demo_network, load_network

NETWORKS = Path(__file__).resolve().parents[1] / "podcast_assets" / "evaluation" / "networks"


def _shipped_renderings() -> list:
    """Every shipped network with its espeak-ng audio, and with its neural audio where that was rendered."""
    folders = sorted(p for p in NETWORKS.iterdir() if p.is_dir())
    neural = [load_network(p, "neural") for p in folders if (p / VOICE_CONDITIONS["neural"]).is_dir()]
    return [demo_network(), *(load_network(p) for p in folders), *neural]


def test_every_shipped_network_loads_with_media_and_paraphrase_pairs():
    for network in _shipped_renderings():
        spans = network.spans()
        for _, episode in network.episodes():
            assert len(spans[episode.slug]) == len(episode.turns), episode.slug
            assert (network.media_dir / f"{episode.slug}.mp3").stat().st_size > 10_000
        assert len(network.paraphrase_pairs()) >= 3, network.name
        assert {s.theme for s in network.subscribers} - {None}, network.name


def test_a_broken_network_file_says_what_is_wrong(tmp_path):
    with pytest.raises(NetworkError, match="network.yaml not found"):
        load_network(tmp_path)
    (tmp_path / "network.yaml").write_text(
        "name: x\nday: 2026-11-24\nshows:\n- slug: s\n  title: S\n  episodes:\n  - slug: e\n    title: E\n"
        "    published_at: 2026-11-24T08:00:00Z\n    turns:\n    - {kind: insight, text: A claim.}\n"
    )
    with pytest.raises(NetworkError, match="needs `theme` and `idea`"):
        load_network(tmp_path)


TWO_SHOWS = """\
name: tiny
day: 2026-11-24
voices: {host: en-us, guest: en-gb, producer: en-us+m2}
shows:
- slug: one
  title: One
  episodes:
  - slug: one-1
    title: First
    published_at: 2026-11-24T08:00:00Z
    turns:
    - {kind: intro, speaker: host, text: "Welcome to the show."}
    - {kind: insight, speaker: guest, theme: t, idea: i, text: "Heat ages cells twice as fast above forty degrees."}
- slug: two
  title: Two
  episodes:
  - slug: two-1
    title: Second
    published_at: 2026-11-24T09:00:00Z
    turns:
    - {kind: insight, speaker: host, theme: t, idea: j, text: "Cool batteries last longer."}
    - {kind: filler, speaker: guest, text: "Right."}
    - {kind: filler, speaker: producer, text: "Totally."}
"""


def test_a_network_is_rendered_with_its_voices_and_every_turn_timed(tmp_path):
    import av

    (tmp_path / "network.yaml").write_text(TWO_SHOWS)
    network = load_network(tmp_path, "espeak")
    build(network, "espeak")
    spans = network.spans()
    for _, episode in network.episodes():
        turns = spans[episode.slug]
        assert len(turns) == len(episode.turns)
        assert all(
            a["end_s"] + network.pause_s == pytest.approx(b["start_s"], abs=0.01) for a, b in itertools.pairwise(turns)
        )
        with av.open(str(network.media_dir / f"{episode.slug}.mp3")) as container:
            seconds = float(container.duration) / 1_000_000
        assert seconds == pytest.approx(turns[-1]["end_s"] + network.pause_s, abs=0.2)
    assert not list(network.media_dir.glob("*.partial*"))
    # Neural voices: a different pair per show, and a show's third speaker gets a voice of its own.
    voices = cast(load_network(tmp_path, "neural"), "neural")
    assert voices[("one", "host")] != voices[("two", "host")] or voices[("one", "guest")] != voices[("two", "guest")]
    assert len({voices[("two", s)] for s in ("host", "guest", "producer")}) == 3
    assert load_network(tmp_path, "neural").media_dir == tmp_path / "media-neural"


def test_labels_follow_the_words_when_times_drift_across_a_turn_boundary():
    turns = [
        LabeledSpan("ep", 0, "question", None, None, 0.0, 5.0),
        LabeledSpan("ep", 1, "insight", "t", "i", 5.6, 12.0),
    ]
    scripts = ["So what did the reserve do for the catch?", "Catch rose by a third next to the reserve."]
    # Timed mostly inside the question's span, but its words are the insight's.
    assert label_of(turns, 3.0, 6.0, "catch rose by a third next to the reserve", scripts).kind == "insight"
    assert label_of(turns, 3.0, 6.0).kind == "question"  # by time alone
    assert label_of(turns, 30.0, 31.0) is None


def test_podcast_brief_eval_runs_a_network_day_and_reports_its_quality(tmp_path):
    """The CLI on the dockside network (a tuning network): a real day through the daily job; run again in the same
    kept home, it serves the same feed URLs, so the day holds each episode once and the figures do not move."""
    env = {**os.environ, "PODCAST_BRIEF_HOME": str(tmp_path / "unused-home")}
    home = tmp_path / "eval-home"

    def evaluate(out: Path) -> dict:
        completed = subprocess.run(
            [sys.executable, "-m", "podcast_assets.commands.cli", "eval", str(NETWORKS / "dockside")]
            + ["--home", str(home), "--json", str(out)],
            capture_output=True,
            text=True,
            env=env,
            timeout=900,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        assert "brief_precision" in completed.stdout
        return json.loads(out.read_text())

    report = evaluate(tmp_path / "dockside.json")
    assert report["network"] == "dockside" and report["brief_picks"] >= 10
    assert report["brief_precision"] >= 0.85 and report["off_topic_picks"] == 0
    clustered, pairs = map(int, report["paraphrase_pairs_clustered"].split("/"))
    assert pairs == 3 and clustered >= 2
    assert 0.0 < report["mean_wer"] < 0.3 and report["asr_real_time_factor"] > 1
    assert not (tmp_path / "unused-home").exists()  # the evaluation never touches the operator's home

    again = evaluate(tmp_path / "dockside-again.json")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as warehouse:
        feeds, episodes, audio = warehouse.execute(
            "SELECT count(DISTINCT feed_url), count(*), count(DISTINCT audio_url) FROM episodes"
        ).fetchone()
    day_episodes = sum(1 for _, episode in load_network(NETWORKS / "dockside").episodes())
    assert feeds == len(load_network(NETWORKS / "dockside").shows) and episodes == audio <= day_episodes
    for figure in ("brief_picks", "brief_precision", "paraphrase_pairs_clustered", "mean_wer"):
        assert again[figure] == report[figure], figure
