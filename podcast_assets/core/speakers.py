"""Who speaks each sentence, told apart by voice.

ASR segments carry no speaker, and a segment often runs across a change of speaker (35-50% of segments on the
labeled networks), so speakers are found per sentence: one voice embedding per sentence (resources/voices.py),
then the episode's sentences clustered into voices. A sentence's speaker feeds the passage cut
(`segmenting.turn_continuations`): the short turn of one speaker is one idea."""

from __future__ import annotations

import numpy as np

from podcast_assets.core.segmenting import timed_sentences
from podcast_assets.core.transcript_formats import Segment

# Cosine of two voice embeddings (Resemblyzer) at which average linkage still joins them as one voice. Measured on
# adjacent sentences of the tuning network lagoon (neural voices): one speaker p10 0.79, a change p90 0.62.
SAME_VOICE = 0.7
# Voices are told apart only when every two of them are at most this alike on average (tuning networks: distinct
# neural voices 0.49-0.57; espeak-ng variants of one voice, which the encoder cannot separate, 0.65-0.69).
DISTINCT_VOICES = 0.6
MIN_VOICE_SENTENCES = 3  # a smaller cluster is an odd sentence (laughter, a short overlap), not a speaker


def sentence_segments(segments: list[Segment]) -> list[Segment]:
    """Each segment cut into its sentences, the segment's time shared out by characters (`timed_sentences`)."""
    rows = [{"start_s": s.start_s, "end_s": s.end_s, "text": s.text, "speaker": s.speaker} for s in segments]
    return [Segment(s.start_s, s.end_s, s.text, s.speaker) for s in timed_sentences("", rows)]


def voices_of(embeddings: np.ndarray, same_voice: float = SAME_VOICE) -> list[str | None]:
    """One label per row ("voice 1", "voice 2", ... in order of first appearance): rows of unit-norm voice
    embeddings clustered by average linkage, joined while their mean cosine is at least `same_voice`.

    None where it cannot be told: rows of a cluster too small to be a speaker, and every row when fewer than two
    voices are found (a monologue looks like voices the encoder cannot separate) or two voices are too alike."""
    if len(embeddings) < 2 * MIN_VOICE_SENTENCES:
        return [None] * len(embeddings)
    from sklearn.cluster import AgglomerativeClustering

    clusters = AgglomerativeClustering(
        n_clusters=None, metric="cosine", linkage="average", distance_threshold=1.0 - same_voice
    ).fit_predict(embeddings)
    speakers = [c for c in np.unique(clusters) if (clusters == c).sum() >= MIN_VOICE_SENTENCES]
    alike = [
        float((embeddings[clusters == a] @ embeddings[clusters == b].T).mean())
        for i, a in enumerate(speakers)
        for b in speakers[i + 1 :]
    ]
    if len(speakers) < 2 or max(alike) > DISTINCT_VOICES:
        return [None] * len(embeddings)
    names: dict[int, str] = {}
    for cluster in clusters:
        if cluster in speakers:
            names.setdefault(int(cluster), f"voice {len(names) + 1}")
    return [names.get(int(cluster)) for cluster in clusters]


def with_voices(segments: list[Segment], embeddings: np.ndarray, same_voice: float = SAME_VOICE) -> list[Segment]:
    """`segments` (one per sentence) with the speaker their voice embedding clusters into."""
    labels = voices_of(embeddings, same_voice)
    return [Segment(s.start_s, s.end_s, s.text, label) for s, label in zip(segments, labels, strict=True)]
