"""Search over every insight so far: hybrid ranking, the CLI and the web page on a real DuckDB warehouse with
real MiniLM vectors (the paraphrase test on the demo network's two days is in test_pipeline_end_to_end.py)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from starlette.testclient import TestClient

from podcast_assets.assets.insights import _embeddings_table_sql
from podcast_assets.commands.cli import main
from podcast_assets.core.search import BadQuery, SearchCorpus, clean_query
from podcast_assets.operations.search import search_insights
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.web.app import create_app

DAY1, DAY2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)
HOSTILE_SHOW = 'Night <script>alert("x")</script> Show'
INSIGHTS = [  # (day, episode, show, text)
    (DAY1, "e1", "Grid Talk", "Sodium-ion cells cost a third less than lithium iron phosphate for home storage."),
    (DAY1, "e1", "Grid Talk", "Offshore wind farms now reach capacity factors above fifty percent."),
    (DAY2, "e2", HOSTILE_SHOW, "Children who sleep less than eight hours score lower on memory tests the next day."),
    (DAY2, "e3", "Model Talk", "The VX-9 router sends most tokens to only two experts in the mixture."),
]


@pytest.fixture(scope="module")
def searchable(tmp_path_factory):
    """A warehouse with the four insights over two days, embedded by the packaged MiniLM like the asset does."""
    warehouse = WarehouseResource(path=str(tmp_path_factory.mktemp("search") / "warehouse.duckdb"))
    embedder = EmbedderResource()
    vectors = embedder.encode([text for *_, text in INSIGHTS])
    warehouse.create_table(_embeddings_table_sql(embedder.dimension()))
    for day in (DAY1, DAY2):
        rows = [(i, row) for i, row in enumerate(INSIGHTS) if row[0] == day]
        warehouse.replace_partition(
            "insights",
            day,
            pl.DataFrame(
                [
                    {
                        "partition_date": day,
                        "insight_id": f"i{i}",
                        "episode_id": ep,
                        "start_s": 60.0 * i + 5,
                        "end_s": 60.0 * i + 20,
                        "text": text,
                        "headline": None,
                        "score": 0.8,
                        "signals": "",
                    }
                    for i, (_, ep, _, text) in rows
                ]
            ),
        )
        warehouse.replace_partition(
            "insight_embeddings",
            day,
            pl.DataFrame(
                {
                    "partition_date": [day] * len(rows),
                    "insight_id": [f"i{i}" for i, _ in rows],
                    "embedding": pl.Series([vectors[i].tolist() for i, _ in rows], dtype=pl.Array(pl.Float32, 384)),
                    "model": ["all-MiniLM-L6-v2"] * len(rows),
                }
            ),
        )
        episodes = {(ep, show) for _, (_, ep, show, _) in rows}
        warehouse.replace_partition(
            "episodes",
            day,
            pl.DataFrame(
                [
                    {
                        "partition_date": day,
                        "episode_id": ep,
                        "feed_url": f"https://feeds.example/{ep}.xml",
                        "show_title": show,
                        "title": f"Episode {ep}",
                        "audio_url": f"https://cdn.example/{ep}.mp3",
                        "link": 'javascript:alert("x")',
                        "status": "ok",
                    }
                    for ep, show in episodes
                ]
            ),
        )
    return warehouse


def test_a_keyword_only_match_and_a_meaning_only_match_both_rank():
    texts = ["The VX-9 router sends tokens to two experts.", "Children who sleep more remember more."]
    vectors = np.eye(2, dtype=np.float32)
    corpus = SearchCorpus(texts, vectors)
    # the query vector points at the sleep text; the rare keyword "VX-9" only occurs in the other one
    ranked = corpus.rank("VX-9", np.array([0.0, 1.0], dtype=np.float32), limit=2)
    assert {row for row, _ in ranked} == {0, 1}
    both = corpus.rank("sleep children", np.array([0.0, 1.0], dtype=np.float32), limit=2)
    assert both[0][0] == 1 and both[0][1] > both[1][1]  # ranked first by both lists beats first by one
    assert corpus.keyword_scores("the and of")[0] == 0.0  # stop words alone match nothing


@pytest.mark.parametrize("query", ["", "   ", "?!", "x" * 301, None])
def test_unusable_queries_are_refused_with_a_reason(query):
    with pytest.raises(BadQuery):
        clean_query(query)


def test_cli_finds_a_paraphrase_across_days_with_show_date_and_deep_link(searchable, monkeypatch, capsys):
    monkeypatch.setenv("PODCAST_BRIEF_HOME", str(searchable.db_path().parent))
    assert main(["search", "how much cheaper are sodium batteries for storing power at home"]) == 0
    first = capsys.readouterr().out.splitlines()
    assert first[0].startswith("2026-03-01  Grid Talk - Episode e1 at 0:05")
    assert "Sodium-ion cells" in first[1] and first[2].strip() == "https://cdn.example/e1.mp3#t=5"
    assert main(["search", "kids who do not get enough rest forget things", "--since", "2026-03-02"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("2026-03-02") and "eight hours" in out[1]
    assert not [line for line in out if line.startswith("2026-03-01")]  # --since left the first day out
    assert main(["search", "experts", "--show", "model talk"]) == 0
    assert {line[:12] for line in capsys.readouterr().out.splitlines() if line[:4] == "2026"} == {"2026-03-02  "}
    assert main(["search", "experts", "--show", "no such show"]) == 1
    assert main(["search", "  "]) == 2


def test_web_page_escapes_feed_text_and_refuses_bad_queries(searchable, monkeypatch):
    monkeypatch.setenv("PODCAST_BRIEF_HOME", str(searchable.db_path().parent))
    client = TestClient(create_app())
    assert client.get("/search").status_code == 200
    assert 'href="/search"' in client.get("/").text  # every page's header leads to it
    page = client.get("/search", params={"q": "children sleeping too little remember less"})
    assert page.status_code == 200
    body = page.text
    assert "eight hours" in body and body.index("eight hours") < body.index("Sodium")  # best match first
    assert "<script>alert" not in body and "&lt;script&gt;" in body  # show title from a feed is escaped
    assert "javascript:" not in body  # unsafe episode links never become hrefs
    assert 'href="https://cdn.example/e2.mp3#t=' in body
    refused = client.get("/search", params={"q": "x" * 400})
    assert refused.status_code == 400 and "at most 300 characters" in refused.text


def test_a_day_written_after_a_search_is_found_by_the_next_one(searchable):
    encode = EmbedderResource().encode
    query = "tidal turbines in the estuary"
    assert "tidal" not in search_insights(searchable, encode, query)[0].text  # corpus now cached
    day3 = dt.date(2026, 3, 3)
    text = "Tidal turbines in the estuary run twenty hours a day, unlike solar."
    searchable.replace_partition(
        "insights",
        day3,
        pl.DataFrame(
            [
                {
                    "partition_date": day3,
                    "insight_id": "t",
                    "episode_id": "e1",
                    "start_s": 1.0,
                    "end_s": 5.0,
                    "text": text,
                    "headline": None,
                    "score": 0.8,
                }
            ]
        ),
    )
    searchable.replace_partition(
        "insight_embeddings",
        day3,
        pl.DataFrame(
            {
                "partition_date": [day3],
                "insight_id": ["t"],
                "model": ["all-MiniLM-L6-v2"],
                "embedding": pl.Series([encode([text])[0].tolist()], dtype=pl.Array(pl.Float32, 384)),
            }
        ),
    )
    searchable.replace_partition(
        "episodes",
        day3,
        pl.DataFrame(
            [
                {
                    "partition_date": day3,
                    "episode_id": "e1",
                    "feed_url": "https://feeds.example/e1.xml",
                    "show_title": "Grid Talk",
                    "status": "ok",
                }
            ]
        ),
    )
    try:
        hit = search_insights(searchable, encode, query)[0]
        assert (hit.text, hit.day) == (text, day3)
    finally:
        for table in ("insights", "insight_embeddings", "episodes"):
            searchable.replace_partition(table, day3, pl.DataFrame())
