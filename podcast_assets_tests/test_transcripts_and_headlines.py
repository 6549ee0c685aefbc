"""The transcripts asset on bad audio and broken publisher transcripts; insights when the LLM writer is down (the
writer itself: test_insight_writer.py)."""

import datetime as dt
import io
import wave

import dagster as dg
import polars as pl

from podcast_assets.assets.episodes import episodes
from podcast_assets.assets.insights import insights
from podcast_assets.assets.transcripts import transcripts
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.evaluation.server import Resource, SiteServer
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.headlines import HeadlineWriterResource
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)


def _silent_wav(seconds: float = 4.0) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(b"\x00\x00" * int(16_000 * seconds))
    return buffer.getvalue()


def _feed(base: str) -> bytes:
    def item(title, path, kind="audio/mpeg", extra=""):
        return (
            f"<item><title>{title}</title><guid>{title}</guid><pubDate>Tue, 24 Nov 2026 08:00:00 GMT</pubDate>"
            f'<enclosure url="{base}{path}" type="{kind}" length="1"/>{extra}</item>'
        )

    items = [
        item("Silent", "/silent.wav", "audio/wav"),
        item("Truncated", "/truncated.mp3"),
        item(
            "Broken transcript link",
            "/good.mp3",
            extra=f'<podcast:transcript url="{base}/missing.vtt" type="text/vtt"/>',
        ),
        item(
            "Unparseable transcript",
            "/good.mp3?copy=2",
            extra=f'<podcast:transcript url="{base}/bad.vtt" type="text/vtt"/>',
        ),
    ]
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>Edge cases</title>{''.join(items)}</channel></rss>"
    ).encode()


def test_bad_audio_and_broken_publisher_transcripts_are_recorded_not_fatal(home):
    good = media_bytes("grid-report-40.mp3")
    with SiteServer() as site:
        site.site.resources.update(
            {
                "/silent.wav": Resource(_silent_wav(), "audio/wav"),
                "/truncated.mp3": Resource(good[: len(good) // 2], "audio/mpeg"),
                "/good.mp3": Resource(good, "audio/mpeg"),
                "/bad.vtt": Resource(b"this is not a transcript", "text/vtt"),
                "/feed.xml": Resource(_feed(site.base_url), "application/rss+xml"),
            }
        )
        add_feed(CatalogResource(), site.url("/feed.xml"))
        result = dg.materialize(
            [episodes, transcripts, insights],
            partition_key=DAY.isoformat(),
            resources={
                "warehouse": WarehouseResource(),
                "catalog": CatalogResource(),
                "http": HttpClientResource(),
                "media": MediaStoreResource(),
                "transcriber": TranscriberResource(device="cpu"),
                "embedder": EmbedderResource(device="cpu"),
                "headline_writer": HeadlineWriterResource(),
            },
        )
    assert result.success
    assert all(e.passed for e in result.get_asset_check_evaluations())
    status = WarehouseResource().query(
        "SELECT e.title, s.status, s.source, s.error, s.n_segments FROM transcript_status s "
        "JOIN episodes e USING (partition_date, episode_id) ORDER BY e.title"
    )
    rows = {r["title"]: r for r in status.to_dicts()}
    assert rows["Silent"]["status"] == "empty" and rows["Silent"]["error"].startswith("silent audio")
    assert rows["Truncated"]["status"] == "ok" and rows["Truncated"]["n_segments"] >= 1
    assert rows["Broken transcript link"]["source"] == "asr" and rows["Broken transcript link"]["status"] == "ok"
    assert "HTTP 404" in rows["Broken transcript link"]["error"]  # kept as a note: ASR was used instead
    assert rows["Unparseable transcript"]["source"] == "asr"
    assert "publisher transcript unusable" in rows["Unparseable transcript"]["error"]
    metadata = result.asset_materializations_for_node("transcripts")[0].metadata
    assert metadata["episodes_asr"].value == 4 and metadata["real_time_factor"].value > 1
    assert metadata["device"].value == "cpu"


def test_insights_fall_back_when_the_headline_service_fails(home):
    warehouse = WarehouseResource()
    warehouse.replace_partition(
        "transcripts",
        DAY,
        pl.DataFrame(
            {
                "partition_date": [DAY],
                "episode_id": ["ep"],
                "segment_index": [0],
                "start_s": [0.0],
                "end_s": [9.0],
                "text": [
                    "Recycling plants now recover more than ninety percent of the lithium from old car batteries."
                ],
                "speaker": [None],
                "source": ["asr"],
                "model": ["tiny.en"],
                "language": ["en"],
            },
            schema_overrides={"speaker": pl.String},
        ),
    )
    result = dg.materialize(
        [insights],
        partition_key=DAY.isoformat(),
        resources={
            "warehouse": warehouse,
            "catalog": CatalogResource(),
            "embedder": EmbedderResource(device="cpu"),
            "headline_writer": HeadlineWriterResource(base_url="http://127.0.0.1:9", timeout_s=2),
        },
    )
    assert result.success
    rows = warehouse.query("SELECT text, headline FROM insights").to_dicts()
    assert rows == [
        {
            "text": "Recycling plants now recover more than ninety percent of the lithium from old car batteries.",
            "headline": None,
        }
    ]
