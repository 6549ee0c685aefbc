"""Pure insight logic on tiny inputs: scoring, passages, clustering, ranking, rendering."""

import datetime as dt

import numpy as np
import pytest

from podcast_assets.core.clustering import cluster_ideas, ctfidf_labels, summarize_clusters
from podcast_assets.core.insights import extract_insights
from podcast_assets.core.ranking import Candidate, choose_brief
from podcast_assets.core.rendering import BriefDocument, BriefItem, clock, deep_link
from podcast_assets.core.scoring import ad_mask, score_passage
from podcast_assets.resources.embedder import EmbedderResource


def _segments(*texts: str) -> list[dict]:
    return [{"segment_index": i, "start_s": 10.0 * i, "end_s": 10.0 * i + 9, "text": t} for i, t in enumerate(texts)]


def test_scoring_keeps_claims_and_drops_ads_intros_and_filler():
    assert score_passage(
        "Recycling plants now recover more than ninety percent of the lithium in old packs."
    ).is_insight
    assert score_passage("This episode is brought to you by VoltBox, use promo code GRID.").kind == "ad"
    assert score_passage("Go to brightly.com slash signal for a special offer.").kind == "ad"
    assert score_passage("Welcome back to the Grid Report, I'm your host Sam.").kind == "intro_outro"
    assert score_passage("Yeah, right.").kind == "filler"
    assert ad_mask(
        ["Today's sponsor is CloudPilot.", "Get your first month free today.", "Batteries got cheaper."]
    ) == [True, True, False]


def test_extraction_keeps_timestamps_and_never_glues_an_insight_to_an_outro():
    extraction = extract_insights(
        "ep",
        _segments(
            "Welcome to the show, I'm your host. So sodium ion cells became twenty percent cheaper than lithium cells "
            "this year, because sodium is abundant.",
            "That's all for today. Thanks for listening.",
        ),
    )
    assert [i.text for i in extraction.insights] == [
        "So sodium ion cells became twenty percent cheaper than lithium cells this year, because sodium is abundant."
    ]
    insight = extraction.insights[0]
    assert 0.0 < insight.start_s < insight.end_s <= 9.0
    assert extraction.rejected["intro_outro"] >= 2


def test_a_transcript_with_no_usable_sentence_gives_no_insight_and_says_why():
    extraction = extract_insights("ep", _segments("Um.", "Yeah, okay.", "Thanks for listening, subscribe!", ""))
    assert extraction.insights == []
    assert sum(extraction.rejected.values()) >= 3


@pytest.fixture(scope="module")
def embedder() -> EmbedderResource:
    return EmbedderResource(device="cpu")


TEXTS = [
    "Sodium ion battery cells became about twenty percent cheaper than lithium iron phosphate cells this year.",
    "New pricing data shows sodium ion cells are now roughly a fifth cheaper than lithium iron phosphate cells.",
    "Recycling plants now recover more than ninety percent of the lithium and cobalt from old car batteries.",
    "Caffeine has a half life of about five hours, so an afternoon coffee still keeps you awake at night.",
]


def test_clusters_are_one_idea_not_one_topic(embedder):
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (4, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    labels = cluster_ideas(vectors)
    assert labels[0] == labels[1]  # two shows, one finding
    assert len({labels[0], labels[2], labels[3]}) == 3  # same topic, different findings stay apart
    names = ctfidf_labels(TEXTS, labels)
    assert {"sodium", "cheaper"} & set(names[int(labels[0])].replace(",", " ").split())
    assert "caffeine" in names[int(labels[3])] or "half" in names[int(labels[3])]
    summaries = summarize_clusters(
        vectors,
        labels,
        TEXTS,
        ["e1", "e2", "e3", "e4"],
        ["s1", "s2", "s1", "s3"],
        [0.8] * 4,
        vectors[:1],
        np.array([1.0]),
    )
    by_label = {s.cluster_index: s for s in summaries}
    assert by_label[int(labels[0])].n_shows == 2 and by_label[int(labels[0])].trend == "rising"
    assert by_label[int(labels[3])].trend == "new"
    assert by_label[int(labels[0])].salience > by_label[int(labels[3])].salience


def test_choose_brief_no_padding_one_per_cluster_related_from_other_episodes(embedder):
    vectors = embedder.encode(TEXTS)
    candidates = [
        Candidate("a", "ep1", "show1", "c1", 0.8, 0.9),
        Candidate("b", "ep2", "show2", "c1", 0.8, 0.9),
        Candidate("c", "ep1", "show1", "c2", 0.6, 0.3),
        Candidate("d", "ep3", "show3", "c3", 0.9, 0.3),
    ]
    picks = choose_brief(candidates, vectors, embedder.encode(["battery chemistry", "energy storage"]))
    assert [p.insight_id for p in picks][:1] in (["a"], ["b"])
    assert {p.insight_id for p in picks} & {"a", "b"} != {"a", "b"}  # one per cluster
    assert "d" not in {p.insight_id for p in picks}  # caffeine is not battery chemistry: no padding
    first = picks[0]
    own_episode = {c.insight_id: c.episode_id for c in candidates}
    assert first.related_insight_ids and first.related_insight_ids[0] in {"a", "b"} - {first.insight_id}
    assert all(own_episode[r] != own_episode[first.insight_id] for p in picks for r in p.related_insight_ids)
    assert choose_brief(candidates, vectors, embedder.encode(["medieval pottery glazes"])) == []


def test_rendering_has_timestamps_and_deep_links():
    assert clock(83) == "1:23" and clock(3723) == "1:02:03"
    assert deep_link("https://x/a.mp3", "https://x/page", 83.9) == "https://x/a.mp3#t=83"
    assert deep_link(None, "https://x/page", 5) == "https://x/page"
    item = BriefItem(
        "Sodium cells got <cheaper>.",
        "Grid",
        "Ep 1",
        83,
        "https://x/a.mp3#t=83",
        [BriefItem("Related one.", "Signal", "Ep 9", 5, None)],
    )
    rendered = BriefDocument("Ada", dt.date(2026, 11, 24), "batteries", [item]).render()
    assert "**Sodium cells got <cheaper>.**" in rendered["md"] and "at 1:23" in rendered["md"]
    assert "&lt;cheaper&gt;" in rendered["html"] and 'href="https://x/a.mp3#t=83"' in rendered["html"]
    assert "Related: Related one. (Signal, at 0:05)" in rendered["txt"]
