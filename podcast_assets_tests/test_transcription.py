"""Real whisperx with the packaged tiny.en model, offline."""

from pathlib import Path

import numpy as np
import pytest

from podcast_assets.core.audio import AudioError, decode_16k_mono, is_silent
from podcast_assets.core.wer import word_error_rate
from podcast_assets.evaluation.demo_network import DEEP_REST
from podcast_assets.resources.transcriber import TranscriberResource, packaged_model_dir
from podcast_assets_tests.conftest import real_fixture

MEDIA = Path(__file__).resolve().parents[1] / "podcast_assets" / "evaluation" / "networks" / "demo" / "media"


@pytest.fixture(scope="module", params=["pyannote", "silero"])
def transcriber(request) -> TranscriberResource:
    """Each test with both voice activity detectors: whisperx's pyannote (the default) and the packaged silero."""
    return TranscriberResource(model="tiny.en", device="cpu", vad=request.param)


def test_the_silero_vad_loads_offline_from_the_packaged_onnx_file():
    from whisperx.vads import Pyannote

    assert isinstance(TranscriberResource(model="tiny.en", device="cpu").load().vad_model, Pyannote)
    silero = TranscriberResource(model="tiny.en", device="cpu", vad="silero").load().vad_model
    assert type(silero).__name__ == "SileroOnnxVad"  # no torch.hub download
    speech = silero({"waveform": decode_16k_mono(real_fixture("jfk.flac")), "sample_rate": 16_000})
    assert speech and 0.0 <= speech[0].start < speech[-1].end <= 11.1
    assert silero({"waveform": np.zeros(16_000 * 3, dtype=np.float32), "sample_rate": 16_000}) == []


def test_demo_episode_word_error_rate_under_ten_percent(transcriber):
    episode = DEEP_REST.episodes[0]
    result = transcriber.transcribe(decode_16k_mono(MEDIA / f"{episode.slug}.mp3"))
    hypothesis = " ".join(s.text for s in result.segments)
    assert result.language == "en"
    assert word_error_rate(episode.script, hypothesis) < 0.10
    assert all(a.end_s <= b.start_s + 0.5 for a, b in zip(result.segments, result.segments[1:], strict=False))


def test_jfk_transcribes_to_the_known_sentence(transcriber):
    audio = decode_16k_mono(real_fixture("jfk.flac"))
    text = " ".join(s.text for s in transcriber.transcribe(audio).segments)
    truth = (
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    )
    assert word_error_rate(truth, text) < 0.10


def test_the_feed_prompt_reaches_whisper_for_one_call_only(transcriber):
    audio = decode_16k_mono(real_fixture("jfk.flac"))
    pipeline = transcriber.load()
    default_prompt = pipeline.options.initial_prompt
    prompted = transcriber.transcribe(audio, "John F. Kennedy. Inaugural address, 1961.")
    assert pipeline.options.initial_prompt == default_prompt  # the cached pipeline is not left prompted
    truth = (
        "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."
    )
    assert word_error_rate(truth, " ".join(s.text for s in prompted.segments)) < 0.10
    off = transcriber.model_copy(update={"feed_prompt": False})
    assert word_error_rate(truth, " ".join(s.text for s in off.transcribe(audio, "Unrelated words.").segments)) < 0.1


def test_real_mp3_decodes_and_transcribes_to_english(transcriber):
    audio = decode_16k_mono(real_fixture("hotwords.mp3"))
    assert not is_silent(audio)
    assert transcriber.transcribe(audio).segments


def test_silence_gives_no_segments_and_garbage_is_a_clear_error(transcriber, tmp_path):
    silence = np.zeros(16_000 * 3, dtype=np.float32)
    assert is_silent(silence)
    assert transcriber.transcribe(silence).segments == []
    garbage = tmp_path / "x.mp3"
    garbage.write_bytes(b"\xff\xfb" + b"\x00" * 64)
    with pytest.raises(AudioError):
        decode_16k_mono(garbage)


def test_packaged_models_resolve_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("PODCAST_BRIEF_HOME", str(tmp_path))
    tiny, language = packaged_model_dir("tiny.en")
    assert language == "en" and (tiny / "model.bin").exists()
    base, _ = packaged_model_dir("base")  # two wheels joined once into the home folder
    assert (base / "model.bin").stat().st_size > 100_000_000 and base.is_relative_to(tmp_path)
    with pytest.raises(ValueError):
        packaged_model_dir(str(tmp_path / "nowhere"))
