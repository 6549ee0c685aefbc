"""MiniLM through ONNX Runtime vs sentence-transformers on torch (fp32), same texts, same process, alternating.

    python -m benchmarks.embeddings_onnx [--repeat 3]

The packaged all-MiniLM-L6-v2 is exported locally with `torch.onnx.export` (nothing downloaded); ONNX Runtime runs
the transformer, then the same mean pooling and L2 normalization as the sentence-transformers pipeline. Texts: the
scripts of the demo and labeled networks (what insights are cut from) in two-sentence pieces. Reports texts/s (best
of `--repeat`) and the cosine to torch's embedding of each text (min and mean). Export and int8 quantization need
the `onnx` package, which the project does not install: `pip install onnx` (or `--target` a folder on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime as ort
    import torch

    from podcast_assets.evaluation.network import load_network, packaged_networks
    from podcast_assets.resources.embedder import EmbedderResource

    networks = [load_network(name) for name in packaged_networks()]
    turns = [turn.text for network in networks for _, episode in network.episodes() for turn in episode.turns]
    # Insight-sized pieces: two sentences at a time.
    sentences = [part for turn in turns for part in re.split(r"(?<=[.!?])\s+", turn) if part.strip()]
    texts = [" ".join(sentences[i : i + 2]) for i in range(0, len(sentences), 2)]
    embedder = EmbedderResource(device="cpu", batch_size=args.batch_size)
    model = embedder.load()
    transformer = model[0].auto_model.eval()
    tokenizer = model.tokenizer
    path = Path(tempfile.mkdtemp(prefix="minilm-onnx-")) / "model.onnx"
    sample = tokenizer(texts[:2], padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        torch.onnx.export(
            transformer,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "tokens"} for name in INPUTS},
            opset_version=17,
            dynamo=False,
        )
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8_path = path.with_name("model-int8.onnx")
    quantize_dynamic(str(path), str(int8_path), weight_type=QuantType.QInt8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    sessions = {
        precision: ort.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])
        for precision, file in (("fp32", path), ("int8", int8_path))
    }
    max_length = model.get_max_seq_length()

    def onnx_encode(batch_texts: list[str], precision: str) -> np.ndarray:
        out = []
        for start in range(0, len(batch_texts), args.batch_size):
            enc = tokenizer(
                batch_texts[start : start + args.batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="np",
            )
            feeds = {name: enc[name].astype(np.int64) for name in INPUTS}
            hidden = sessions[precision].run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.vstack(out).astype(np.float32)

    ways = {
        "torch fp32": embedder.encode,
        "onnxruntime fp32": lambda t: onnx_encode(t, "fp32"),
        "onnxruntime int8 (dynamic)": lambda t: onnx_encode(t, "int8"),
    }
    timings: dict[str, list[float]] = {name: [] for name in ways}
    vectors = {}
    for _ in range(args.repeat):  # alternating, so load from other processes hits each alike
        for name, encode in ways.items():
            started = time.perf_counter()
            vectors[name] = encode(texts)
            timings[name].append(time.perf_counter() - started)
    print(f"\n{len(texts)} texts, batch {args.batch_size}, {torch.get_num_threads()} threads\n")
    print("| backend | best of runs (s) | texts/s | vs torch fp32 | cosine to torch fp32: min / mean |")
    print("|---|---|---|---|---|")
    base = min(timings["torch fp32"])
    for name, runs in timings.items():
        cosine = (vectors["torch fp32"] * vectors[name]).sum(axis=1)
        print(
            f"| {name} | {min(runs):.2f} | {len(texts) / min(runs):.0f} | {base / min(runs):.2f}x "
            f"| {cosine.min():.4f} / {cosine.mean():.4f} |"
        )


if __name__ == "__main__":
    main()
