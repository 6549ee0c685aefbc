"""Cross-episode batching: the VAD chunks of many episodes fed to whisper in shared batches.

whisperx's `FasterWhisperPipeline.transcribe` batches the VAD chunks of one file, so a short episode leaves its last
batch (often its only batch) part empty and the GPU idle. Here every episode is cut into chunks exactly as that
pipeline cuts it (same VAD, same `merge_chunks`, same chunk size), the chunks of all episodes are queued in
episode order and run `batch_size` at a time, and each chunk's text goes back to its own episode with that chunk's
own start and end: segment times are the ones the per-episode pipeline gives, to the millisecond.

whisperx's `generate_segment_batched` prompts a whole batch with one prompt; CTranslate2's `generate` takes one
prompt per batch item, so each chunk keeps its own episode's prompt (and language token) and the texts equal the
per-episode ones. CTranslate2 (4.x) refuses a batch whose prompts put `<|startoftranscript|>` at different positions
("requires the <|startoftranscript|> token to be at the same position in all batches"), i.e. prompts of different
token lengths: chunks share a batch only with chunks whose prompt has the same length. Padding a shorter prompt
would change what whisper reads and so its text. Without feed prompts (`feed_prompt` off) every episode's prompt
has the same length and any chunks fill a batch; with them, episodes whose prompts differ in length do not mix.

On CPU (int8) each batch item came out the same whatever else was in its batch
(`test_cross_episode_batching.py`, and the benchmark compares all 30 episodes); on a GPU (float16) a different batch
mix may change a rare token, as any change of batch size can there: `benchmarks/cross_episode_batching.py` says.

A failure that belongs to one episode (its VAD, its language detection) is returned for that episode; a batch that
fails as a whole is reported to every episode in it through `on_batch_error`, which may transcribe them alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class AsrItem:
    """One episode's input: 16 kHz mono float32 samples and whisper's initial prompt (None: the pipeline's)."""

    audio_16k: np.ndarray
    initial_prompt: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A VAD chunk of item `item` (its `index`-th), in seconds of that item's audio."""

    item: int
    index: int
    start_s: float
    end_s: float


@dataclass
class _Prepared:
    language: str
    tokenizer: object  # faster_whisper Tokenizer; its eot and text decoder are the model's, whatever the language
    prompt_tokens: list[int]
    chunks: list[Chunk]
    sot_index: int  # where <|startoftranscript|> sits in the prompt: CTranslate2 batches only equal positions
    texts: dict[int, tuple[str, float]] = field(default_factory=dict)  # chunk index -> (text, avg_logprob)


def batches_across_items(
    chunks: Sequence[Chunk],
    batch_size: int,
    skip: Callable[[int], bool],
    key: Callable[[Chunk], object] = lambda chunk: None,
) -> Iterator[list]:
    """`chunks` (in item order) cut into lists of at most `batch_size`, filled across item boundaries; only chunks
    with the same `key` share a list (a list is started at a key's first chunk and sent when full, leftovers at the
    end). A chunk whose item `skip` names (asked when the chunk's turn comes: an item that failed meanwhile) is left
    out."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, not {batch_size}")
    open_batches: dict[object, list[Chunk]] = {}
    for chunk in chunks:
        if skip(chunk.item):
            continue
        batch = open_batches.setdefault(key(chunk), [])
        batch.append(chunk)
        if len(batch) == batch_size:
            yield open_batches.pop(key(chunk))
    for batch in open_batches.values():
        remaining = [chunk for chunk in batch if not skip(chunk.item)]
        if remaining:
            yield remaining


def vad_chunks(pipeline, audio_16k: np.ndarray, chunk_size_s: float) -> list[tuple[float, float]]:
    """(start_s, end_s) of the chunks `pipeline.transcribe(audio, chunk_size=chunk_size_s)` would transcribe."""
    from whisperx.audio import SAMPLE_RATE
    from whisperx.vads import Pyannote, Vad

    vad_model = pipeline.vad_model
    if isinstance(vad_model, Vad):
        waveform, merge_chunks = vad_model.preprocess_audio(audio_16k), vad_model.merge_chunks
    else:  # a vad_model assigned by hand: the pipeline treats it as pyannote
        waveform, merge_chunks = Pyannote.preprocess_audio(audio_16k), Pyannote.merge_chunks
    segments = vad_model({"waveform": waveform, "sample_rate": SAMPLE_RATE})
    merged = merge_chunks(
        segments, chunk_size_s, onset=pipeline._vad_params["vad_onset"], offset=pipeline._vad_params["vad_offset"]
    )
    return [(segment["start"], segment["end"]) for segment in merged]


def _tokenizer_for(pipeline, language: str | None, audio_16k: np.ndarray):
    """(language, tokenizer) as `pipeline.transcribe` picks them, without changing the shared pipeline."""
    from faster_whisper.tokenizer import Tokenizer

    preset = pipeline.tokenizer
    if preset is not None:
        language = language or preset.language_code
        if language == preset.language_code and preset.task == "transcribe":
            return language, preset
    else:
        language = language or pipeline.detect_language(audio_16k)
    model = pipeline.model
    return language, Tokenizer(model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language)


def _prompt_tokens(pipeline, tokenizer, initial_prompt: str | None) -> list[int]:
    """The decoder prompt `WhisperModel.generate_segment_batched` builds, for this item's own initial prompt."""
    options = pipeline.options
    previous = tokenizer.encode(" " + initial_prompt.strip()) if initial_prompt is not None else []
    return pipeline.model.get_prompt(
        tokenizer, previous, without_timestamps=options.without_timestamps, prefix=options.prefix,
        hotwords=options.hotwords,
    )  # fmt: skip


def _run_batch(
    pipeline, audios: list[np.ndarray], prompts: list[list[int]], tokenizer, options
) -> list[tuple[str, float]]:
    """(text, avg_logprob) per chunk: `FasterWhisperPipeline.preprocess` + `generate_segment_batched` with one
    prompt per item."""
    import torch
    from whisperx.audio import N_SAMPLES, log_mel_spectrogram

    model = pipeline.model
    n_mels = model.feat_kwargs.get("feature_size") or 80
    features = torch.stack(
        [log_mel_spectrogram(audio, n_mels=n_mels, padding=N_SAMPLES - audio.shape[0]) for audio in audios]
    )
    result = model.model.generate(
        model.encode(features),
        prompts,
        beam_size=options.beam_size,
        patience=options.patience,
        length_penalty=options.length_penalty,
        max_length=model.max_length,
        suppress_blank=options.suppress_blank,
        suppress_tokens=options.suppress_tokens,
        no_repeat_ngram_size=options.no_repeat_ngram_size,
        repetition_penalty=options.repetition_penalty,
        return_scores=True,
    )
    tokens = [[token for token in r.sequences_ids[0] if token < tokenizer.eot] for r in result]
    texts = tokenizer.tokenizer.decode_batch(tokens)
    scores = []
    for r in result:
        length = len(r.sequences_ids[0])
        scores.append(r.scores[0] * (length**options.length_penalty) / (length + 1))
    return list(zip(texts, scores, strict=True))


def transcribe_across_items(
    pipeline,
    items: Sequence[AsrItem],
    batch_size: int,
    chunk_size_s: float,
    language: str | None = None,
    on_batch_error: Callable[[int, Exception], object] | None = None,
) -> list:
    """For each item, what `pipeline.transcribe(item.audio_16k, batch_size, language=language, chunk_size=...)`
    returns with `options.initial_prompt = item.initial_prompt` (`{"segments": [...], "language": ...}`), or the
    exception that item failed with. The model runs over batches of chunks drawn from several items in order.

    `on_batch_error(item, error)`: called once for each item whose chunks were in a batch that raised; what it
    returns (e.g. the item transcribed alone) or the exception it raises becomes the item's result. Without it, the
    batch's error is every such item's result. Chunks of an item that failed are not run again."""
    from whisperx.audio import SAMPLE_RATE

    if getattr(pipeline, "suppress_numerals", False):
        raise NotImplementedError("cross-episode batching does not support suppress_numerals")
    results: list = [None] * len(items)
    prepared: dict[int, _Prepared] = {}
    for position, item in enumerate(items):
        try:
            language_code, tokenizer = _tokenizer_for(pipeline, language, item.audio_16k)
            spans = vad_chunks(pipeline, item.audio_16k, chunk_size_s)
            prompt = _prompt_tokens(pipeline, tokenizer, item.initial_prompt)
        except Exception as error:  # the item's own audio broke VAD or language detection: its failure only
            results[position] = error
            continue
        chunks = [Chunk(position, index, start, end) for index, (start, end) in enumerate(spans)]
        prepared[position] = _Prepared(language_code, tokenizer, prompt, chunks, prompt.index(tokenizer.sot))

    failed: dict[int, Exception] = {}
    queue = [chunk for position in sorted(prepared) for chunk in prepared[position].chunks]
    for batch in batches_across_items(
        queue, batch_size, skip=lambda position: position in failed, key=lambda c: prepared[c.item].sot_index
    ):
        audios = [items[c.item].audio_16k[int(c.start_s * SAMPLE_RATE) : int(c.end_s * SAMPLE_RATE)] for c in batch]
        try:
            prompts = [prepared[c.item].prompt_tokens for c in batch]
            outputs = _run_batch(pipeline, audios, prompts, prepared[batch[0].item].tokenizer, pipeline.options)
        except Exception as error:  # a whole batch failed: every item in it, decided below
            for chunk in batch:
                failed.setdefault(chunk.item, error)
            continue
        for chunk, output in zip(batch, outputs, strict=True):
            prepared[chunk.item].texts[chunk.index] = output

    for position, state in prepared.items():
        if position in failed:
            results[position] = _recover(on_batch_error, position, failed[position])
            continue
        segments = [
            {
                "text": state.texts[chunk.index][0],
                "start": round(chunk.start_s, 3),
                "end": round(chunk.end_s, 3),
                "avg_logprob": state.texts[chunk.index][1],
            }
            for chunk in state.chunks
        ]
        results[position] = {"segments": segments, "language": state.language}
    return results


def _recover(on_batch_error, position: int, error: Exception) -> object:
    if on_batch_error is None:
        return error
    try:
        return on_batch_error(position, error)
    except Exception as again:
        return again
