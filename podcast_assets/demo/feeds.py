"""Render the demo network (network.py + media/) as RSS/Atom feeds, MP3s and VTT transcripts on a SiteServer."""

from __future__ import annotations

import email.utils
import json
from importlib import resources as package_files

import jinja2

from podcast_assets.demo.network import SHOWS, Episode, Show
from podcast_assets.demo.server import Resource, SiteServer

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("podcast_assets", "templates"), autoescape=jinja2.select_autoescape(["xml"])
)


def media_bytes(name: str) -> bytes:
    return package_files.files("podcast_assets.demo").joinpath("media", name).read_bytes()


def manifest() -> dict[str, list[dict]]:
    return json.loads(media_bytes("manifest.json"))


def episode_vtt(episode: Episode) -> str:
    """A WebVTT transcript with voice tags, timed from the paragraph spans measured when the audio was made."""

    def stamp(seconds: float) -> str:
        hours, rest = divmod(seconds, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{int(hours):02d}:{int(minutes):02d}:{secs:06.3f}"

    cues = ["WEBVTT", ""]
    for paragraph, span in zip(episode.paragraphs, manifest()[episode.slug], strict=True):
        cues += [f"{stamp(span['start_s'])} --> {stamp(span['end_s'])}", f"<v {span['speaker']}>{paragraph.text}", ""]
    return "\n".join(cues)


def feed_path(show: Show) -> str:
    return f"/feeds/{show.slug}.xml"


def render_feed(show: Show, base_url: str) -> tuple[bytes, str]:
    episodes = [
        {
            "guid": f"{base_url}/episodes/{e.slug}",
            "title": e.title,
            "link": f"{base_url}/episodes/{e.slug}",
            "pub_date": email.utils.format_datetime(e.published_at, usegmt=True),
            "updated": e.published_at.isoformat(),
            "audio_url": f"{base_url}/media/{e.slug}.mp3",
            "audio_length": len(media_bytes(f"{e.slug}.mp3")),
            "transcript_url": f"{base_url}/transcripts/{e.slug}.vtt" if e.publisher_transcript else None,
            "summary": " ".join(p.text for p in e.paragraphs if p.kind == "insight")[:300],
        }
        for e in show.episodes
    ]
    template = "atom.xml.j2" if show.feed_format == "atom" else "rss.xml.j2"
    body = _TEMPLATES.get_template(template).render(show=show, base_url=base_url, episodes=episodes)
    return body.encode(), "application/atom+xml" if show.feed_format == "atom" else "application/rss+xml"


def publish_network(server: SiteServer) -> list[str]:
    """Put every demo show on `server`; returns the feed URLs."""
    urls = []
    for show in SHOWS:
        body, content_type = render_feed(show, server.base_url)
        server.site.resources[feed_path(show)] = Resource(body, content_type)
        for episode in show.episodes:
            server.site.resources[f"/media/{episode.slug}.mp3"] = Resource(
                media_bytes(f"{episode.slug}.mp3"), "audio/mpeg"
            )
            if episode.publisher_transcript:
                server.site.resources[f"/transcripts/{episode.slug}.vtt"] = Resource(
                    episode_vtt(episode).encode(), "text/vtt"
                )
        urls.append(server.url(feed_path(show)))
    return urls
