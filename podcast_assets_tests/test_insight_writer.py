"""The optional insight writer (OpenAI-compatible chat API) and the faithfulness check in front of it.

No LLM can run on this machine, so the endpoint is a local stand-in HTTP server that answers like a chat model:
a faithful rewrite for some passages and, for others, the kind of rewrite the small packaged models wrote when
they were measured (invented years and places, a changed unit).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import polars as pl
import pytest

from podcast_assets.assets.insights import insights
from podcast_assets.catalog import CatalogResource
from podcast_assets.core.faithfulness import check_rewrite, names_in, numbers_in
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.headlines import HeadlineWriterResource
from podcast_assets.resources.warehouse import WarehouseResource

DAY = dt.date(2026, 11, 24)

# Passages as tiny.en writes them, each with the answer the stand-in model gives for it.
IRON_AIR = (
    "so iron air batteries, they can store electricity for one hundred hours, which is why Form Energy is "
    "building its first plant in Minnesota, where the grid needs days of backup, not hours."
)
IRON_AIR_FAITHFUL = (
    "Iron-air batteries store electricity for 100 hours, which is why Form Energy is building its first plant in "
    "Minnesota, where the grid needs days of backup."
)
IRON_AIR_WRONG_UNIT = "Iron-air batteries can store electricity for $100, so Form Energy is building in Minnesota."
MITES = (
    "once the varroa mites get into a hive and nobody treats it, the colony usually dies within two or three "
    "years, the mites spread viruses faster than the bees can replace workers."
)
MITES_INVENTED = (
    "After the 2020 California wildfires, untreated varroa mites killed colonies within two or three years."
)
SMOKE = (
    "wildfire smoke carries fine particles deep into the lungs, and on the worst smoke days hospital visits for "
    "asthma rose by about a third compared with clear days."
)
SMOKE_FAITHFUL = "On the worst wildfire smoke days, asthma hospital visits rise by about a third."
ANSWERS = {"iron air": IRON_AIR_FAITHFUL, "varroa": MITES_INVENTED, "wildfire smoke": SMOKE_FAITHFUL}


@contextmanager
def chat_stand_in(answers: dict[str, str]) -> Iterator[tuple[str, list[dict]]]:
    """An OpenAI-compatible /v1/chat/completions: the answer is chosen by a phrase of the passage in the prompt."""
    requests: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **request})
            prompt = request["messages"][-1]["content"]
            passage = prompt.split("Passage:", 1)[-1].lower()
            reply = next((answer for phrase, answer in answers.items() if phrase in passage), None)
            if reply is None:
                self.send_response(500)
                self.end_headers()
                return
            body = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", requests
    finally:
        server.shutdown()
        server.server_close()


def test_numbers_compare_spelled_or_in_digits_with_their_units():
    assert numbers_in("one hundred hours") == numbers_in("100 hours") == {("100", "")}
    assert numbers_in("twenty percent") == numbers_in("20%") == {("20", "%")}
    assert numbers_in("$1,200") == numbers_in("1200 dollars") == {("1200", "$")}
    assert numbers_in("two or three years") == {("2", ""), ("3", "")}


def test_names_are_capitalized_words_inside_a_sentence_and_acronyms():
    assert names_in("Iron-air batteries beat LFP cells, Form Energy says.") == {"LFP", "Form", "Energy"}
    assert names_in("Researchers found it. Then I checked.") == set()  # a sentence's first word, and "I"
    assert names_in("The Fed's rate rose.") == {"Fed"}


@pytest.mark.parametrize(
    "rewrite, passage, unsupported",
    [
        (IRON_AIR_FAITHFUL, IRON_AIR, ()),
        (IRON_AIR_WRONG_UNIT, IRON_AIR, ("$100",)),  # 100 hours became $100
        (MITES_INVENTED, MITES, ("2020", "California")),  # a year and a place the passage never names
        (SMOKE_FAITHFUL, SMOKE, ()),
        ("Sodium-ion cells are now 20% cheaper than LFP cells.", "sodium ion cells got cheaper", ("20%", "LFP")),
        ("Sodium-ion cells are now 20% cheaper than LFP cells.", "sodium ion is twenty percent cheaper than lfp", ()),
    ],
)
def test_a_rewrite_is_faithful_only_when_its_numbers_and_names_are_in_the_passage(rewrite, passage, unsupported):
    verdict = check_rewrite(rewrite, passage)
    assert verdict.unsupported == unsupported
    assert verdict.faithful == (not unsupported)


def test_the_writer_keeps_a_faithful_rewrite_and_refuses_an_unfaithful_or_failed_one():
    with chat_stand_in({**ANSWERS, "iron air": IRON_AIR_WRONG_UNIT}) as (url, requests):
        writer = HeadlineWriterResource(base_url=url, model="an-instruct-model", api_key="k")
        assert writer.enabled()
        kept = writer.rewrite(SMOKE)
        assert (kept.text, kept.outcome) == (SMOKE_FAITHFUL, "written")
        refused = writer.rewrite(IRON_AIR)
        assert (refused.text, refused.outcome, refused.unsupported) == (None, "unfaithful", ("$100",))
        assert refused.refused == IRON_AIR_WRONG_UNIT
        assert writer.rewrite("a passage the stand-in answers with HTTP 500").outcome == "failed"
    request = requests[0]
    assert request["path"] == "/v1/chat/completions" and request["model"] == "an-instruct-model"
    assert request["auth"] == "Bearer k" and request["temperature"] == 0
    assert SMOKE in request["messages"][0]["content"] and "self-contained insight" in request["messages"][0]["content"]
    assert HeadlineWriterResource().rewrite(SMOKE).outcome == "off"  # off unless a base URL is configured
    assert not HeadlineWriterResource().enabled()


def _transcripts(passages: list[tuple[str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "partition_date": [DAY] * len(passages),
            "episode_id": [episode for episode, _ in passages],
            "segment_index": list(range(len(passages))),
            "start_s": [0.0] * len(passages),
            "end_s": [14.0] * len(passages),
            "text": [text for _, text in passages],
            "speaker": [None] * len(passages),
            "source": ["asr"] * len(passages),
            "model": ["tiny.en"] * len(passages),
            "language": ["en"] * len(passages),
        },
        schema_overrides={"speaker": pl.String},
    )


def test_insights_show_the_faithful_rewrites_and_the_passage_where_the_rewrite_invented(home):
    """A real `insights` run against the stand-in: the faithful rewrites become the shown text (`headline`, what
    briefs, search and the web show through coalesce(headline, text)), the invented one is refused and listed."""
    warehouse = WarehouseResource()
    warehouse.replace_partition("transcripts", DAY, _transcripts([("grid", IRON_AIR), ("bees", MITES), ("air", SMOKE)]))
    with chat_stand_in(ANSWERS) as (url, requests):
        result = dg.materialize(
            [insights],
            partition_key=DAY.isoformat(),
            resources={
                "warehouse": warehouse,
                "catalog": CatalogResource(),
                "embedder": EmbedderResource(device="cpu"),
                "headline_writer": HeadlineWriterResource(base_url=url),
            },
        )
    assert result.success
    assert len(requests) == 3  # one request per passage
    shown = warehouse.query(
        "SELECT episode_id, text, headline, coalesce(headline, text) AS shown FROM insights ORDER BY episode_id"
    ).to_dicts()
    by_episode = {row["episode_id"]: row for row in shown}
    assert by_episode["grid"]["shown"] == IRON_AIR_FAITHFUL
    assert by_episode["air"]["shown"] == SMOKE_FAITHFUL
    assert by_episode["bees"]["headline"] is None
    assert by_episode["bees"]["shown"] == by_episode["bees"]["text"]
    assert by_episode["bees"]["text"].startswith("Once the varroa mites")  # the cleaned passage, not the rewrite
    metadata = result.asset_materializations_for_node("insights")[0].metadata
    assert metadata["writer_outcomes"].value == {"written": 2, "unfaithful": 1}
    assert "2020, California" in metadata["refused_rewrites"].value
