"""Files that are either the old version or the new one, never half written: write a temporary file beside the
target, flush it to disk, then rename it over the target (`os.replace` is atomic on one filesystem). A process
killed mid-write leaves at most a `.tmp-*` file behind, which readers never open."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMP_PREFIX = ".tmp-"


@contextmanager
def atomic_output(path: Path | str, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces `path` when the block ends without error. `durable=False` skips the
    fsync (still never half a file after a kill): for many small files flushed together by `flush_to_disk`."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX + target.name + ".")
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
            out.flush()
            if durable:
                os.fsync(out.fileno())
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_output(path) as out:
        out.write(data)


def atomic_write_text(path: Path | str, text: str, encoding: str = "utf-8", durable: bool = True) -> None:
    with atomic_output(path, durable) as out:
        out.write(text.encode(encoding))


def flush_to_disk() -> None:
    """Everything written so far to disk in one call: one flush for a day of files written with `durable=False`
    instead of one fsync each (1.8 ms a file here: 9 minutes for 300,000 files)."""
    os.sync()


def atomic_copy(source: Path | str, target: Path | str) -> None:
    with Path(source).open("rb") as src, atomic_output(target) as out:
        shutil.copyfileobj(src, out, length=16 << 20)


def atomic_concat(sources: list[Path], target: Path | str) -> None:
    """`target` = the sources joined in order (e.g. a model split across packages)."""
    with atomic_output(target) as out:
        for source in sources:
            with Path(source).open("rb") as src:
                shutil.copyfileobj(src, out, length=16 << 20)
