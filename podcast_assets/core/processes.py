"""This machine's processes as Linux shows them (/proc): who is running, since when, with what command line.
Read-only and Dagster-free, so the warehouse can name the process that holds its lock."""

from __future__ import annotations

import socket
from pathlib import Path


def host_name() -> str:
    return socket.gethostname()


def process_start_ticks(pid: int) -> str | None:
    """When the process started (clock ticks since boot, Linux /proc), or None where that cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name (field 2) may hold spaces and parentheses, so count after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def process_command_line(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.replace(b"\0", b" ").decode("utf-8", "replace").strip() or None
