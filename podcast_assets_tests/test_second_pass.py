"""The second ASR pass over shown spans (operations/second_pass.py) with real whisperx on the demo network's audio:
a span is cut from its episode and transcribed again, a corrupt file fails only its own spans, a writer's
headline is left as it is."""

import datetime as dt

import polars as pl

from podcast_assets.core.wer import window_error_rate
from podcast_assets.evaluation.network import demo_network
from podcast_assets.operations.second_pass import retranscribe_shown, shown_insight_ids
from podcast_assets.resources.transcriber import TranscriberResource

DAY = dt.date(2026, 1, 1)


def test_shown_ids_are_picks_related_and_also_on_once_each():
    picks = pl.DataFrame(
        {
            "insight_id": ["a", "b"],
            "related_insight_ids": [["c", "d"], ["a"]],
            "also_on_insight_ids": [["e"], None],
        }
    )
    assert shown_insight_ids(picks) == ["a", "c", "d", "e", "b"]


def test_window_error_rate_scores_a_passage_against_the_stretch_it_came_from():
    script = "Welcome back. Sodium ion cells became about twenty percent cheaper this year. Now the ads."
    assert window_error_rate(script, "sodium ion cells became about 20% cheaper this year") == 0.0
    assert window_error_rate(script, "sodium iron cells became about twenty percent cheaper") == 1 / 8
    assert window_error_rate(script, "") == 0.0


def test_a_shown_span_is_transcribed_again_and_a_corrupt_file_fails_alone(tmp_path):
    network = demo_network()
    show, episode = next((s, e) for s, e in network.episodes() if e.slug == "grid-report-41")
    turn = network.spans()[episode.slug][1]  # the sodium-ion insight
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3 this is not audio" * 50)
    real = str(network.media_dir / f"{episode.slug}.mp3")
    spans = pl.DataFrame(
        [
            ("sodium", "Sodium iron cells got cheaper.", None, turn["start_s"], turn["end_s"], real),
            ("rewritten", "first pass", "A writer's headline.", turn["start_s"], turn["end_s"], real),
            ("broken", "First pass of a broken file.", None, 1.0, 5.0, str(corrupt)),
        ],
        schema=["insight_id", "text", "headline", "start_s", "end_s", "audio_path"],
        orient="row",
    ).with_columns(
        show_title=pl.lit(show.title),
        title=pl.lit(episode.title),
        description=pl.lit(episode.description),
        language=pl.lit("en"),
    )
    asked = []

    def query(sql: str, params: list) -> pl.DataFrame:
        asked.append(params)
        return spans.filter(pl.col("insight_id").is_in(params[1]))

    second = TranscriberResource(device="cpu", second_pass_model="base").second_pass()
    languages = []

    def transcribe(audio, prompt, language):
        languages.append(language)
        return second.in_language(language).transcribe(audio, prompt)

    warnings = []
    rows = retranscribe_shown(query, transcribe, "base", DAY, ["sodium", "rewritten", "broken"], warnings.append)
    by_id = {row["insight_id"]: row for row in rows.iter_rows(named=True)}
    sodium = by_id["sodium"]
    assert sodium["status"] == "second_pass" and sodium["model"] == "base"
    assert sodium["first_pass_text"] == "Sodium iron cells got cheaper."  # the first pass is kept beside it
    assert window_error_rate(episode.turns[1].text, sodium["text"]) < 0.2  # what was said, heard again
    assert abs(sodium["audio_s"] - (turn["end_s"] - turn["start_s"] + 0.8)) < 0.05 and sodium["wall_s"] > 0
    assert by_id["rewritten"]["status"] == "headline" and by_id["rewritten"]["text"] == "A writer's headline."
    broken = by_id["broken"]
    assert broken["status"] == "failed" and broken["text"] == "First pass of a broken file."
    assert "AudioError" in broken["error"] and len(warnings) == 1
    assert asked and asked[0][0] == DAY
    assert languages == ["en"]  # the first pass's language; the headline and the broken file never reach whisper
    assert second.in_language("en").language == "en" and second.in_language(None) is second
    assert retranscribe_shown(query, transcribe, "base", DAY, []).is_empty()
