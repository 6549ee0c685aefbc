"""The audio brief's failure paths on real audio: an unreadable episode and a missing TTS voice never cost the
other clips; subscribers with the same picks share one encoding; the web app serves each MP3 to its signed
subscriber. (The demo day's audio briefs are tested in test_pipeline_end_to_end.py.)"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import polars as pl
from starlette.testclient import TestClient

from podcast_assets.assets.audio_briefs import audio_briefs
from podcast_assets.catalog import links
from podcast_assets.core.audio_brief import GAP_S, RATE, clip_span, decode
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.web.app import create_app

DAY = dt.date(2026, 5, 6)


def test_a_broken_episode_and_a_missing_voice_leave_the_good_clips(home, tmp_path):
    good = resources.files("podcast_assets") / "evaluation" / "networks" / "demo" / "media" / "grid-report-40.mp3"
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 this is not audio at all" * 50)
    warehouse = WarehouseResource()
    episodes = [("good", str(good), 20.0), ("broken", str(broken), 60.0)]
    warehouse.replace_partition(
        "episodes",
        DAY,
        pl.DataFrame(
            [
                {
                    "partition_date": DAY,
                    "episode_id": e,
                    "feed_url": "https://x.example/f.xml",
                    "show_title": "Grid",
                    "title": e,
                    "audio_path": p,
                    "duration_s": d,
                    "status": "ok",
                }
                for e, p, d in episodes
            ]
        ),
    )
    picks = [("a", "good", 1.0, 4.0), ("b", "good", 5.0, 9.5), ("c", "broken", 2.0, 6.0)]
    warehouse.replace_partition(
        "insights",
        DAY,
        pl.DataFrame(
            [
                {
                    "partition_date": DAY,
                    "insight_id": i,
                    "episode_id": e,
                    "start_s": s,
                    "end_s": t,
                    "text": i,
                    "score": 0.9,
                }
                for i, e, s, t in picks
            ]
        ),
    )
    warehouse.replace_partition(
        "briefs",
        DAY,
        pl.DataFrame(
            [
                {"partition_date": DAY, "subscriber_id": who, "rank": r, "insight_id": i}
                for who in ("s1", "s2")  # the same picks: one encoding, two files
                for r, (i, *_) in enumerate(picks)
            ]
        ),
    )
    result = dg.materialize(
        [audio_briefs],
        partition_key=DAY.isoformat(),
        resources={"warehouse": warehouse, "media": MediaStoreResource()},
        run_config={"ops": {"audio_briefs": {"config": {"voice": "nosuchvoice"}}}},
    )
    assert result.success
    meta = result.asset_materializations_for_node("audio_briefs")[0].metadata
    # one intro line ("From Grid, good.") for both clips of the episode, tried once
    assert meta["clips_cut_once"].value == 2 and meta["intros_not_spoken"].value == 1
    assert [p.startswith("broken:") for p in meta["episodes_skipped"].value] == [True]
    assert meta["distinct_mp3s_encoded"].value == 1
    row = warehouse.query("SELECT * FROM audio_briefs WHERE partition_date = ? ORDER BY 2", [DAY]).to_dicts()
    assert [(r["subscriber_id"], r["clips"]) for r in row] == [("s1", 2), ("s2", 2)]
    spans = [clip_span(s, t, len(decode(good)) / RATE) for _, e, s, t in picks if e == "good"]
    expected = sum(span.end_s - span.start_s for span in spans) + 2 * 2 * GAP_S  # clips and gaps, no intros
    assert abs(len(decode(row[0]["path"])) / RATE - expected) < 0.1
    assert all(check.passed for check in result.get_asset_check_evaluations())

    # the web app serves it to the signed subscriber only (the archive's <audio> element points here)
    client = TestClient(create_app())
    token = parse_qs(urlsplit(links.archive_url("s1")).query)["t"][0]
    served = client.get(f"/audio/{DAY.isoformat()}", params={"t": token})
    assert served.status_code == 200 and served.headers["content-type"] == "audio/mpeg"
    assert served.content == open(row[0]["path"], "rb").read()
    assert client.get("/audio/2026-05-07", params={"t": token}).status_code == 404  # no audio that day
    assert client.get("/audio/..%2F..%2Fsecret_key", params={"t": token}).status_code == 404
    assert client.get(f"/audio/{DAY.isoformat()}", params={"t": token[:-2] + "xx"}).status_code == 400
