"""Feed parsing, episode identity and publisher transcript formats, on real documents."""

import datetime as dt

import pytest

from podcast_assets.core.episodes import day_items
from podcast_assets.core.rss import FeedParseError, episode_id_for, parse_feed
from podcast_assets.core.transcript_formats import TranscriptFormatError, parse_transcript
from podcast_assets_tests.conftest import real_fixture


def test_podcasting_2_0_example_feed_parses_items_enclosures_and_transcripts():
    feed = parse_feed(real_fixture("pc20_example.xml").read_bytes())
    assert feed.title == "Podcasting 2.0 Namespace Example"
    assert [item.guid for item in feed.items] == [
        "https://example.com/ep0003",
        "https://example.com/ep0002",
        "https://example.com/ep0001",
    ]
    assert [item.audio_url for item in feed.items] == [
        "https://example.com/file-03.mp3",
        "https://example.com/file-02.mp3",
        "https://example.com/file-01.mp3",
    ]
    assert feed.items[0].audio_type == "audio/mpeg"
    # feedparser alone keeps only the last podcast:transcript of an item; we keep both. The VTT is Spanish captions
    # of an en-US feed: the English full transcript is the one used, though it is untimed.
    first = feed.items[0]
    assert {(t.url, t.type) for t in first.transcripts} == {
        ("https://example.com/ep3/transcript.txt", "text/plain"),
        ("https://example.com/episode1/transcript.vtt", "text/vtt"),
    }
    assert first.best_transcript().url == "https://example.com/ep3/transcript.txt"
    assert first.language == "en-US"
    assert feed.items[2].best_transcript().url == "https://example.com/ep1/transcript.txt"
    assert feed.items[0].published_at == dt.datetime(2020, 10, 9, 4, 30, 38, tzinfo=dt.UTC)


def test_malformed_xml_is_a_clear_error():
    with pytest.raises(FeedParseError):
        parse_feed(b"<html><body>this is not a feed")


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>A</title><guid>g-1</guid><pubDate>Tue, 24 Nov 2026 10:00:00 GMT</pubDate>
<enclosure url="http://x/a.mp3" type="audio/mpeg" length="1"/></item>
<item><title>A again</title><guid>g-1</guid><pubDate>Tue, 24 Nov 2026 11:00:00 GMT</pubDate>
<enclosure url="http://x/a2.mp3" type="audio/mpeg" length="1"/></item>
<item><title>No guid</title><pubDate>Tue, 24 Nov 2026 12:00:00 GMT</pubDate>
<enclosure url="http://x/b.mp3" type="audio/mpeg" length="1"/></item>
<item><title>No audio</title><guid>g-3</guid><pubDate>Tue, 24 Nov 2026 13:00:00 GMT</pubDate></item>
<item><title>Other day</title><guid>g-4</guid><pubDate>Mon, 23 Nov 2026 13:00:00 GMT</pubDate>
<enclosure url="http://x/c.mp3" type="audio/mpeg" length="1"/></item>
</channel></rss>"""


def test_day_items_dedupe_guids_fall_back_to_enclosure_and_flag_malformed_items():
    feed = parse_feed(RSS)
    items, duplicates = day_items("http://x/feed", feed, dt.date(2026, 11, 24), seen_on_other_days=set())
    assert duplicates == 1
    assert [i.item.title for i in items] == ["A", "No guid", "No audio"]
    assert items[0].episode_id == episode_id_for("http://x/feed", "g-1", None)
    assert items[1].episode_id == episode_id_for("http://x/feed", None, "http://x/b.mp3")
    assert items[2].problem == "malformed item: no audio enclosure"
    # Seen under another day already (a re-dated item): not duplicated into this day.
    again, skipped = day_items("http://x/feed", feed, dt.date(2026, 11, 24), {items[0].episode_id})
    assert skipped == 2 and [i.item.title for i in again] == ["No guid", "No audio"]


def test_vtt_voice_tags_become_speakers():
    segments = parse_transcript(real_fixture("pc20_transcript_example.vtt").read_text(), "text/vtt")
    assert {s.speaker for s in segments} == {"Sarah", "Gillian"}
    assert segments[0].start_s == 0.0 and segments[0].end_s == pytest.approx(2.76)
    assert "Podcasting Q&A" in segments[2].text  # entities decoded
    assert all(a.start_s <= b.start_s for a, b in zip(segments, segments[1:], strict=False))


def test_html_transcript_segments_are_timed_from_time_tags():
    segments = parse_transcript(real_fixture("pc20_transcript_example.html").read_text(), "text/html", 700.0)
    assert segments[0].speaker == "Travis" and segments[1].speaker == "Sarah"
    assert segments[0].end_s == segments[1].start_s == 53.0
    assert segments[-1].end_s == 700.0


def test_srt_json_and_text_transcripts():
    srt = "1\n00:00:01,500 --> 00:00:03,000\nHello there.\n\n2\n00:00:03,000 --> 00:00:05,250\nSecond line.\n"
    assert [(s.start_s, s.end_s, s.text) for s in parse_transcript(srt, "application/x-subrip")] == [
        (1.5, 3.0, "Hello there."),
        (3.0, 5.25, "Second line."),
    ]
    json_doc = '{"version": "1.0.0", "segments": [{"speaker": "Ann", "startTime": 0.5, "endTime": 2, "body": "Hi"}]}'
    assert parse_transcript(json_doc, "application/json")[0].speaker == "Ann"
    assert parse_transcript("one  two\nthree", "text/plain", 9.0)[0].text == "one two three"
    with pytest.raises(TranscriptFormatError):
        parse_transcript("not vtt", "text/vtt")
    with pytest.raises(TranscriptFormatError):
        parse_transcript("{}", "application/json")
