"""Feedback ("more/less like this") moves a subscriber's interest vectors (a Rocchio update): toward the insights
they liked, away from the ones they did not, each click weighted down with its age. The ranking itself is
unchanged: it gets the moved vectors where it got the plain ones."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MORE_WEIGHT = 0.5  # Rocchio's beta: how far one fresh "more like this" pulls every interest vector
LESS_WEIGHT = 0.6  # gamma: "less like this" pushes a little harder (readers click it to stop something)
HALF_LIFE_DAYS = 14.0
WINDOW_DAYS = 60  # older clicks are not read at all


@dataclass(frozen=True)
class Verdict:
    vector: np.ndarray  # the insight's unit embedding
    more: bool
    age_days: float


def _pull(verdicts: list[Verdict], dim: int) -> np.ndarray:
    """Age-weighted sum over max(1, total weight): one fresh click counts fully, many average out."""
    if not verdicts:
        return np.zeros(dim, dtype=np.float32)
    weights = np.array([0.5 ** (v.age_days / HALF_LIFE_DAYS) for v in verdicts], dtype=np.float32)
    vectors = np.stack([v.vector for v in verdicts]).astype(np.float32)
    return (weights[:, None] * vectors).sum(axis=0) / max(1.0, float(weights.sum()))


def adjust_interests(interest_vectors: np.ndarray, verdicts: list[Verdict]) -> np.ndarray:
    """q' = q + beta * liked - gamma * disliked, per interest vector, renormalized to unit length."""
    if not verdicts or len(interest_vectors) == 0:
        return interest_vectors
    dim = interest_vectors.shape[1]
    liked = _pull([v for v in verdicts if v.more], dim)
    disliked = _pull([v for v in verdicts if not v.more], dim)
    moved = interest_vectors + MORE_WEIGHT * liked - LESS_WEIGHT * disliked
    norms = np.linalg.norm(moved, axis=1, keepdims=True)
    return (moved / np.where(norms == 0, 1.0, norms)).astype(np.float32)


def profile_shift(before: np.ndarray, after: np.ndarray) -> float:
    """Mean (1 - cosine) between each interest vector and its moved self: 0 = unchanged."""
    if len(before) == 0:
        return 0.0
    return float(np.mean(1.0 - np.sum(before * after, axis=1)))
