"""Shared test harness: real HTTP server on 127.0.0.1, real SMTP server (aiosmtpd), real DuckDB files."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from podcast_assets.catalog import CatalogResource
from podcast_assets.core.url_policy import ALLOW_PRIVATE_HOSTS_ENV
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.settings import environment

# The test servers listen on 127.0.0.1, which the URL policy refuses by default. Allow exactly that address (not
# the rest of 127/8, which the hostile-input tests use as "another private host"); subprocesses inherit it.
os.environ.setdefault(ALLOW_PRIVATE_HOSTS_ENV, "127.0.0.1")

# Third-party fixtures live beside the checkout (../shared/fixtures/real), never in the repository.
# PODCAST_BRIEF_REAL_FIXTURES points elsewhere, e.g. for a clone made in another folder.
REAL_FIXTURE_DIRS = [
    Path(os.environ["PODCAST_BRIEF_REAL_FIXTURES"]) if os.environ.get("PODCAST_BRIEF_REAL_FIXTURES") else None,
    Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "real",
    Path("/work/shared/fixtures/real"),
]


def real_fixture(name: str) -> Path:
    for folder in filter(None, REAL_FIXTURE_DIRS):
        if (folder / name).exists():
            return folder / name
    pytest.skip(f"real fixture {name} not present in {[str(d) for d in REAL_FIXTURE_DIRS if d]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def catalog_in(home: Path) -> CatalogResource:
    """The catalog a process with PODCAST_BRIEF_HOME=home uses by default (SQLite in that folder)."""
    home.mkdir(parents=True, exist_ok=True)
    return CatalogResource(url=f"sqlite:///{home / 'catalog.sqlite'}")


def patched_env(values: dict[str, str | None]):
    """Environment variables set (None: unset) for a block; shared with the evaluation runner."""
    return environment(values)


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server(inbox=None) -> Iterator[tuple[Controller, _Inbox]]:
    """A real aiosmtpd server on 127.0.0.1; `inbox` is its handler (default: keeps every message)."""
    inbox = inbox or _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    """A fresh PODCAST_BRIEF_HOME (warehouse, audio, outbox) with no SMTP configured."""
    with patched_env({"PODCAST_BRIEF_HOME": str(tmp_path / "home"), "PODCAST_BRIEF_SMTP_HOST": None}):
        yield tmp_path / "home"


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server
