"""Which device the heavy models run on: `auto` is CUDA when torch sees a GPU, else CPU."""

from __future__ import annotations

from typing import Literal

DeviceChoice = Literal["auto", "cpu", "cuda"]


def resolve_device(requested: str) -> str:
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, not {requested!r}")
    if requested != "auto":
        return requested
    import torch  # heavy import, only when a model is about to load

    return "cuda" if torch.cuda.is_available() else "cpu"
