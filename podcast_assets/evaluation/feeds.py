"""Render a labeled network (the demo by default) as RSS/Atom feeds, MP3s and VTT transcripts on a SiteServer."""

from __future__ import annotations

import email.utils
import json

import jinja2

from podcast_assets.evaluation.network import Network, NetworkEpisode, NetworkShow, demo_network
from podcast_assets.evaluation.server import Resource, SiteServer

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("podcast_assets", "templates"), autoescape=jinja2.select_autoescape(["xml"])
)


def media_bytes(name: str, network: Network | None = None) -> bytes:
    return ((network or demo_network()).media_dir / name).read_bytes()


def manifest(network: Network | None = None) -> dict[str, list[dict]]:
    return json.loads(media_bytes("manifest.json", network))


def episode_vtt(episode: NetworkEpisode, spans: list[dict]) -> str:
    """A WebVTT transcript with voice tags, timed from the turn spans measured when the audio was made."""

    def stamp(seconds: float) -> str:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"

    cues = ["WEBVTT", ""]
    for turn, span in zip(episode.turns, spans, strict=True):
        cues += [f"{stamp(span['start_s'])} --> {stamp(span['end_s'])}", f"<v {span['speaker']}>{turn.text}", ""]
    return "\n".join(cues)


def feed_path(show: NetworkShow) -> str:
    return f"/feeds/{show.slug}.xml"


def render_feed(show: NetworkShow, base_url: str, network: Network | None = None) -> tuple[bytes, str]:
    network = network or demo_network()
    episodes = [
        {
            "guid": f"{base_url}/episodes/{e.slug}",
            "title": e.title,
            "link": f"{base_url}/episodes/{e.slug}",
            "pub_date": email.utils.format_datetime(e.published_at, usegmt=True),
            "updated": e.published_at.isoformat(),
            "audio_url": f"{base_url}/media/{e.slug}.mp3",
            "audio_length": (network.media_dir / f"{e.slug}.mp3").stat().st_size,
            "transcript_url": f"{base_url}/transcripts/{e.slug}.vtt" if e.publisher_transcript else None,
            "summary": e.description or e.title,
        }
        for e in show.episodes
    ]
    template = "atom.xml.j2" if show.feed_format == "atom" else "rss.xml.j2"
    body = _TEMPLATES.get_template(template).render(show=show, base_url=base_url, episodes=episodes)
    return body.encode(), "application/atom+xml" if show.feed_format == "atom" else "application/rss+xml"


def publish_network(server: SiteServer, network: Network | None = None) -> list[str]:
    """Put every show of `network` (default: the demo) on `server`; returns the feed URLs."""
    network = network or demo_network()
    spans = manifest(network)
    urls = []
    for show in network.shows:
        body, content_type = render_feed(show, server.base_url, network)
        server.site.resources[feed_path(show)] = Resource(body, content_type)
        for episode in show.episodes:
            server.site.resources[f"/media/{episode.slug}.mp3"] = Resource(
                media_bytes(f"{episode.slug}.mp3", network), "audio/mpeg"
            )
            if episode.publisher_transcript:
                server.site.resources[f"/transcripts/{episode.slug}.vtt"] = Resource(
                    episode_vtt(episode, spans[episode.slug]).encode(), "text/vtt"
                )
        urls.append(server.url(feed_path(show)))
    return urls
