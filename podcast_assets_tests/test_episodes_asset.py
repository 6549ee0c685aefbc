"""The episodes asset against a real HTTP server: happy path and every per-item failure."""

import datetime as dt
import errno
from pathlib import Path

import dagster as dg
import pytest

from podcast_assets.assets.episodes import episodes
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.evaluation.server import Resource
from podcast_assets.operations.retention import audio_retention_job
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)
MP3 = media_bytes("deep-rest-8.mp3")


def _item(title: str, guid: str | None, audio_path: str | None, day: dt.date = DAY, extra: str = "") -> str:
    guid_xml = f"<guid>{guid}</guid>" if guid else ""
    enclosure = f'<enclosure url="{{base}}{audio_path}" type="audio/mpeg" length="100"/>' if audio_path else ""
    return (
        f"<item><title>{title}</title>{guid_xml}<pubDate>{day:%a, %d %b %Y} 10:00:00 GMT</pubDate>"
        f"{enclosure}{extra}</item>"
    )


def _rss(base: str, items: list[str]) -> bytes:
    body = "".join(items).replace("{base}", base)
    return (
        '<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">'
        f"<channel><title>Test show</title>{body}</channel></rss>"
    ).encode()


@pytest.fixture
def world(home, site):
    base = site.base_url
    site.site.resources.update(
        {
            "/good.mp3": Resource(MP3, "audio/mpeg"),
            "/other-day.mp3": Resource(MP3, "audio/mpeg"),
            "/corrupt.mp3": Resource(b"ID3\x04\x00" + b"\x00garbage" * 500, "audio/mpeg"),
            "/error-page.mp3": Resource(b"<!DOCTYPE html><html>Oops</html>", "text/html"),
            "/big.mp3": Resource(MP3, "audio/mpeg"),
            "/t.vtt": Resource(b"WEBVTT\n\n00:00:00.000 --> 00:00:02.000\n<v Ann>Hello.\n", "text/vtt"),
            "/bad.xml": Resource(b"<rss><channel><title>broken", "application/rss+xml"),
        }
    )
    site.site.redirects["/moved.mp3"] = "/big.mp3"
    items = [
        _item("Good", "good", "/good.mp3", extra=f'<podcast:transcript url="{base}/t.vtt" type="text/vtt"/>'),
        _item("Good again (duplicate guid)", "good", "/good.mp3"),
        _item("Redirected, no guid", None, "/moved.mp3"),
        _item("Dead link", "dead", "/missing.mp3"),
        _item("Corrupt", "corrupt", "/corrupt.mp3"),
        _item("Not audio", "html", "/error-page.mp3"),
        _item("No enclosure", "none", None),
        _item("Yesterday", "y", "/other-day.mp3", day=DAY - dt.timedelta(days=1)),
    ]
    site.site.resources["/feed.xml"] = Resource(_rss(base, items), "application/rss+xml")
    warehouse = WarehouseResource()
    add_feed(CatalogResource(), site.url("/feed.xml"))
    add_feed(CatalogResource(), site.url("/bad.xml"))
    add_feed(CatalogResource(), site.url("/gone.xml"))
    return warehouse


def _materialize(day: dt.date, http: HttpClientResource | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [episodes],
        partition_key=day.isoformat(),
        resources={
            "warehouse": WarehouseResource(),
            "catalog": CatalogResource(),
            "http": http or HttpClientResource(timeout_s=5),
            "media": MediaStoreResource(),
        },
    )


def test_episodes_day_with_failures_recorded_per_item(world, site):
    result = _materialize(DAY)
    assert result.success
    rows = {r["title"]: r for r in world.query("SELECT * FROM episodes WHERE partition_date = ?", [DAY]).to_dicts()}
    assert set(rows) == {"Good", "Redirected, no guid", "Dead link", "Corrupt", "Not audio", "No enclosure"}
    good = rows["Good"]
    assert good["status"] == "ok" and good["error"] is None
    assert Path(good["audio_path"]).read_bytes() == MP3
    assert len(good["audio_sha256"]) == 64 and good["duration_s"] == pytest.approx(45.0, abs=15)
    assert good["transcript_type"] == "text/vtt" and Path(good["transcript_path"]).read_text().startswith("WEBVTT")
    assert rows["Redirected, no guid"]["status"] == "ok"  # redirects followed; id from the enclosure URL
    assert rows["Dead link"]["status"] == "failed" and "HTTP 404" in rows["Dead link"]["error"]
    assert rows["Corrupt"]["status"] == "failed" and "corrupt" in rows["Corrupt"]["error"]
    assert rows["Not audio"]["status"] == "failed" and rows["Not audio"]["error"].startswith("not audio")
    assert rows["No enclosure"]["error"] == "malformed item: no audio enclosure"

    feeds = {r["feed_url"]: r for r in world.query("SELECT * FROM feeds").to_dicts()}
    assert feeds[site.url("/feed.xml")]["last_error"] is None
    assert "malformed feed" in feeds[site.url("/bad.xml")]["last_error"]
    assert "HTTP 404" in feeds[site.url("/gone.xml")]["last_error"]

    materialization = result.asset_materializations_for_node("episodes")[0]
    assert materialization.metadata["episodes_failed"].value == 4
    assert materialization.metadata["dagster/row_count"].value == 6
    assert result.get_asset_check_evaluations()[0].passed


def test_rerun_replaces_the_day_uses_conditional_get_and_leaves_other_days(world, site):
    assert _materialize(DAY).success
    assert _materialize(DAY - dt.timedelta(days=1)).success
    before = world.query("SELECT * FROM episodes ORDER BY partition_date, episode_id").drop("fetched_at")
    audio_requests = site.site.requests["/good.mp3"]
    assert _materialize(DAY).success
    after = world.query("SELECT * FROM episodes ORDER BY partition_date, episode_id").drop("fetched_at")
    assert after.equals(before)
    assert after.filter(after["partition_date"] == DAY - dt.timedelta(days=1))["title"].to_list() == ["Yesterday"]
    assert world.query("SELECT episode_id FROM episodes GROUP BY 1 HAVING count(*) > 1").is_empty()
    # The second poll was answered 304 (ETag) and the same audio was not downloaded again.
    feed = world.query("SELECT last_status FROM feeds WHERE feed_url = ?", [site.url("/feed.xml")])
    assert feed["last_status"][0] == 304
    assert site.site.requests["/good.mp3"] == audio_requests


def test_oversized_and_slow_enclosures_fail_with_specific_errors(world, site):
    site.site.resources["/good.mp3"].delay_s = 3
    result = _materialize(DAY, HttpClientResource(timeout_s=1, max_audio_bytes=len(MP3) - 1))
    assert result.success
    rows = {r["title"]: r for r in world.query("SELECT * FROM episodes WHERE partition_date = ?", [DAY]).to_dicts()}
    assert rows["Good"]["status"] == "failed" and rows["Good"]["error"].startswith("timeout")
    assert rows["Redirected, no guid"]["status"] == "failed"
    assert "too large" in rows["Redirected, no guid"]["error"]


def test_a_full_disk_fails_that_episode_with_disk_full_and_the_day_goes_on(world, monkeypatch):
    """ENOSPC while writing one episode's audio: that row is failed with 'disk full: ...', nothing half written is
    kept, the other episodes and the table are intact."""
    original = HttpClientResource._download_once

    def full_disk_for_good(self, url, destination, max_bytes, require_audio):
        if url.endswith("/good.mp3"):
            destination.parent.mkdir(parents=True, exist_ok=True)
            (destination.parent / ".part-enospc").write_bytes(MP3[:100])  # what a write cut short leaves...
            (destination.parent / ".part-enospc").unlink()  # ...and the downloader's cleanup removes
            raise OSError(errno.ENOSPC, "No space left on device", str(destination))
        return original(self, url, destination, max_bytes, require_audio)

    monkeypatch.setattr(HttpClientResource, "_download_once", full_disk_for_good)
    result = _materialize(DAY)
    assert result.success
    rows = {r["title"]: r for r in world.query("SELECT * FROM episodes WHERE partition_date = ?", [DAY]).to_dicts()}
    assert rows["Good"]["status"] == "failed"
    assert rows["Good"]["error"].startswith("disk full: ") and "No space left on device" in rows["Good"]["error"]
    assert rows["Good"]["audio_path"] is None
    assert rows["Redirected, no guid"]["status"] == "ok"  # the rest of the day went on
    assert len(rows) == 6 and world.query("SELECT episode_id FROM episodes GROUP BY 1 HAVING count(*) > 1").is_empty()

    # Space freed: the next run of the day downloads it.
    monkeypatch.setattr(HttpClientResource, "_download_once", original)
    assert _materialize(DAY).success
    good = world.query("SELECT * FROM episodes WHERE partition_date = ? AND title = 'Good'", [DAY]).to_dicts()[0]
    assert good["status"] == "ok" and Path(good["audio_path"]).read_bytes() == MP3


def test_a_full_disk_while_storing_to_the_media_store_is_recorded_too(world, monkeypatch):
    def no_space(self, local_path, key):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(MediaStoreResource, "store", no_space)
    assert _materialize(DAY).success
    statuses = world.query(
        "SELECT status, error FROM episodes WHERE partition_date = ? AND audio_url IS NOT NULL", [DAY]
    )
    disk_full = statuses.filter(statuses["error"].str.starts_with("disk full: "))
    assert disk_full.height == 2  # Good and the redirected one; the others failed before storing


def test_audio_retention_deletes_old_audio_marks_rows_and_a_rerun_downloads_again(world, home, monkeypatch):
    assert _materialize(DAY).success
    kept = world.query("SELECT audio_path, audio_bytes FROM episodes WHERE partition_date = ? AND status = 'ok'", [DAY])
    assert kept.height == 2 and all(Path(p).exists() for p in kept["audio_path"])
    (home / "audio" / "2026-10-01").mkdir(parents=True)
    (home / "audio" / "2026-10-01" / "left-over.mp3").write_bytes(b"x" * 10)

    resources = {"warehouse": WarehouseResource(), "catalog": CatalogResource(), "media": MediaStoreResource()}
    monkeypatch.setenv("PODCAST_BRIEF_AUDIO_RETENTION_DAYS", "7")
    too_soon = audio_retention_job.execute_in_process(
        resources=resources, tags={"dagster/scheduled_execution_time": "2026-11-30T04:00:00+00:00"}
    )
    assert too_soon.output_for_node("delete_expired_audio")["files_deleted"] == 1  # only the left-over folder
    assert all(Path(p).exists() for p in kept["audio_path"])

    result = audio_retention_job.execute_in_process(
        resources=resources, tags={"dagster/scheduled_execution_time": "2026-12-02T04:00:00+00:00"}
    )
    outcome = result.output_for_node("delete_expired_audio")
    assert outcome["retention_days"] == 7 and outcome["cutoff_day"] == "2026-11-25"
    # The two kept files, and the corrupt download that was never kept (swept with its day folder).
    assert outcome["episodes_marked"] == 2 and outcome["files_deleted"] == 3
    assert outcome["bytes_deleted"] > int(kept["audio_bytes"].sum())
    assert not (home / "audio" / DAY.isoformat()).exists()
    assert not any(Path(p).exists() for p in kept["audio_path"])
    rows = world.query("SELECT * FROM episodes WHERE partition_date = ? AND status = 'ok'", [DAY])
    assert rows["audio_path"].is_null().all() and rows["audio_deleted_at"].is_not_null().all()
    assert rows["audio_sha256"].is_not_null().all()  # what transcripts' reuse is keyed on
    again = audio_retention_job.execute_in_process(
        resources=resources, tags={"dagster/scheduled_execution_time": "2026-12-02T04:00:00+00:00"}
    )
    assert again.output_for_node("delete_expired_audio")["files_deleted"] == 0  # idempotent

    # A re-run of the old day downloads the audio again and clears the mark.
    assert _materialize(DAY).success
    rows = world.query("SELECT * FROM episodes WHERE partition_date = ? AND status = 'ok'", [DAY])
    assert rows["audio_deleted_at"].is_null().all() and all(Path(p).exists() for p in rows["audio_path"])


def test_retention_is_registered_with_a_daily_schedule_and_the_field_overrides_the_env(monkeypatch):
    from podcast_assets.definitions import defs

    schedule = defs.resolve_schedule_def("audio_retention_schedule")
    assert schedule.job_name == "audio_retention" and schedule.cron_schedule == "0 4 * * *"
    monkeypatch.delenv("PODCAST_BRIEF_AUDIO_RETENTION_DAYS", raising=False)
    assert MediaStoreResource().audio_retention_days() == 30
    monkeypatch.setenv("PODCAST_BRIEF_AUDIO_RETENTION_DAYS", "3")
    assert MediaStoreResource().audio_retention_days() == 3
    assert MediaStoreResource(retention_days=90).audio_retention_days() == 90


def test_transcripts_of_an_episode_whose_audio_was_deleted_is_a_clear_failure():
    from podcast_assets.assets.transcripts import _transcribe_episode
    from podcast_assets.resources.transcriber import TranscriberResource

    episode = {
        "episode_id": "e1",
        "duration_s": 60.0,
        "transcript_error": None,
        "transcript_path": None,
        "audio_path": None,
        "audio_deleted_at": dt.datetime(2026, 12, 2, 4, 0),
    }
    segments, status = _transcribe_episode(episode, TranscriberResource(), MediaStoreResource())
    assert segments == []
    assert status["status"] == "failed"
    assert status["error"] == (
        "audio deleted by retention on 2026-12-02; re-run episodes for this day to download it again"
    )
