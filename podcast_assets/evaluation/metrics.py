"""Scoring a day's pipeline output against a labeled network. Pure functions on plain rows.

Everything is matched by time, not by words: a passage (insight row or brief pick) takes the label of the
scripted turn it overlaps most, using the turn spans measured when the audio was built. ASR errors and
sentence cutting therefore never change which turn a passage belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from podcast_assets.core.wer import normalize, window_error_rate, word_error_rate
from podcast_assets.evaluation.network import INSIGHT, Network

RECALLED_COVERAGE = 0.5  # a planted insight counts as found when one insight row covers half of it
COMPLETE_COVERAGE = 0.8  # ... and as found whole when one row covers 80% of it


@dataclass(frozen=True)
class LabeledSpan:
    slug: str
    index: int
    kind: str
    theme: str | None
    idea: str | None
    start_s: float
    end_s: float


def labeled_spans(network: Network) -> dict[str, list[LabeledSpan]]:
    spans = network.spans()
    return {
        episode.slug: [
            LabeledSpan(episode.slug, i, t.kind, t.theme, t.idea, s["start_s"], s["end_s"])
            for i, (t, s) in enumerate(zip(episode.turns, spans[episode.slug], strict=True))
        ]
        for _, episode in network.episodes()
    }


def _overlap(a_start: float, a_end: float, b_start: float, b_end: float) -> float:
    return max(0.0, min(a_end, b_end) - max(a_start, b_start))


# Without word alignment, sentence times inside one ASR segment are shared out by character count, so they can
# drift a second or two across a turn boundary; the words then say which of the nearby turns it was.
TIME_SLACK_S = 2.5


def label_of(
    turns: list[LabeledSpan], start_s: float, end_s: float, text: str | None = None, scripts: list[str] | None = None
) -> LabeledSpan | None:
    """The turn a passage belongs to: among the turns within `TIME_SLACK_S` of it, the one holding most of its
    words (when `text` and the turns' `scripts` are given), else the one it overlaps most."""
    end_s = max(end_s, start_s + 0.01)
    near = [t for t in turns if _overlap(start_s - TIME_SLACK_S, end_s + TIME_SLACK_S, t.start_s, t.end_s) > 0]
    if not near:
        return None
    if text and scripts:
        words = set(normalize(text))

        def contained(turn: LabeledSpan) -> float:
            return len(words & set(normalize(scripts[turn.index]))) / max(len(words), 1)

        return max(near, key=lambda t: (round(contained(t), 2), _overlap(start_s, end_s, t.start_s, t.end_s)))
    best = max(near, key=lambda t: (_overlap(start_s, end_s, t.start_s, t.end_s), -t.index))
    return best if _overlap(start_s, end_s, best.start_s, best.end_s) > 0 else None


@dataclass
class Report:
    network: str
    brief_picks: int = 0
    brief_insight_picks: int = 0
    on_theme_picks: int = 0
    off_topic_picks: int = 0
    non_insight_picks: dict[str, int] = field(default_factory=dict)
    planted_insights: int = 0
    planted_recalled: int = 0
    planted_complete: int = 0
    insight_rows: int = 0
    insight_rows_on_insights: int = 0
    paraphrase_pairs: int = 0
    paraphrase_pairs_clustered: int = 0
    paraphrase_pairs_both_in_a_brief: int = 0
    related_repeated_in_a_brief: int = 0
    briefs: dict[str, int] = field(default_factory=dict)  # email -> picks
    wer_by_episode: dict[str, float] = field(default_factory=dict)
    asr_audio_s: float = 0.0
    asr_wall_s: float = 0.0
    baseline_precision: float | None = None  # top 5 sentences by cosine to the interests, per subscriber
    # The text readers see (picks, related, "also on"), against the script: edits and words, first pass and shown.
    shown_words_first_pass: int = 0
    shown_errors_first_pass: float = 0.0
    shown_words: int = 0
    shown_errors: float = 0.0
    second_pass_audio_s: float = 0.0
    second_pass_wall_s: float = 0.0
    details: list[str] = field(default_factory=list)

    @property
    def brief_precision(self) -> float:
        return self.brief_insight_picks / self.brief_picks if self.brief_picks else 0.0

    @property
    def on_theme_rate(self) -> float:
        return self.on_theme_picks / self.brief_picks if self.brief_picks else 0.0

    @property
    def mean_wer(self) -> float:
        return sum(self.wer_by_episode.values()) / len(self.wer_by_episode) if self.wer_by_episode else 0.0

    def summary(self) -> dict[str, object]:
        return {
            "network": self.network,
            "brief_picks": self.brief_picks,
            "brief_precision": round(self.brief_precision, 3),
            "baseline_top5_cosine_precision": self.baseline_precision,
            "on_theme_rate": round(self.on_theme_rate, 3),
            "off_topic_picks": self.off_topic_picks,
            "framing_or_ad_picks": sum(self.non_insight_picks.values()),
            "non_insight_picks": dict(self.non_insight_picks),
            "planted_recall": f"{self.planted_recalled}/{self.planted_insights}",
            "planted_complete": f"{self.planted_complete}/{self.planted_insights}",
            "insight_rows_precision": round(self.insight_rows_on_insights / self.insight_rows, 3)
            if self.insight_rows
            else 0.0,
            "paraphrase_pairs_clustered": f"{self.paraphrase_pairs_clustered}/{self.paraphrase_pairs}",
            "paraphrase_pairs_both_in_a_brief": self.paraphrase_pairs_both_in_a_brief,
            "related_repeated_in_a_brief": self.related_repeated_in_a_brief,
            "picks_per_subscriber": dict(self.briefs),
            "mean_wer": round(self.mean_wer, 3),
            "asr_real_time_factor": round(self.asr_audio_s / self.asr_wall_s, 1) if self.asr_wall_s else None,
            "shown_wer_first_pass": round(self.shown_errors_first_pass / max(self.shown_words_first_pass, 1), 3),
            "shown_wer": round(self.shown_errors / max(self.shown_words, 1), 3),
            "second_pass_audio_s": round(self.second_pass_audio_s, 1),
            "second_pass_wall_s": round(self.second_pass_wall_s, 1),
        }


def score_day(
    network: Network,
    slug_of_episode: dict[str, str],
    insights: list[dict],
    clusters: dict[str, str],
    picks: list[dict],
    transcripts: dict[str, str],
    shown: dict[str, str] | None = None,
) -> Report:
    """`insights`: rows with insight_id, episode_id, start_s, end_s, text; `clusters`: insight_id -> cluster_id;
    `picks`: rows with email, insight_id, related_insight_ids (and also_on_insight_ids); `transcripts`:
    episode_id -> full text; `shown`: insight_id -> the text briefs show after the second pass, where it ran."""
    turns = labeled_spans(network)
    day_slugs = {e.slug for _, e in network.episodes() if e.published_at.date() == network.day}
    report = Report(network.name)
    scripts = {e.slug: [t.text for t in e.turns] for _, e in network.episodes()}
    label: dict[str, LabeledSpan | None] = {}
    for row in insights:
        slug = slug_of_episode.get(row["episode_id"])
        label[row["insight_id"]] = label_of(
            turns.get(slug, []), row["start_s"], row["end_s"], row["text"], scripts.get(slug)
        )
        report.insight_rows += 1
        report.insight_rows_on_insights += bool(label[row["insight_id"]] and label[row["insight_id"]].kind == INSIGHT)

    # Planted insights found in `insights`, and whether one row holds the whole idea.
    rows_by_slug: dict[str, list[dict]] = {}
    for row in insights:
        rows_by_slug.setdefault(slug_of_episode.get(row["episode_id"], ""), []).append(row)
    for slug in sorted(day_slugs):
        for turn in turns[slug]:
            if turn.kind != INSIGHT:
                continue
            report.planted_insights += 1
            length = max(turn.end_s - turn.start_s, 0.01)
            coverage = max(
                (
                    _overlap(r["start_s"], r["end_s"], turn.start_s, turn.end_s) / length
                    for r in rows_by_slug.get(slug, [])
                ),
                default=0.0,
            )
            report.planted_recalled += coverage >= RECALLED_COVERAGE
            report.planted_complete += coverage >= COMPLETE_COVERAGE
            if coverage < RECALLED_COVERAGE:
                report.details.append(
                    f"missed planted insight {slug}#{turn.index} {turn.idea} (coverage {coverage:.2f})"
                )

    # Paraphrase pairs: the rows holding each side, clustered together?
    def rows_of_idea(slug: str, idea: str) -> list[str]:
        return [i for i, lab in label.items() if lab and lab.slug == slug and lab.idea == idea]

    pairs = [(idea, a, b) for idea, (a, b) in network.paraphrase_pairs() if a in day_slugs and b in day_slugs]
    for idea, a, b in pairs:
        report.paraphrase_pairs += 1
        left, right = rows_of_idea(a, idea), rows_of_idea(b, idea)
        together = any(clusters.get(x) and clusters.get(x) == clusters.get(y) for x in left for y in right)
        report.paraphrase_pairs_clustered += together
        if not together:
            report.details.append(f"paraphrase pair {idea} ({a} / {b}) not in one cluster")

    theme_of = {s.email: s.theme for s in network.subscribers}
    by_subscriber: dict[str, list[dict]] = {}
    for pick in picks:
        if pick["email"] in theme_of:  # subscribers the network does not label are not scored
            by_subscriber.setdefault(pick["email"], []).append(pick)
    for email, chosen in by_subscriber.items():
        report.briefs[email] = len(chosen)
        seen_related: set[str] = set()
        ideas_picked: set[tuple[str, str]] = set()
        for pick in chosen:
            report.brief_picks += 1
            lab = label.get(pick["insight_id"])
            kind = lab.kind if lab else "unmatched"
            if kind == INSIGHT:
                report.brief_insight_picks += 1
                ideas_picked.add((lab.slug, lab.idea))
            else:
                report.non_insight_picks[kind] = report.non_insight_picks.get(kind, 0) + 1
            on_theme = kind == INSIGHT and lab.theme == theme_of.get(email)
            report.on_theme_picks += on_theme
            if not on_theme:
                report.off_topic_picks += kind == INSIGHT
                report.details.append(f"{email}: pick {pick['insight_id']} is {kind} ({lab.theme if lab else '-'})")
            for related in pick.get("related_insight_ids") or []:
                report.related_repeated_in_a_brief += related in seen_related
                seen_related.add(related)
        for idea, a, b in pairs:
            if (a, idea) in ideas_picked and (b, idea) in ideas_picked:
                report.paraphrase_pairs_both_in_a_brief += 1
                report.details.append(f"{email}: both halves of paraphrase pair {idea} picked")

    # Shown text against the script words said around its span (the passage's own bounds in the script unknown).
    row_of = {row["insight_id"]: row for row in insights}
    shown_ids = {
        i for pick in picks for i in [pick["insight_id"], *(pick.get("related_insight_ids") or [])]
        + list(pick.get("also_on_insight_ids") or [])
    }  # fmt: skip
    for insight_id in sorted(shown_ids & set(row_of)):
        row = row_of[insight_id]
        slug = slug_of_episode.get(row["episode_id"])
        reference = " ".join(
            scripts[slug][t.index]
            for t in turns.get(slug, [])
            if _overlap(row["start_s"] - TIME_SLACK_S, row["end_s"] + TIME_SLACK_S, t.start_s, t.end_s) > 0
        )
        for text, words, errors in (
            (row["text"], "shown_words_first_pass", "shown_errors_first_pass"),
            ((shown or {}).get(insight_id, row["text"]), "shown_words", "shown_errors"),
        ):
            n = len(normalize(text))
            setattr(report, words, getattr(report, words) + n)
            setattr(report, errors, getattr(report, errors) + window_error_rate(reference, text) * n)

    for episode_id, text in transcripts.items():
        slug = slug_of_episode.get(episode_id)
        if slug in scripts and slug in day_slugs:
            report.wer_by_episode[slug] = round(word_error_rate(" ".join(scripts[slug]), text), 4)
    return report
