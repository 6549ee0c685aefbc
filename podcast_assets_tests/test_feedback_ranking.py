""" "More/less like this" reshapes the next brief: the Rocchio update of a subscriber's interest vectors
(core/feedback.py) on real MiniLM embeddings, through the real ranking (core/ranking.py)."""

from __future__ import annotations

import numpy as np
import pytest

from podcast_assets.core.background import BACKGROUND_SENTENCES
from podcast_assets.core.clustering import idea_features
from podcast_assets.core.feedback import Verdict, adjust_interests, profile_shift
from podcast_assets.core.ranking import Candidate, choose_brief
from podcast_assets.core.subscribers import interest_phrases
from podcast_assets.resources.embedder import EmbedderResource

INTERESTS = "battery technology, the electricity grid"  # as typed on the sign-up form
BATTERIES = [
    "Lithium iron phosphate battery cells now last over six thousand charge cycles in grid storage.",
    "Sodium-ion batteries cost about a third less per kilowatt-hour than lithium cells this year.",
    "Solid-state battery prototypes doubled their energy density compared with 2020 lithium-ion packs.",
    "Battery degradation slows by half when cells are kept between twenty and eighty percent charge.",
    "Recycling recovers ninety-five percent of the lithium and cobalt from spent battery packs.",
]
GRID = [
    "Transmission lines are the bottleneck: two thousand gigawatts of solar wait in grid connection queues.",
    "Pumped hydro still stores over ninety percent of the grid's energy storage capacity worldwide.",
    "Grid operators curtail wind farms on windy nights because the power lines cannot carry the output.",
    "Demand response paid factories to shift load and cut the evening peak on the power grid by eight percent.",
    "Long-duration storage like compressed air can power the grid through a week of calm, dark weather.",
]


@pytest.fixture(scope="module")
def day():
    embedder = EmbedderResource()
    texts = BATTERIES + GRID
    vectors = embedder.encode(texts)
    candidates = [Candidate(f"i{n}", f"e{n}", f"show{n % 3}", f"c{n}", 0.8, 0.5) for n in range(len(texts))]
    return {
        "texts": texts,
        "vectors": vectors,
        "candidates": candidates,
        "features": [idea_features(t) for t in texts],
        "interests": embedder.encode(interest_phrases(INTERESTS)),
        "background": embedder.encode(list(BACKGROUND_SENTENCES)),
    }


def _battery_picks(day, interest_vectors: np.ndarray) -> list[int]:
    """Indexes of the battery insights in the brief these interest vectors get."""
    picks = choose_brief(day["candidates"], day["vectors"], interest_vectors, day["background"], day["features"])
    assert picks, "the brief must not be empty for an on-topic day"
    return [int(p.insight_id[1:]) for p in picks if int(p.insight_id[1:]) < len(BATTERIES)]


def test_less_like_this_on_one_sub_topic_gives_fewer_of_it_the_next_day(day):
    before = _battery_picks(day, day["interests"])
    assert len(before) >= 2  # the plain profile takes batteries
    # The reader clicks "less like this" on the battery insights of today's brief.
    disliked = [Verdict(day["vectors"][i], more=False, age_days=1) for i in before]
    moved = adjust_interests(day["interests"], disliked)
    assert len(_battery_picks(day, moved)) < len(before)
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)


def test_more_like_this_pulls_toward_the_liked_sub_topic(day):
    before = len(_battery_picks(day, day["interests"]))
    grid_liked = [Verdict(day["vectors"][len(BATTERIES) + i], more=True, age_days=1) for i in range(3)]
    assert len(_battery_picks(day, adjust_interests(day["interests"], grid_liked))) < before


def test_old_clicks_count_less_and_no_clicks_change_nothing(day):
    fresh = adjust_interests(day["interests"], [Verdict(day["vectors"][0], more=False, age_days=0)])
    old = adjust_interests(day["interests"], [Verdict(day["vectors"][0], more=False, age_days=42)])
    assert profile_shift(day["interests"], fresh) > profile_shift(day["interests"], old) > 0
    assert adjust_interests(day["interests"], []) is day["interests"]
