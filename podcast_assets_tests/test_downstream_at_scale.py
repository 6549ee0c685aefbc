"""What makes 100,000 briefs a day possible keeps the rules: relevance for many subscribers in one matrix product
equals it per subscriber, the per-day cluster index picks what a full scan picks, and one SMTP connection (per
sender) carries many messages with the same outcomes. Timings are in benchmarks/downstream.py, not here."""

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from podcast_assets.catalog.tables import brief_archive
from podcast_assets.core.ranking import (
    Candidate,
    choose_brief,
    cluster_members,
    phrase_nulls,
    relevance,
    relevance_of_groups,
)
from podcast_assets.operations.deliveries import deliver_day, sent_twice
from podcast_assets.resources.mailer import MailerResource, OutgoingBrief
from podcast_assets_tests.conftest import smtp_server


def _unit_rows(rng: np.random.Generator, n: int, dim: int = 32) -> np.ndarray:
    rows = rng.normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_relevance_of_many_subscribers_at_once_equals_one_at_a_time():
    rng = np.random.default_rng(3)
    insights, phrases, background = _unit_rows(rng, 400), _unit_rows(rng, 30), _unit_rows(rng, 50)
    groups = [[0], [1, 2, 3], [], [29, 4], [5, 5]]
    nulls = phrase_nulls(phrases, background)
    contexts = _unit_rows(rng, 400)
    for group, batched in zip(groups, relevance_of_groups(insights, phrases, nulls, groups, contexts), strict=True):
        alone = relevance(insights, phrases[group], background, contexts)
        np.testing.assert_allclose(batched.cosine, alone.cosine, atol=1e-6)
        np.testing.assert_allclose(batched.margin, alone.margin, atol=1e-6)
        np.testing.assert_allclose(batched.context_margin, alone.context_margin, atol=1e-6)
        assert (batched.on_topic == alone.on_topic).all() and (batched.implied == alone.implied).all()


def test_briefs_from_the_day_index_equal_briefs_from_a_full_scan():
    rng = np.random.default_rng(5)
    n = 600
    # Insights near a few topic directions, so subscribers have on-topic picks, clusters and related ideas.
    topics = _unit_rows(rng, 12)
    topic_of = rng.integers(0, 12, size=n)
    vectors = topics[topic_of] + 0.35 * _unit_rows(rng, n)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    candidates = [
        Candidate(f"i{j}", f"e{j % 90}", f"s{j % 17}", f"c{topic_of[j]}-{j % 4}", rng.uniform(0.35, 1), rng.random())
        for j in range(n)
    ]
    background = _unit_rows(rng, 40)
    members = cluster_members(candidates)
    interests = [topics[[t]] for t in range(12)] + [topics[[1, 7]], topics[[2, 3, 4]]]
    nulls = phrase_nulls(np.vstack(interests), background)
    rows, start = [], 0
    for interest in interests:
        rows.append(list(range(start, start + len(interest))))
        start += len(interest)
    scored = relevance_of_groups(vectors, np.vstack(interests), nulls, rows)
    picked = 0
    for interest, score in zip(interests, scored, strict=True):
        full_scan = choose_brief(candidates, vectors, interest, background)
        indexed = choose_brief(candidates, vectors, interest, background, scored=score, members=members)
        assert indexed == full_scan
        picked += len(full_scan)
        assert all(p.also_on_insight_ids or p.related_insight_ids for p in full_scan[:1])
    assert picked >= 30  # the comparison covered real briefs, not empty ones


def _brief(n: int) -> OutgoingBrief:
    return OutgoingBrief(f"reader{n}@example.com", None, "Your brief", "text", "<p>html</p>", f"<m{n}@x>", f"b{n}")


def test_one_session_sends_many_messages_over_one_connection():
    with smtp_server() as (controller, inbox):
        peers = []
        original = inbox.handle_DATA

        async def handle_data(server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
            peers.append(session.peer)
            return await original(server, session, envelope)

        inbox.handle_DATA = handle_data
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=controller.port)
        with mailer.session() as session:
            outcomes = [session.send(_brief(n), "2026-11-24") for n in range(5)]
        assert [o.status for o in outcomes] == ["sent"] * 5
        assert len(inbox.messages) == 5 and len(set(peers)) == 1  # one connection for all five
        assert mailer.send(_brief(9), "2026-11-24").status == "sent"  # the one-message path still works
        assert len(set(peers)) == 2


def test_a_session_whose_connection_the_server_dropped_reconnects_without_losing_the_message():
    with smtp_server() as (controller, inbox):
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=controller.port)
        with mailer.session() as session:
            assert session.send(_brief(1), "2026-11-24").status == "sent"
            session.smtp.sock.close()  # the server side going away while idle looks the same to the client
            assert session.send(_brief(2), "2026-11-24").status == "sent"
        assert [m[0] for m in inbox.messages] == [["reader1@example.com"], ["reader2@example.com"]]


def test_parallel_senders_deliver_every_brief_once_with_the_ledger(home):
    """Many briefs through `deliver_day` with 3 senders: each recorded `sending` then `sent`, each sent once, and a
    second run sends nothing."""
    import polars as pl

    from podcast_assets.catalog import CatalogResource
    from podcast_assets.catalog.registry import add_subscriber
    from podcast_assets.resources.warehouse import WarehouseResource

    day = dt.date(2026, 11, 24)
    catalog, warehouse = CatalogResource(), WarehouseResource()
    ids = [add_subscriber(catalog, f"reader{n}@example.com", "batteries") for n in range(40)]
    documents = pl.DataFrame(
        {
            "partition_date": [day] * len(ids),
            "subscriber_id": ids,
            "n_insights": [1] * len(ids),
            "status": ["ok"] * len(ids),
            "markdown": ["md"] * len(ids),
            "html": ["<p>brief</p>"] * len(ids),
            "text": ["brief"] * len(ids),
        }
    )
    warehouse.replace_partition("brief_documents", day, documents)
    with smtp_server() as (controller, inbox):
        mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=controller.port, max_senders=3)
        counts = deliver_day(warehouse, catalog, mailer, day, log=print)
        assert counts["sent"] == 40
        assert sorted(m[0][0] for m in inbox.messages) == sorted(f"reader{n}@example.com" for n in range(40))
        assert deliver_day(warehouse, catalog, mailer, day, log=print)["already_delivered"] == 40
        assert len(inbox.messages) == 40
    assert sent_twice(catalog, day).is_empty()


def test_interest_phrases_are_embedded_once_and_kept_per_model(home):
    from podcast_assets.assets.interest_vectors import CACHE_TABLE, cached_phrase_vectors
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.warehouse import WarehouseResource

    warehouse, embedder = WarehouseResource(), EmbedderResource(device="cpu")
    texts = ["battery recycling", "sleep research", "battery recycling"]
    first = cached_phrase_vectors(warehouse, embedder, texts)
    np.testing.assert_allclose(first, embedder.encode(texts), atol=1e-5)
    assert warehouse.query(f"SELECT count(*) AS n FROM {CACHE_TABLE}")["n"][0] == 2
    # Served from the table, not embedded again: a stored vector comes back exactly as stored.
    marker = np.full(first.shape[1], 0.5, dtype=np.float32).tobytes()
    warehouse.execute(f"UPDATE {CACHE_TABLE} SET embedding = ? WHERE text = 'sleep research'", [marker])
    again = cached_phrase_vectors(warehouse, embedder, ["sleep research", "coffee prices"])
    assert (again[0] == 0.5).all() and abs(float(np.linalg.norm(again[1])) - 1) < 1e-4
    # Another precision is another key: its vectors are its own.
    other = cached_phrase_vectors(warehouse, EmbedderResource(device="cpu", precision="bf16"), ["sleep research"])
    assert abs(float(np.linalg.norm(other[0])) - 1) < 1e-2
    assert warehouse.query(f"SELECT count(*) AS n FROM {CACHE_TABLE}")["n"][0] == 4


def _day_of_briefs(warehouse, day: dt.date):
    """The day's pick rows and documents, signed tokens (which carry their signing time) blanked."""
    import re

    picks = warehouse.query("SELECT * FROM briefs WHERE partition_date = ? ORDER BY subscriber_id, rank", [day])
    documents = warehouse.query(
        "SELECT subscriber_id, n_insights, status, markdown, path FROM brief_documents WHERE partition_date = ? "
        "ORDER BY subscriber_id",
        [day],
    ).to_dicts()
    for document in documents:
        document["markdown"] = re.sub(r"t=[\w.-]+", "t=TOKEN", document["markdown"] or "")
    return picks, documents


def _synthetic_briefs_day(home, n_insights: int, n_subscribers: int):
    from benchmarks.downstream import DAY, synthetic_day, synthetic_subscribers
    from podcast_assets.catalog import CatalogResource
    from podcast_assets.resources.embedder import EmbedderResource
    from podcast_assets.resources.transcriber import TranscriberResource
    from podcast_assets.resources.warehouse import WarehouseResource

    warehouse, catalog, embedder = WarehouseResource(), CatalogResource(), EmbedderResource(device="cpu")
    synthetic_day(warehouse, n_insights, embedder.encode, cache=False)
    synthetic_subscribers(catalog, n_subscribers)
    return DAY, {"warehouse": warehouse, "catalog": catalog, "embedder": embedder, "transcriber": TranscriberResource()}


def _briefs_run_config(workers: int, chunk_size: int) -> dict:
    return {"ops": {"briefs": {"config": {"workers": workers, "chunk_size": chunk_size}}}}


def test_briefs_in_chunks_across_worker_processes_equal_one_process(home):
    """The 100,000-subscriber path (chunks of subscribers ranked and rendered in spawned worker processes, then
    swapped into the warehouse from Parquet in one transaction) writes what one process writes."""
    import dagster as dg

    from podcast_assets.assets.briefs import briefs

    day, resources = _synthetic_briefs_day(home, 240, 45)
    runs = []
    for workers, chunk_size in ((1, 2_000), (2, 7)):
        result = dg.materialize(
            [briefs],
            partition_key=day.isoformat(),
            resources=resources,
            run_config=_briefs_run_config(workers, chunk_size),
        )
        assert result.success
        assert all(check.passed for check in result.get_asset_check_evaluations())
        runs.append(_day_of_briefs(resources["warehouse"], day))
    (one_picks, one_documents), (chunked_picks, chunked_documents) = runs
    assert one_picks.height >= 45  # real briefs were compared, not empty days
    assert one_picks.equals(chunked_picks)
    assert one_documents == chunked_documents
    ok = [d for d in chunked_documents if d["status"] == "ok"]
    assert len(ok) >= 20 and all(Path(d["path"]).exists() for d in ok)
    assert not (home / "briefs" / ".staging" / day.isoformat()).exists()  # the chunk files are gone
    archive = resources["catalog"].rows(
        sa.select(brief_archive.c.subscriber_id).where(brief_archive.c.partition_date == day)
    )
    assert len(archive) == len(ok)


def test_a_briefs_run_killed_between_chunks_leaves_the_old_day_and_the_next_run_converges(home):
    """A real process running `briefs` in chunks is killed (SIGKILL) after some chunks were written: the warehouse
    still holds the previous run's day, untouched, and the next run clears the leftovers and writes the same day."""
    import dagster as dg

    from podcast_assets.assets.briefs import briefs

    day, resources = _synthetic_briefs_day(home, 240, 45)
    result = dg.materialize(
        [briefs], partition_key=day.isoformat(), resources=resources, run_config=_briefs_run_config(1, 5)
    )
    assert result.success
    before = _day_of_briefs(resources["warehouse"], day)
    staging = home / "briefs" / ".staging" / day.isoformat()
    script = (
        "import dagster as dg, time\n"
        "import podcast_assets.operations.brief_batches as batches\n"
        "from podcast_assets.assets.briefs import briefs\n"
        "from podcast_assets.catalog import CatalogResource\n"
        "from podcast_assets.resources.embedder import EmbedderResource\n"
        "from podcast_assets.resources.transcriber import TranscriberResource\n"
        "from podcast_assets.resources.warehouse import WarehouseResource\n"
        "original = batches.briefs_of_chunk\n"
        "def slow(*args):\n"
        "    result = original(*args)\n"
        "    time.sleep(1.0)\n"  # time for the test to see chunk files and kill
        "    return result\n"
        "batches.briefs_of_chunk = slow\n"
        f"dg.materialize([briefs], partition_key='{day.isoformat()}', resources={{'warehouse': WarehouseResource(), "
        "'catalog': CatalogResource(), 'embedder': EmbedderResource(device='cpu'), "
        "'transcriber': TranscriberResource()}, "
        "run_config={'ops': {'briefs': {'config': {'workers': 1, 'chunk_size': 5}}}})\n"
    )
    process = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 240
        while len(list(staging.glob("picks-*.parquet"))) < 2:
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert list(staging.glob("picks-*.parquet"))  # the dead run's chunks are left behind ...
    assert _day_of_briefs(resources["warehouse"], day)[0].equals(before[0])  # ... and never reached the day
    result = dg.materialize(
        [briefs], partition_key=day.isoformat(), resources=resources, run_config=_briefs_run_config(2, 9)
    )
    assert result.success
    after = _day_of_briefs(resources["warehouse"], day)
    assert after[0].equals(before[0]) and after[1] == before[1]
    assert not staging.exists()


def test_nearest_first_is_the_stable_descending_order_even_with_ties():
    from podcast_assets.core.ranking import _nearest_first

    rng = np.random.default_rng(11)
    for size in (5, 64, 65, 500):
        similarity = np.round(rng.uniform(-1, 1, size), 1).astype(np.float32)  # many ties
        assert list(_nearest_first(similarity)) == np.argsort(-similarity, kind="stable").tolist()
