"""The whole day on real parts: demo network over HTTP, whisperx tiny.en, MiniLM, DuckDB, aiosmtpd, Dagster.

Runs the daily job exactly as `podcast-brief run` and the schedule do, then re-runs parts of it.
"""

import datetime as dt
from email import message_from_bytes
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import dagster as dg
import polars as pl
import pytest
from starlette.testclient import TestClient

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_subscriber
from podcast_assets.catalog.tables import subscribers
from podcast_assets.daily_runs.runner import run_day
from podcast_assets.demo.run import register_demo
from podcast_assets.evaluation.demo_network import DEMO_DAY, DEMO_SUBSCRIBERS, PREVIOUS_DAY
from podcast_assets.evaluation.network import demo_network
from podcast_assets.evaluation.run import collect
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.resources.warehouse import WarehouseResource
from podcast_assets.web.app import create_app
from podcast_assets_tests.conftest import free_port, patched_env, smtp_server
from podcast_assets_tests.planted import ad_likeness, best_planted, planted_theme

THEME_OF = {s["email"]: s["theme"] for s in DEMO_SUBSCRIBERS}
NOBODY = "nobody@example.com"
GRID_ONLY = "grid-only@example.com"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with (
        smtp_server() as (controller, inbox),
        SiteServer() as site,
        patched_env(
            {
                "PODCAST_BRIEF_HOME": str(home),
                "PODCAST_BRIEF_SMTP_HOST": "127.0.0.1",
                "PODCAST_BRIEF_SMTP_PORT": str(controller.port),
                "PODCAST_BRIEF_MAIL_FROM": "Brief <brief@example.com>",
            }
        ),
    ):
        warehouse = WarehouseResource()
        register_demo(CatalogResource(), site)
        add_subscriber(CatalogResource(), NOBODY, "knitting patterns, medieval pottery", "Nobody")
        grid_feed = site.url("/feeds/grid-report.xml")
        add_subscriber(CatalogResource(), GRID_ONLY, "energy storage, batteries", "Grid fan", feeds=[grid_feed])
        # A row written around the CLI's validation must not take the other subscribers down.
        with CatalogResource().begin() as connection:
            connection.execute(
                subscribers.insert().values(
                    subscriber_id="broken", email="b@example.com", interests="", confirmed_at=dt.datetime(2026, 1, 1)
                )
            )
        instance = dg.DagsterInstance.ephemeral()
        first = run_day(DEMO_DAY, instance)
        yield {
            "home": home,
            "warehouse": warehouse,
            "catalog": CatalogResource(),
            "inbox": inbox,
            "instance": instance,
            "first": first,
            "site": site,
            "smtp_port": controller.port,
        }


def _briefs(warehouse: WarehouseResource) -> pl.DataFrame:
    return warehouse.query(
        """SELECT s.email, b.rank, b.insight_id, b.related_insight_ids, b.also_on_insight_ids, i.text, i.episode_id,
                  e.feed_url
           FROM briefs b JOIN subscribers s USING (subscriber_id)
           JOIN insights i ON i.partition_date = b.partition_date AND i.insight_id = b.insight_id
           JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
           WHERE b.partition_date = ? ORDER BY s.email, b.rank""",
        [DEMO_DAY],
    )


def _insight_rows(warehouse: WarehouseResource) -> dict[str, dict]:
    frame = warehouse.query(
        """SELECT i.insight_id, i.text, i.episode_id, e.feed_url FROM insights i
           JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
           WHERE i.partition_date = ?""",
        [DEMO_DAY],
    )
    return {row["insight_id"]: row for row in frame.to_dicts()}


def test_the_day_runs_and_every_asset_check_passes(world):
    result = world["first"]
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert len(evaluations) >= 9
    assert [e.check_name for e in evaluations if not e.passed] == []
    warehouse = world["warehouse"]
    episodes = warehouse.query("SELECT * FROM episodes WHERE partition_date = ?", [DEMO_DAY])
    assert episodes.height == 8 and set(episodes["status"]) == {"ok"}
    assert warehouse.query("SELECT count(*) AS n FROM episodes WHERE partition_date <> ?", [DEMO_DAY])["n"][0] == 0
    status = warehouse.query("SELECT * FROM transcript_status WHERE partition_date = ?", [DEMO_DAY])
    assert status.filter(pl.col("status") == "ok").height == 8
    assert status.filter(pl.col("source") == "publisher").height == 1
    publisher = warehouse.query("SELECT DISTINCT speaker FROM transcripts WHERE source = 'publisher'")
    assert set(publisher["speaker"]) == {"Host", "Guest"}
    embeddings = warehouse.query("SELECT len(embedding) AS d, model FROM insight_embeddings LIMIT 1")
    assert embeddings["d"][0] == 384 and embeddings["model"][0] == "all-MiniLM-L6-v2"
    clusters = warehouse.query("SELECT * FROM cluster_summaries WHERE partition_date = ?", [DEMO_DAY])
    assert clusters.filter(pl.col("n_shows") >= 2).height >= 2  # the same idea told by two shows is one cluster
    assert set(clusters["trend"]) == {"new"}
    # SQL models ran in the same job
    health = warehouse.query("SELECT * FROM marts.daily_feed_health WHERE partition_date = ?", [DEMO_DAY])
    assert health.height == 4


def test_each_subscriber_gets_their_theme_with_also_on_and_related_insights(world):
    warehouse = world["warehouse"]
    briefs = _briefs(warehouse)
    insights = _insight_rows(warehouse)
    for email, theme in THEME_OF.items():
        mine = briefs.filter(pl.col("email") == email)
        assert mine.height == 5  # the day has at least five distinct ideas on every theme
        themes = [planted_theme(text) for text in mine["text"]]
        planted_count = sum(t == theme for t in themes)
        assert planted_count >= 4, (email, list(zip(themes, mine["text"], strict=True)))
        same_idea_elsewhere = 0
        shown = list(mine["insight_id"])
        for row in mine.to_dicts():
            for related_id in row["related_insight_ids"]:
                related = insights[related_id]
                assert related["episode_id"] != row["episode_id"]
                assert planted_theme(related["text"]) == theme, (row["text"], related["text"])
                # "related" is another idea; the same idea said elsewhere is "also on"
                assert best_planted(related["text"])[2].idea != best_planted(row["text"])[2].idea
            for other_id in row["also_on_insight_ids"]:
                other = insights[other_id]
                assert other["episode_id"] != row["episode_id"]
                assert best_planted(other["text"])[2].idea == best_planted(row["text"])[2].idea
                same_idea_elsewhere += other["feed_url"] != row["feed_url"]
            shown += row["related_insight_ids"] + row["also_on_insight_ids"]
        assert len(shown) == len(set(shown)), email  # nothing appears twice in one brief
        assert same_idea_elsewhere >= 1, email
    # the same planted idea never appears twice in one brief
    for email in THEME_OF:
        ideas = [best_planted(t)[2].idea for t in briefs.filter(pl.col("email") == email)["text"]]
        assert len(ideas) == len(set(ideas)), (email, ideas)


def test_the_evaluation_scores_the_demo_day_from_its_labels(world):
    report = collect(demo_network(), DEMO_DAY)
    summary = report.summary()
    assert report.brief_picks == 15 and report.brief_precision == 1.0 and report.on_theme_rate == 1.0
    assert summary["framing_or_ad_picks"] == 0 and summary["off_topic_picks"] == 0
    assert report.planted_recalled >= 22 and report.paraphrase_pairs == 6 and report.paraphrase_pairs_clustered >= 4
    assert report.paraphrase_pairs_both_in_a_brief == 0 and report.related_repeated_in_a_brief == 0
    assert 0.0 < report.mean_wer < 0.3 and len(report.wer_by_episode) == 7  # the ASR episodes of the day


def test_no_ad_read_reaches_any_brief(world):
    warehouse = world["warehouse"]
    documents = warehouse.query(
        "SELECT text FROM brief_documents WHERE partition_date = ? AND status = 'ok'", [DEMO_DAY]
    )
    assert documents.height == 4
    insights = _insight_rows(warehouse)
    for row in insights.values():
        assert ad_likeness(row["text"]) < 0.5, row["text"]
    for text in documents["text"]:
        lowered = text.lower()
        assert not any(brand in lowered for brand in ("promo code", "sponsor", "free trial", ".com"))


def test_a_subscriber_whose_interests_match_nothing_gets_no_brief_and_no_email(world):
    warehouse = world["warehouse"]
    row = warehouse.query(
        "SELECT d.status, d.n_insights FROM brief_documents d JOIN subscribers s USING (subscriber_id) "
        "WHERE s.email = ? AND d.partition_date = ?",
        [NOBODY, DEMO_DAY],
    ).to_dicts()
    assert row == [{"status": "no_matches", "n_insights": 0}]
    assert not any(NOBODY in recipients for recipients, _ in world["inbox"].messages)


def test_feed_restriction_and_bad_subscriber_rows(world):
    briefs = _briefs(world["warehouse"]).filter(pl.col("email") == GRID_ONLY)
    assert briefs.height >= 3 and set(briefs["feed_url"]) == {world["site"].url("/feeds/grid-report.xml")}
    broken = world["warehouse"].query("SELECT status FROM brief_documents WHERE subscriber_id = 'broken'")
    assert broken["status"].to_list() == ["no_interests"]


def test_briefs_are_rendered_with_deep_links_and_emailed_once_each(world):
    inbox = world["inbox"].messages
    recipients = sorted(r for rcpts, _ in inbox for r in rcpts)
    assert recipients == sorted([s["email"] for s in DEMO_SUBSCRIBERS] + [GRID_ONLY])
    message = message_from_bytes(inbox[0][1])
    assert message.is_multipart()
    assert {part.get_content_type() for part in message.walk()} >= {"text/plain", "text/html"}
    html = next(p for p in message.walk() if p.get_content_type() == "text/html").get_payload(decode=True).decode()
    assert ".mp3#t=" in html
    brief_dir = world["home"] / "briefs" / DEMO_DAY.isoformat()
    assert len(list(brief_dir.glob("*.md"))) == 4 and len(list(brief_dir.glob("*.html"))) == 4
    markdown = next(brief_dir.glob("*.md")).read_text()
    assert markdown.count("([listen](http://127.0.0.1") >= 3 and " at 0:" in markdown
    statuses = world["warehouse"].query("SELECT status FROM brief_deliveries WHERE partition_date = ?", [DEMO_DAY])
    assert statuses["status"].to_list() == ["sent"] * 4


def test_rerunning_the_day_replaces_it_sends_nothing_and_leaves_other_days(world):
    warehouse = world["warehouse"]
    assert run_day(PREVIOUS_DAY, world["instance"]).success
    previous_before = warehouse.query("SELECT * FROM episodes WHERE partition_date = ?", [PREVIOUS_DAY])
    assert previous_before.height == 1
    counts = {
        t: warehouse.query(f"SELECT count(*) AS n FROM {t} WHERE partition_date = ?", [DEMO_DAY])["n"][0]
        for t in ("episodes", "transcripts", "insights", "insight_embeddings", "briefs")
    }
    sent_before = len(world["inbox"].messages)
    again = run_day(DEMO_DAY, world["instance"])
    assert again.success
    # whisperx is not run again on unchanged audio: the 7 ASR transcripts are reused, the publisher one re-read
    transcribed = again.asset_materializations_for_node("transcripts")[0].metadata
    assert transcribed["episodes_reused"].value == 7 and transcribed["episodes_publisher"].value == 1
    for table, count in counts.items():
        assert (
            warehouse.query(f"SELECT count(*) AS n FROM {table} WHERE partition_date = ?", [DEMO_DAY])["n"][0] == count
        )
    assert warehouse.query("SELECT insight_id FROM insights GROUP BY 1 HAVING count(*) > 1").is_empty()
    assert len(world["inbox"].messages) == sent_before
    previous_after = warehouse.query("SELECT * FROM episodes WHERE partition_date = ?", [PREVIOUS_DAY])
    assert previous_after.equals(previous_before)


def test_search_finds_planted_insights_of_both_days_from_paraphrases(world):
    from podcast_assets.operations.search import search_insights
    from podcast_assets.resources.embedder import EmbedderResource

    warehouse = world["warehouse"]
    if warehouse.query("SELECT count(*) AS n FROM insights WHERE partition_date = ?", [PREVIOUS_DAY])["n"][0] == 0:
        assert run_day(PREVIOUS_DAY, world["instance"]).success  # when run alone (-k), without the test above
    encode = EmbedderResource().encode
    cold = search_insights(warehouse, encode, "do air source heating systems still work when it is freezing outside")
    assert cold[0].day == PREVIOUS_DAY and best_planted(cold[0].text)[2].idea == "heat_pump_cold"
    assert "Grid Report" in cold[0].show and cold[0].link.startswith(world["site"].url("/"))
    assert "#t=" in cold[0].link
    recycled = search_insights(warehouse, encode, "how much of the metal in old EV batteries gets reclaimed")
    assert recycled[0].day == DEMO_DAY and best_planted(recycled[0].text)[2].idea == "recycling_recovery"
    assert not [
        h for h in search_insights(warehouse, encode, "heat pumps in the cold", since=DEMO_DAY) if h.day < DEMO_DAY
    ]


def test_each_audio_brief_decodes_and_lasts_its_clips_plus_intros(world):
    from podcast_assets.core.audio_brief import GAP_S, RATE, clip_span, decode, speak

    warehouse = world["warehouse"]
    made = warehouse.query(
        "SELECT a.*, s.email FROM audio_briefs a JOIN subscribers s USING (subscriber_id) WHERE partition_date = ?",
        [DEMO_DAY],
    )
    assert set(THEME_OF) <= set(made["email"]) and NOBODY not in set(made["email"])
    client = TestClient(create_app())
    for brief in made.to_dicts():
        picks = warehouse.query(
            """SELECT i.start_s, i.end_s, e.duration_s, e.title, coalesce(f.title, e.show_title) AS show
               FROM briefs b JOIN insights i USING (partition_date, insight_id)
               JOIN episodes e ON e.partition_date = i.partition_date AND e.episode_id = i.episode_id
               LEFT JOIN feeds f ON f.feed_url = e.feed_url
               WHERE b.partition_date = ? AND b.subscriber_id = ?""",
            [DEMO_DAY, brief["subscriber_id"]],
        ).to_dicts()
        assert brief["clips"] == len(picks) > 0
        spans = [clip_span(p["start_s"], p["end_s"], p["duration_s"]) for p in picks]
        clips = sum(span.end_s - span.start_s for span in spans)
        intros = sum(len(speak(f"From {p['show']}, {p['title']}.", "en-us")) / RATE for p in picks)
        decoded = decode(Path(brief["path"]))
        assert abs(len(decoded) / RATE - (clips + intros + 2 * GAP_S * len(picks))) < 0.2
        assert float(abs(decoded).max()) > 0.05  # voices, not silence
        # the subscriber's email links to it, and the web app serves that very file at that link
        text = warehouse.query(
            "SELECT text FROM brief_documents WHERE partition_date = ? AND subscriber_id = ?",
            [DEMO_DAY, brief["subscriber_id"]],
        ).item()
        url = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Listen to this brief: "))
        served = client.get(urlsplit(url).path, params=parse_qs(urlsplit(url).query))
        assert served.status_code == 200 and served.content == Path(brief["path"]).read_bytes()


def _delivery(warehouse: WarehouseResource, email: str) -> dict:
    rows = warehouse.query(
        "SELECT d.status, d.error, d.attempts FROM brief_deliveries d JOIN subscribers s USING (subscriber_id) "
        "WHERE s.email = ? AND d.partition_date = ?",
        [email, DEMO_DAY],
    ).to_dicts()
    assert len(rows) == 1
    return rows[0]


def test_a_failed_send_is_recorded_and_the_next_run_sends_it(world):
    from podcast_assets.definitions import defs

    warehouse = world["warehouse"]
    add_subscriber(CatalogResource(), "late@example.com", "battery chemistry, energy storage", "Late")
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]

    def materialize_deliveries() -> dg.ExecuteInProcessResult:
        return dg.materialize(
            assets,
            selection=["briefs", "brief_deliveries"],
            partition_key=DEMO_DAY.isoformat(),
            resources=defs.resources,
            instance=world["instance"],
        )

    with patched_env({"PODCAST_BRIEF_SMTP_PORT": str(free_port())}):  # nothing listens there
        failed = materialize_deliveries()
    assert failed.success  # a failed send is data, not a failed run
    late = _delivery(warehouse, "late@example.com")
    assert late["status"] == "failed" and "ConnectionRefused" in late["error"] and late["attempts"] == 1
    sent_before = len(world["inbox"].messages)
    retried = materialize_deliveries()
    assert retried.success
    new = [rcpts for rcpts, _ in world["inbox"].messages[sent_before:]]
    assert new == [["late@example.com"]]
    late = _delivery(warehouse, "late@example.com")
    assert (late["status"], late["attempts"], late["error"]) == ("sent", 2, None)


def test_a_day_without_episodes_produces_no_brief_and_says_so(world):
    empty_day = PREVIOUS_DAY - dt.timedelta(days=1)  # the network published nothing that day
    result = run_day(empty_day, world["instance"])
    assert result.success
    materialization = result.asset_materializations_for_node("briefs")[0]
    assert materialization.metadata["day_has_insights"].value is False
    assert "no brief today" in materialization.metadata["sample_brief"].value
    assert (
        world["warehouse"].query("SELECT count(*) AS n FROM brief_deliveries WHERE partition_date = ?", [empty_day])[
            "n"
        ][0]
        == 0
    )
    assert not (Path(world["home"]) / "outbox").exists()


def test_a_second_pass_transcribes_what_briefs_show_again_and_they_show_that_text(world):
    """`briefs` with a second-pass model (whisper base here): every shown span (picks, related, "also on") is
    transcribed again, the same picks are rendered with that text, and `insights` keeps the first pass. Turned
    off again, the day is back to the first pass."""
    from podcast_assets.assets.briefs import briefs
    from podcast_assets.core.wer import window_error_rate
    from podcast_assets.operations.second_pass import shown_insight_ids
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.transcriber import TranscriberResource

    warehouse = world["warehouse"]

    def materialize(second_pass_model: str) -> dg.ExecuteInProcessResult:
        resources = {
            "warehouse": warehouse,
            "catalog": CatalogResource(),
            "embedder": EmbedderResource(device="cpu"),
            "transcriber": TranscriberResource(device="cpu", second_pass_model=second_pass_model),
        }
        result = dg.materialize([briefs], partition_key=DEMO_DAY.isoformat(), resources=resources)
        assert result.success and all(check.passed for check in result.get_asset_check_evaluations())
        return result

    picks_before = _briefs(warehouse).select("email", "rank", "insight_id")
    result = materialize("base")
    assert _briefs(warehouse).select("email", "rank", "insight_id").equals(picks_before)  # ranking reads no text
    shown = warehouse.query("SELECT * FROM shown_passages WHERE partition_date = ?", [DEMO_DAY])
    ids = shown_insight_ids(
        warehouse.query("SELECT * FROM briefs WHERE partition_date = ? ORDER BY subscriber_id, rank", [DEMO_DAY])
    )
    assert len(ids) >= 10 and sorted(shown["insight_id"].to_list()) == sorted(ids)
    assert shown.filter(pl.col("status") == "failed").is_empty()
    assert shown.filter(pl.col("status") == "second_pass").height >= 0.9 * len(ids)
    first_pass = _insight_rows(warehouse)
    assert all(first_pass[r["insight_id"]]["text"] == r["first_pass_text"] for r in shown.iter_rows(named=True))
    metadata = result.asset_materializations_for_node("briefs")[0].metadata
    assert metadata["second_pass"].value.startswith("base: ") and metadata["second_pass_audio_s"].value > 30
    # Heard again, the shown text is still what was said.
    scripts = " ".join(turn.text for _, episode in demo_network().episodes() for turn in episode.turns)
    assert sum(window_error_rate(scripts, text) for text in shown["text"]) / shown.height < 0.2
    documents = warehouse.query(
        "SELECT subscriber_id, markdown FROM brief_documents WHERE partition_date = ? AND status = 'ok'", [DEMO_DAY]
    )
    text_of = dict(shown.select("insight_id", "text").iter_rows())
    picked = warehouse.query("SELECT subscriber_id, insight_id FROM briefs WHERE partition_date = ?", [DEMO_DAY])
    markdown_of = dict(documents.iter_rows())
    assert all(text_of[i] in markdown_of[s] for s, i in picked.iter_rows())
    changed = [i for i in ids if text_of[i] != first_pass[i]["text"]]
    assert changed  # base did not write every passage as tiny.en did

    materialize("off")
    assert warehouse.query("SELECT * FROM shown_passages WHERE partition_date = ?", [DEMO_DAY]).is_empty()
    markdown_of = dict(
        warehouse.query(
            "SELECT subscriber_id, markdown FROM brief_documents WHERE partition_date = ? AND status = 'ok'", [DEMO_DAY]
        ).iter_rows()
    )
    assert all(first_pass[i]["text"] in markdown_of[s] for s, i in picked.iter_rows())
