"""The built-in demo network (`networks/demo/network.yaml`) by name: its day, shows and subscribers, for the demo
command, the tests and the benchmarks. Data only: it is one labeled network among the others."""

from __future__ import annotations

import datetime as dt

from podcast_assets.evaluation.network import NetworkEpisode, NetworkShow, demo_network

NETWORK = demo_network()
DEMO_DAY = NETWORK.day
PREVIOUS_DAY = DEMO_DAY - dt.timedelta(days=1)
SHOWS: tuple[NetworkShow, ...] = NETWORK.shows
GRID_REPORT, MODEL_BEHAVIOR, DEEP_REST, MORNING_SIGNAL = SHOWS
DEMO_SUBSCRIBERS = tuple(
    {"email": s.email, "name": s.name, "interests": s.interests, "theme": s.theme} for s in NETWORK.subscribers
)


def all_episodes() -> list[tuple[NetworkShow, NetworkEpisode]]:
    return NETWORK.episodes()
