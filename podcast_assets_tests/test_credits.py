"""Who said it, in which chapter: the Podcasting 2.0 example feed's persons and chapters (chapters fetched over
HTTP through the URL policy), the example VTT's voice tags, attached to insights and shown in the brief."""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pytest

from podcast_assets.assets.credits import episode_credits, insight_credits
from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_feed
from podcast_assets.catalog.tables import feeds as feeds_table
from podcast_assets.core.credits import ChaptersError, Person, parse_chapters, speaker_name
from podcast_assets.core.rendering import BriefDocument, BriefItem
from podcast_assets.core.rss import episode_id_for
from podcast_assets.core.transcript_formats import parse_vtt
from podcast_assets.evaluation.server import Resource
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets_tests.conftest import real_fixture

DAY = dt.date(2026, 3, 4)


def test_chapters_file_is_read_as_hostile_input():
    chapters = parse_chapters(real_fixture("pc20_chapters_example.json").read_bytes())
    assert [(c.start_s, c.title) for c in chapters[:3]] == [
        (0, "Intro"),
        (168, "Hearing Aids"),
        (260, "Progress Report"),
    ]
    messy = b'{"chapters": [{"startTime": "12", "title": "s"}, {"startTime": -1, "title": "neg"}, {"startTime": NaN,'
    messy += b' "title": "nan"}, {"startTime": true, "title": "bool"}, {"startTime": 5}, {"startTime": 9,'
    messy += b' "title": "two\\nlines\\u0000"}, "junk", {"startTime": 3, "title": "first"}]}'
    assert [(c.start_s, c.title) for c in parse_chapters(messy)] == [(3, "first"), (9, "two lines")]
    for bad in (b"<html>not json</html>", b"[1, 2]", b'{"chapters": "no"}', b"[" * 100_000):
        with pytest.raises(ChaptersError):
            parse_chapters(bad)


def test_speaker_comes_from_the_voice_tag_the_feed_persons_or_a_single_host():
    host, guest = Person("Adam Curry"), Person("Dave Jones", role="guest")
    artist = Person("Becky Smith", role="cover art designer", group="visuals")
    assert speaker_name("Gillian", [host, guest]) == "Gillian"
    assert speaker_name("Guest", [host, guest, artist]) == "Dave Jones"
    assert speaker_name("Host", [host, guest]) == "Adam Curry"
    assert speaker_name(None, [host, artist]) == "Adam Curry"  # one host and nobody else in the cast
    assert speaker_name(None, [host, guest]) is None  # two voices, no transcript to tell them apart
    assert speaker_name("Guest", [host]) is None


def test_example_feed_chapters_and_persons_reach_insights_and_the_brief(home, site, tmp_path):
    feed_url = site.url("/pc20.xml")
    feed = real_fixture("pc20_example.xml").read_text()
    # ep3's chapters are served here; ep2's file is not JSON; ep1's points at a private address the policy refuses.
    feed = feed.replace("https://example.com/ep3_chapters.json", site.url("/ep3_chapters.json"))
    feed = feed.replace("https://example.com/ep2_chapters.json", site.url("/ep2_chapters.json"))
    feed = feed.replace("https://example.com/ep1_chapters.json", "http://10.1.2.3/ep1_chapters.json")
    site.site.resources["/ep3_chapters.json"] = Resource(
        real_fixture("pc20_chapters_example.json").read_bytes(), "application/json+chapters"
    )
    site.site.resources["/ep2_chapters.json"] = Resource(b"<html>moved</html>", "text/html")
    cached = tmp_path / "pc20.xml"
    cached.write_text(feed)
    catalog = CatalogResource()
    add_feed(catalog, feed_url, "Podcasting 2.0 Namespace Example")
    with catalog.begin() as connection:  # as `episodes` leaves it after polling the feed
        connection.execute(feeds_table.update().values(cache_path=str(cached)))

    warehouse = WarehouseResource()
    guids = {n: f"https://example.com/ep000{n}" for n in (1, 2, 3)}
    ids = {n: episode_id_for(feed_url, guid, None) for n, guid in guids.items()}
    warehouse.replace_partition(
        "episodes",
        DAY,
        pl.DataFrame(
            [
                {"partition_date": DAY, "episode_id": ids[n], "feed_url": feed_url, "guid": guids[n], "status": "ok"}
                for n in ids
            ]
        ),
    )
    vtt = parse_vtt(real_fixture("pc20_transcript_example.vtt").read_text())
    segments = [(ids[3], s.start_s, s.end_s, s.speaker) for s in vtt] + [(ids[2], 25.0, 40.0, "Guest")]
    warehouse.replace_partition(
        "transcripts",
        DAY,
        pl.DataFrame(
            [
                {
                    "partition_date": DAY,
                    "episode_id": e,
                    "segment_index": i,
                    "start_s": a,
                    "end_s": b,
                    "text": "words",
                    "speaker": who,
                    "source": "publisher",
                }
                for i, (e, a, b, who) in enumerate(segments)
            ]
        ),
    )
    insights = {"i3_intro": (ids[3], 20.0), "i3_hearing": (ids[3], 200.0), "i2": (ids[2], 30.0)}
    warehouse.replace_partition(
        "insights",
        DAY,
        pl.DataFrame(
            [
                {
                    "partition_date": DAY,
                    "insight_id": k,
                    "episode_id": e,
                    "start_s": s,
                    "end_s": s + 9,
                    "text": k,
                    "score": 0.9,
                }
                for k, (e, s) in insights.items()
            ]
        ),
    )
    result = dg.materialize(
        [episode_credits, insight_credits],
        partition_key=DAY.isoformat(),
        resources={"warehouse": warehouse, "http": HttpClientResource(retries=0), "catalog": catalog},
    )
    assert result.success  # the two bad chapters files did not fail the step
    meta = result.asset_materializations_for_node("episode_credits")[0].metadata
    assert meta["chapters_failed"].value == 2 and meta["episodes_with_persons"].value == 3
    errors = meta["chapter_errors"].value
    assert "not JSON" in errors[ids[2]] and "10.1.2.3" in errors[ids[1]]

    persons = warehouse.query("SELECT * FROM episode_persons WHERE episode_id = ? ORDER BY name", [ids[3]])
    assert persons.select("name", "role", "person_group").rows() == [
        ("Adam Curry", "host", "cast"),
        ("Becky Smith", "cover art designer", "visuals"),
        ("Dave Jones", "guest", "cast"),
    ]
    assert persons.filter(pl.col("name") == "Dave Jones")["href"][0] == "https://github.com/daveajones/"
    credits = {
        r["insight_id"]: (r["chapter"], r["speaker"])
        for r in warehouse.query("SELECT * FROM insight_credits WHERE partition_date = ?", [DAY]).to_dicts()
    }
    assert credits == {
        "i3_intro": ("Intro", "Gillian"),  # the VTT voice tag at 0:20
        "i3_hearing": ("Hearing Aids", None),  # after the transcript ends: host and guest, so unknown
        "i2": (None, "Dave Jones"),  # a generic "Guest" voice is the feed's one guest; chapters unreadable
    }

    chapter, speaker = credits["i3_intro"]
    item = BriefItem("A trailer helps.", "PC20", "Episode 3 - The Future", 20.0, None, speaker=speaker, chapter=chapter)
    rendered = BriefDocument("Ada", DAY, "podcasting", [item]).render()
    assert "— Gillian on *PC20*, \"Episode 3 - The Future\", chapter 'Intro', at 0:20" in rendered["md"]
    assert "Gillian on PC20, \"Episode 3 - The Future\", chapter 'Intro', at 0:20" in rendered["txt"]
    assert "Gillian on <em>PC20</em>" in rendered["html"]

    # The people and chapters the feed names are in the transcriber's prompt for that episode, spelled as the feed
    # spells them (transcripts runs after episode_credits).
    from podcast_assets.assets.transcripts import _day_episodes
    from podcast_assets.core.transcripts import asr_prompt

    episode = next(e for e in _day_episodes(warehouse, DAY) if e["episode_id"] == ids[3])
    prompt = asr_prompt(
        episode["show_title"],
        episode["title"],
        episode.get("description"),
        (*episode["person_names"], *episode["chapter_titles"]),
    )
    assert "Dave Jones" in prompt and "Adam Curry" in prompt and "Intro." in prompt and "Hearing Aids" in prompt
