"""A real `episodes` run over feeds as the world writes them, served over HTTP on 127.0.0.1: CJK encodings, an
encoding nobody knows, a charset only in the HTTP header, an image before the audio, audio only in Media RSS,
relative URLs, an enclosure that turns out not to be audio, impossible dates and lengths, and a feed that makes
the parser raise something nobody foresaw. Every good episode is written; every bad feed has its `last_error`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import pytest

import podcast_assets.assets.episodes as episodes_module
from podcast_assets.assets.episodes import episodes
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed
from podcast_assets.evaluation.feeds import media_bytes
from podcast_assets.evaluation.server import Resource
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)
MP3 = media_bytes("deep-rest-8.mp3")
PUB_DATE = f"{DAY:%a, %d %b %Y} 10:00:00 GMT"


def _feed(items: str, title: str, encoding: str | None = None, namespaces: str = "") -> str:
    declaration = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else '<?xml version="1.0"?>'
    return f'{declaration}<rss version="2.0" {namespaces}><channel><title>{title}</title>{items}</channel></rss>'


def _item(title: str, guid: str, body: str, pub_date: str = PUB_DATE) -> str:
    return f"<item><title>{title}</title><guid>{guid}</guid><pubDate>{pub_date}</pubDate>{body}</item>"


@pytest.fixture
def world(home, site, monkeypatch):
    base = site.base_url
    for path in ("/big5.mp3", "/sjis.mp3", "/shows/cover/a.mp3", "/media.m4a", "/second.mp3", "/good.mp3"):
        site.site.resources[path] = Resource(MP3, "audio/mpeg")
    site.site.resources["/shows/cover/cover.jpg"] = Resource(b"\xff\xd8\xff\xe0 not audio", "image/jpeg")
    site.site.resources["/page.bin"] = Resource(b"<!doctype html><p>moved</p>", "text/html")

    big5 = _feed(
        _item("科技新聞：電池回收", "b-1", f'<enclosure url="{base}/big5.mp3" type="audio/mpeg"/>'), "台灣播客", "big5"
    )
    header_only = _feed(
        _item("ニュースの時間", "s-1", f'<enclosure url="{base}/sjis.mp3" type="audio/mpeg" length="&#178;"/>'),
        "日本の番組",
    )
    oddities = _feed(
        _item(
            "Lo&amp;#239;c &amp;amp; the &lt;b&gt;cover&lt;/b&gt;",
            "o-1",
            '<enclosure url="cover/cover.jpg" type="image/jpeg"/><enclosure url="cover/a.mp3" type="audio/mpeg"/>',
        )
        + _item("Media only", "o-2", f'<media:content url="{base}/media.m4a" type="audio/mp4" medium="audio"/>')
        + _item(
            "Probed",
            "o-3",
            f'<enclosure url="{base}/page.bin" type="application/octet-stream"/>'
            f'<enclosure url="{base}/second.mp3" type="application/octet-stream"/>',
        )
        + _item(
            "Year 9999", "o-4", f'<enclosure url="{base}/good.mp3" type="audio/mpeg"/>', "Fri, 31 Dec 9999 23:59:59 GMT"
        )
        + _item(
            "Year zero", "o-5", f'<enclosure url="{base}/good.mp3" type="audio/mpeg"/>', "Sat, 01 Jan 0000 00:00:00 GMT"
        ),
        "Odd show",
        namespaces='xmlns:media="http://search.yahoo.com/mrss/"',
    )
    bogus = _feed(_item("Bogus", "x-1", f'<enclosure url="{base}/good.mp3" type="audio/mpeg"/>'), "Bogus", "x-bogus-9")
    good = _feed(_item("Good one", "g-1", f'<enclosure url="{base}/good.mp3" type="audio/mpeg"/>'), "Good show")
    crashing = _feed(_item("Never read", "c-1", f'<enclosure url="{base}/good.mp3" type="audio/mpeg"/>'), "Crash")
    feeds = {
        "/big5.xml": (big5.encode("big5"), "application/rss+xml"),
        "/sjis.xml": (header_only.encode("shift_jis"), "text/xml; charset=Shift_JIS"),
        "/shows/odd.xml": (oddities.encode(), "application/rss+xml"),
        "/bogus.xml": (bogus.encode(), "application/rss+xml"),
        "/good.xml": (good.encode(), "application/rss+xml"),
        "/crash.xml": (crashing.encode(), "application/rss+xml"),
    }
    for path, (body, content_type) in feeds.items():
        site.site.resources[path] = Resource(body, content_type)
        add_feed(CatalogResource(), site.url(path))

    # A bug that only this feed meets (the parser raising what nobody foresaw): it must stay this feed's problem.
    real_parse = episodes_module.parse_feed

    def parse_or_crash(document: bytes, url: str | None = None, content_type: str | None = None):
        if url == site.url("/crash.xml"):
            raise RuntimeError("a parser bug only this feed meets")
        return real_parse(document, url, content_type)

    monkeypatch.setattr(episodes_module, "parse_feed", parse_or_crash)
    return WarehouseResource()


def _materialize(instance: dg.DagsterInstance | None = None) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [episodes],
        instance=instance,
        partition_key=DAY.isoformat(),
        resources={
            "warehouse": WarehouseResource(),
            "catalog": CatalogResource(),
            "http": HttpClientResource(timeout_s=5),
            "media": MediaStoreResource(),
        },
    )


def test_one_odd_feed_never_fails_the_day_and_every_good_episode_is_written(world, site):
    instance = dg.DagsterInstance.ephemeral()
    result = _materialize(instance)
    assert result.success

    errors = {r["feed_url"]: r["last_error"] for r in world.query("SELECT feed_url, last_error FROM feeds").to_dicts()}
    assert errors[site.url("/big5.xml")] is None and errors[site.url("/sjis.xml")] is None
    assert errors[site.url("/good.xml")] is None
    assert errors[site.url("/bogus.xml")].startswith("XML declaration 'x-bogus-9' is not a known encoding")
    assert errors[site.url("/crash.xml")] == "RuntimeError: a parser bug only this feed meets"  # no traceback
    logs = "\n".join(entry.user_message for entry in instance.all_logs(result.run_id))
    assert "Traceback" in logs and "a parser bug only this feed meets" in logs  # the traceback is in the run log

    rows = {r["title"]: r for r in world.query("SELECT * FROM episodes WHERE partition_date = ?", [DAY]).to_dicts()}
    assert rows["科技新聞：電池回收"]["show_title"] == "台灣播客"
    assert rows["ニュースの時間"]["show_title"] == "日本の番組"
    html_title = "Loïc & the cover"
    assert rows[html_title]["audio_url"] == site.url("/shows/cover/a.mp3")  # the audio, not the image; resolved
    assert rows["Media only"]["audio_url"] == site.url("/media.m4a")
    assert rows["Probed"]["audio_url"] == site.url("/second.mp3")  # the first file was a web page
    for title in ("科技新聞：電池回收", "ニュースの時間", html_title, "Media only", "Probed", "Bogus", "Good one"):
        assert rows[title]["status"] == "ok", (title, rows[title]["error"])
        assert Path(rows[title]["audio_path"]).read_bytes() == MP3
    # Year zero is out of what a timestamp holds: a recorded failure, not a crash. Year 9999 is another day's.
    assert rows["Year zero"]["status"] == "failed"
    assert rows["Year zero"]["error"] == "malformed item: no parseable publication date"
    assert "Year 9999" not in rows and "Never read" not in rows

    # The next run converges: the same rows, the crashing feed still recorded.
    again = _materialize()
    assert again.success
    after = world.query("SELECT title, status FROM episodes WHERE partition_date = ? ORDER BY title", [DAY])
    assert sorted((r["title"], r["status"]) for r in rows.values()) == [tuple(r.values()) for r in after.to_dicts()]
