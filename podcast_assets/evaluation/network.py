"""A labeled podcast network: episode scripts turn by turn, each turn labeled (insight, ad, framing...).

Every network, the built-in demo included, is a folder: `network.yaml` (the scripts and their labels, see
TRUTH_FORMAT.md) beside `media/`. The packaged ones live in `networks/` and load by name (`demo`, `harbor`...). The
build script turns scripts into MP3s; the evaluation serves them as real feeds (`site.py`), runs the day and scores
what the pipeline chose against these labels.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

INSIGHT = "insight"
# Everything a reader must never get as an insight.
NOT_INSIGHT_KINDS = ("ad", "framing", "question", "intro", "outro", "filler", "tangent")
KINDS = (INSIGHT, *NOT_INSIGHT_KINDS)


class NetworkError(ValueError):
    """A network folder that cannot be evaluated (missing file, unknown kind, insight without idea...)."""


@dataclass(frozen=True)
class Turn:
    kind: str
    text: str
    speaker: str = "host"
    theme: str | None = None
    idea: str | None = None


@dataclass(frozen=True)
class NetworkEpisode:
    slug: str
    title: str
    published_at: dt.datetime
    turns: tuple[Turn, ...]
    description: str = ""
    publisher_transcript: bool = False

    @property
    def script(self) -> str:
        return " ".join(turn.text for turn in self.turns)


@dataclass(frozen=True)
class NetworkShow:
    slug: str
    title: str
    description: str
    feed_format: str
    episodes: tuple[NetworkEpisode, ...]
    voices: dict[str, str] = field(default_factory=dict)  # speaker key -> espeak-ng voice, overrides the network's


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str
    interests: str
    theme: str | None


@dataclass(frozen=True)
class Network:
    name: str
    day: dt.date
    shows: tuple[NetworkShow, ...]
    subscribers: tuple[Subscriber, ...]
    media_dir: Path
    voices: dict[str, str] = field(default_factory=dict)
    pause_s: float = 0.6  # silence between turns in the built audio: conversation leaves little

    def episodes(self) -> list[tuple[NetworkShow, NetworkEpisode]]:
        return [(show, episode) for show in self.shows for episode in show.episodes]

    def voice(self, show: NetworkShow, speaker: str) -> str:
        return show.voices.get(speaker) or self.voices[speaker]

    def spans(self) -> dict[str, list[dict]]:
        """Per episode slug, each turn's start_s/end_s in its MP3 (written by the media build)."""
        path = self.media_dir / "manifest.json"
        if not path.exists():
            raise NetworkError(
                f"{path} is missing: build the media first (python -m podcast_assets.evaluation.build_media)"
            )
        return json.loads(path.read_text())

    def paraphrase_pairs(self) -> list[tuple[str, tuple[str, str]]]:
        """(idea, (episode slug, other episode slug)) for each idea said on two different shows."""
        where: dict[str, list[tuple[str, str]]] = {}
        for show, episode in self.episodes():
            for turn in episode.turns:
                if turn.kind == INSIGHT and (show.slug, episode.slug) not in where.setdefault(turn.idea, []):
                    where[turn.idea].append((show.slug, episode.slug))
        pairs = []
        for idea, places in where.items():
            shows = {show for show, _ in places}
            if len(shows) >= 2:
                pairs.append((idea, (places[0][1], next(slug for show, slug in places if show != places[0][0]))))
        return pairs


def _turn(raw: dict, where: str) -> Turn:
    kind = raw.get("kind")
    if kind not in KINDS:
        raise NetworkError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    if not str(raw.get("text") or "").strip():
        raise NetworkError(f"{where}: empty text")
    if kind == INSIGHT and not (raw.get("theme") and raw.get("idea")):
        raise NetworkError(f"{where}: an insight needs `theme` and `idea`")
    return Turn(kind, str(raw["text"]).strip(), str(raw.get("speaker", "host")), raw.get("theme"), raw.get("idea"))


def _datetime(value: object) -> dt.datetime:
    parsed = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


NETWORKS_DIR = Path(__file__).resolve().parent / "networks"
DEMO = "demo"
# Voice condition -> the media folder of a network rendered with it (`build_media --voices`).
VOICE_CONDITIONS = {"espeak": "media", "neural": "media-neural"}


def packaged_networks() -> list[str]:
    """Names of the networks that ship with the package, the demo first."""
    names = sorted(p.name for p in NETWORKS_DIR.iterdir() if (p / "network.yaml").exists())
    return sorted(names, key=lambda name: name != DEMO)


def load_network(folder: Path | str, voices: str = "espeak") -> Network:
    """Read `folder/network.yaml` (the truth) with its media for the voice condition `voices`: `espeak` in
    `folder/media`, `neural` in `folder/media-neural` (see `voices.py`). A bare name that is not a folder here
    (`demo`, `harbor`) is one of the packaged networks."""
    if voices not in VOICE_CONDITIONS:
        raise NetworkError(f"unknown voices {voices!r}: one of {', '.join(VOICE_CONDITIONS)}")
    folder = Path(folder)
    if not folder.exists() and len(folder.parts) == 1 and (NETWORKS_DIR / folder / "network.yaml").exists():
        folder = NETWORKS_DIR / folder
    path = folder / "network.yaml"
    if not path.exists():
        raise NetworkError(f"{path} not found: a network folder holds network.yaml and media/")
    raw = yaml.safe_load(path.read_text())
    shows = []
    for show in raw["shows"]:
        episodes = tuple(
            NetworkEpisode(
                episode["slug"],
                episode["title"],
                _datetime(episode["published_at"]),
                tuple(_turn(t, f"{path}: {episode['slug']} turn {i}") for i, t in enumerate(episode["turns"])),
                episode.get("description", ""),
                bool(episode.get("publisher_transcript", False)),
            )
            for episode in show["episodes"]
        )
        shows.append(
            NetworkShow(
                show["slug"],
                show["title"],
                show.get("description", ""),
                show.get("feed_format", "rss"),
                episodes,
                show.get("voices", {}),
            )
        )
    subscribers = tuple(
        Subscriber(
            s["email"],
            s.get("name", ""),
            ", ".join(s["interests"]) if isinstance(s["interests"], list) else str(s["interests"]),
            s.get("theme"),
        )
        for s in raw.get("subscribers", [])
    )
    day = raw["day"] if isinstance(raw["day"], dt.date) else dt.date.fromisoformat(str(raw["day"]))
    return Network(
        raw["name"],
        day,
        tuple(shows),
        subscribers,
        folder / VOICE_CONDITIONS[voices],
        dict(raw.get("voices", {})),
        float(raw.get("pause_s", 0.6)),
    )


@functools.cache
def demo_network() -> Network:
    """The built-in demo network (`networks/demo`), loaded once per process."""
    return load_network(DEMO)
