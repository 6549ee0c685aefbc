"""Crash safety, fault injection on real processes: `python -m podcast_assets.commands.cli run` killed with SIGKILL
during `episodes`, `transcripts`, `briefs` and `brief_deliveries`, stopped with SIGTERM, then run again on the demo
network (real HTTP server, whisperx, MiniLM, DuckDB file, aiosmtpd, a Dagster instance in the home folder). SMTP
servers that answer 421/451/550 or drop the connection; a pool slot held by a dead run; a day locked by another
process; a warehouse locked by another process; files written atomically.

The slow part shares one world per module (about three and a half minutes on two cores): home A runs the day once,
uninterrupted (the reference); home B is killed four times on the way and must end with the same tables, each
subscriber emailed once, and the brief whose SMTP transaction the kill cut held back (at-most-once) until resent on
purpose. The tests of the world run in file order.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import os
import signal
import socketserver
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import sqlalchemy as sa
import yaml

from podcast_assets.catalog import CatalogResource
from podcast_assets.catalog.registry import add_subscriber
from podcast_assets.catalog.tables import brief_deliveries as brief_deliveries_table
from podcast_assets.core.atomic_files import TEMP_PREFIX, atomic_output
from podcast_assets.core.processes import host_name
from podcast_assets.demo.run import register_demo
from podcast_assets.evaluation.demo_network import DEMO_DAY, DEMO_SUBSCRIBERS, PREVIOUS_DAY
from podcast_assets.evaluation.server import SiteServer
from podcast_assets.operations import interrupts, pool_waits
from podcast_assets.operations.dead_runs import clear_dead_runs
from podcast_assets.operations.deliveries import (
    UNKNOWN_AFTER_CRASH,
    day_briefs,
    day_deliveries,
    deliver_day,
    resend,
    sent_twice,
)
from podcast_assets.operations.run_processes import RUN_HOST_TAG, RUN_PID_TAG
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.warehouse import WarehouseLocked, WarehouseResource
from podcast_assets.settings import LOCAL_DAGSTER_YAML
from podcast_assets_tests.conftest import catalog_in, smtp_server

REPO = Path(__file__).resolve().parents[1]
DAY = DEMO_DAY.isoformat()
RUN_TIMEOUT_S = 600
# Tables of the day and the columns that identify a row: equal counts to the reference run, no duplicate keys.
DAY_TABLES = {
    "episodes": ["episode_id"],
    "transcripts": ["episode_id", "segment_index"],
    "transcript_status": ["episode_id"],
    "insights": ["insight_id"],
    "insight_embeddings": ["insight_id"],
    "insight_clusters": ["insight_id"],
    "cluster_summaries": ["cluster_id"],
    "briefs": ["subscriber_id", "rank"],
    "brief_documents": ["subscriber_id"],
    "brief_deliveries": ["subscriber_id"],
}
# Two subscribers beside the demo's three: kate's SMTP transaction is the one the kill cuts; zoe's goes out beside it.
EXTRA_SUBSCRIBERS = [
    ("kate@example.com", "battery chemistry, energy storage", "Kate"),
    ("zoe@example.com", "sleep science, insomnia", "Zoe"),
]
EVERY_SUBSCRIBER = {s["email"] for s in DEMO_SUBSCRIBERS} | {email for email, _, _ in EXTRA_SUBSCRIBERS}


# ---------------------------------------------------------------- real SMTP servers


class _CountingInbox:
    """aiosmtpd handler counting messages per recipient; can hold a recipient's DATA open (a slow server) so a
    kill lands inside the SMTP transaction, after the server has the message and before the client has the 250."""

    def __init__(self) -> None:
        self.received: Counter[str] = Counter()
        self.hold: set[str] = set()
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        for rcpt in envelope.rcpt_tos:
            self.received[rcpt] += 1
        if self.hold & set(envelope.rcpt_tos):
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        return "250 Message accepted for delivery"


@contextmanager
def _counting_smtp() -> Iterator[tuple[int, _CountingInbox]]:
    with smtp_server(_CountingInbox()) as (controller, inbox):
        try:
            yield controller.port, inbox
        finally:
            inbox.release.set()  # a held transaction would keep the server from stopping


class _ScriptedSmtp(socketserver.ThreadingTCPServer):
    """A minimal SMTP server that misbehaves on cue (aiosmtpd cannot drop a connection mid-command):
    `greet_421`, `rcpt_550`, `data_451` (after the message), `drop_at_data` (on the DATA command, before 354),
    `drop_mid_data` (after part of the message), `drop_before_reply` (after the whole message, no answer)."""

    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, behavior: str) -> None:
        self.behavior = behavior
        self.accepted: list[str] = []
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return self.server_address[1]


class _ScriptedHandler(socketserver.StreamRequestHandler):
    def _say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        behavior = self.server.behavior
        if behavior == "greet_421":
            self._say("421 4.3.2 Service not available, closing channel")
            return
        self._say("220 scripted ESMTP")
        rcpt = None
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say("250 scripted")
            elif verb == "MAIL":
                self._say("250 2.1.0 OK")
            elif verb == "RCPT":
                rcpt = command.split(":", 1)[1].strip("<> ")
                self._say("550 5.1.1 No such user" if behavior == "rcpt_550" else "250 2.1.5 OK")
            elif verb == "DATA":
                if behavior == "drop_at_data":
                    return
                self._say("354 End data with <CR><LF>.<CR><LF>")
                if behavior == "drop_mid_data":
                    self.rfile.readline()
                    return
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                if behavior == "drop_before_reply":
                    return
                if behavior == "data_451":
                    self._say("451 4.3.0 Temporary failure, try again later")
                else:
                    self.server.accepted.append(rcpt)
                    self._say("250 2.0.0 Accepted")
            elif verb == "QUIT":
                self._say("221 Bye")
                return
            else:
                self._say("250 OK")


# ---------------------------------------------------------------- running the CLI as a real process


def _cli_env(home: Path, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("PODCAST_BRIEF_")}
    env.update(
        {
            "PODCAST_BRIEF_HOME": str(home),
            "PODCAST_BRIEF_ALLOW_PRIVATE_HOSTS": "127.0.0.1",
            "PODCAST_BRIEF_SMTP_HOST": "127.0.0.1",
            "PODCAST_BRIEF_SMTP_PORT": str(smtp_port),
            "PODCAST_BRIEF_MAIL_FROM": "Brief <brief@example.com>",
            "PYTHONUNBUFFERED": "1",  # what a killed process printed is in its log
        }
    )
    return env


class _Cli:
    """`python -m podcast_assets.commands.cli ...` in a home, output to a log file in the test's folder."""

    def __init__(self, home: Path, smtp_port: int, log_dir: Path) -> None:
        self.home, self.smtp_port, self.log_dir = home, smtp_port, log_dir

    def start(self, *args: str) -> tuple[subprocess.Popen, Path]:
        log = self.log_dir / f"{self.home.name}-{'-'.join(args[:2])}-{uuid.uuid4().hex[:6]}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "podcast_assets.commands.cli", *args],
                cwd=REPO,
                env=_cli_env(self.home, self.smtp_port),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return process, log

    def run(self, *args: str, timeout_s: float = RUN_TIMEOUT_S) -> tuple[int, str]:
        process, log = self.start(*args)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            pytest.fail(f"`{' '.join(args)}` did not finish in {timeout_s} s (wedged?):\n{log.read_text()[-3000:]}")
        return process.returncode, log.read_text()


def _prepare_home(home: Path, site: SiteServer) -> tuple[WarehouseResource, CatalogResource]:
    """Demo feeds and subscribers (plus the two extra), and the local dagster.yaml the CLI would write."""
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML)
    catalog = catalog_in(home)
    register_demo(catalog, site)
    for email, interests, name in EXTRA_SUBSCRIBERS:
        add_subscriber(catalog, email, interests, name)
    return WarehouseResource(path=str(home / "warehouse.duckdb")), catalog


@contextmanager
def _instance(home: Path) -> Iterator[dg.DagsterInstance]:
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        yield instance


def _runs_of(instance: dg.DagsterInstance, pid: int) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags={RUN_PID_TAG: str(pid)})))


def _step_logged(instance: dg.DagsterInstance, pid: int, step_key: str, text: str = "") -> bool:
    """The run started by process `pid` has an event of `step_key` (or of a step inside that graph-backed asset,
    e.g. `transcripts.transcribe_shard[...]`) whose message contains `text`."""
    for run in _runs_of(instance, pid):
        for entry in instance.all_logs(run.run_id):
            key = entry.step_key or ""
            if (key == step_key or key.startswith(f"{step_key}.")) and text in (entry.user_message or ""):
                return True
    return False


def _wait_until(
    condition: Callable[[], bool], process: subprocess.Popen, log: Path, what: str, interval_s: float = 0.5
) -> None:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"exited ({process.returncode}) before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {what} within {RUN_TIMEOUT_S} s")
        time.sleep(interval_s)


def _stacks_of(process: subprocess.Popen, log: Path) -> str:
    """Kill a process that seems stuck, after it printed every thread's stack (the CLI's SIGUSR1) and with its
    children named: what a failure report needs."""
    children = subprocess.run(["ps", "-o", "pid,stat,etime,args", "--ppid", str(process.pid)], capture_output=True)
    process.send_signal(signal.SIGUSR1)
    time.sleep(3)
    process.kill()
    process.wait()
    return f"children:\n{children.stdout.decode()}\nlog:\n{log.read_text()[-12000:]}"


def _table_counts(warehouse: WarehouseResource, day: dt.date) -> dict[str, int]:
    with warehouse.connect() as connection:
        return {
            table: connection.execute(f'SELECT count(*) FROM "{table}" WHERE partition_date = ?', [day]).fetchone()[0]
            for table in DAY_TABLES
        }


def _duplicate_keys(warehouse: WarehouseResource, day: dt.date) -> dict[str, int]:
    duplicates = {}
    with warehouse.connect() as connection:
        for table, key in DAY_TABLES.items():
            columns = ", ".join(f'"{c}"' for c in key)
            duplicates[table] = connection.execute(
                f'SELECT count(*) FROM (SELECT {columns} FROM "{table}" WHERE partition_date = ? '
                f"GROUP BY {columns} HAVING count(*) > 1)",
                [day],
            ).fetchone()[0]
    return duplicates


def _statuses(catalog: CatalogResource, day: dt.date) -> dict[str, str]:
    return dict(day_deliveries(catalog, day).select("email", "status").iter_rows())


# ---------------------------------------------------------------- the world (one per module)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("crash")
    with SiteServer() as site, _counting_smtp() as (port_a, inbox_a), _counting_smtp() as (port_b, inbox_b):
        warehouse_a, catalog_a = _prepare_home(root / "home_a", site)
        warehouse_b, catalog_b = _prepare_home(root / "home_b", site)
        cli_a = _Cli(root / "home_a", port_a, root)
        # The reference: the day run once, start to end, nothing in the way.
        code, output = cli_a.run("run", "--date", DAY)
        assert code == 0, output[-3000:]
        yield {
            "site": site,
            "a": {"cli": cli_a, "warehouse": warehouse_a, "catalog": catalog_a, "inbox": inbox_a},
            "b": {
                "cli": _Cli(root / "home_b", port_b, root),
                "warehouse": warehouse_b,
                "catalog": catalog_b,
                "inbox": inbox_b,
            },
        }


def test_the_reference_run_emailed_every_subscriber_once(world):
    a = world["a"]
    assert a["inbox"].received == dict.fromkeys(EVERY_SUBSCRIBER, 1)
    assert set(_statuses(a["catalog"], DEMO_DAY).values()) == {"sent"}


def test_sigkill_during_episodes_while_audio_downloads(world):
    """kill -9 inside `episodes`, one enclosure held mid-request by the server: nothing of the day is in the
    table yet (it is written in one transaction at the end), the feed cache and the audio already downloaded are
    whole files. The runs below start from this."""
    b, site = world["b"], world["site"]
    slow = sorted(path for path in site.site.resources if path.endswith(".mp3"))[0]
    asked = site.site.requests[slow]
    site.site.resources[slow].delay_s = 15
    try:
        process, log = b["cli"].start("run", "--date", DAY)
        _wait_until(lambda: site.site.requests[slow] > asked, process, log, f"the download of {slow}", 0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
    finally:
        site.site.resources[slow].delay_s = 0
    assert b["warehouse"].query("SELECT count(*) AS n FROM episodes WHERE partition_date = ?", [DEMO_DAY])["n"][0] == 0


def test_sigkill_during_transcripts_leaves_a_dead_run_that_the_next_run_clears(world):
    """kill -9 while whisperx transcribes (an out-of-memory kill): the run stays STARTED holding the `gpu` slot.
    The next run clears it (marked failed, slot freed) and gets past `transcripts`; here it is killed again
    inside the SMTP transaction of kate's brief (the server has the message, the client never saw the 250)."""
    b = world["b"]
    process, log = b["cli"].start("run", "--date", DAY)
    with _instance(b["cli"].home) as instance:
        _wait_until(
            lambda: _step_logged(instance, process.pid, "transcripts", "ok via"),
            process,
            log,
            "the first transcribed episode",
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        (killed,) = _runs_of(instance, process.pid)
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.STARTED
        gpu = instance.event_log_storage.get_concurrency_info("gpu")
        assert [slot.run_id for slot in gpu.claimed_slots] == [killed.run_id]  # the wedge, before the fix

        # kill -9 inside `briefs`, as soon as its first rendered file is written: nothing is delivered.
        briefs_dir = b["cli"].home / "briefs" / DAY
        process, log = b["cli"].start("run", "--date", DAY)
        _wait_until(
            lambda: briefs_dir.is_dir() and any(briefs_dir.iterdir()), process, log, "the first brief file", 0.01
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert "cleared a dead run before starting" in log.read_text()  # the run killed in transcripts
        assert not b["inbox"].received
        assert day_deliveries(b["catalog"], DEMO_DAY).is_empty()

        b["inbox"].hold = {"kate@example.com"}
        process, log = b["cli"].start("run", "--date", DAY)
        _wait_until(b["inbox"].holding.is_set, process, log, "kate's SMTP transaction")
        # Briefs go out over parallel connections: the kill must land while kate's is the only transaction open,
        # or a second one cut mid-way (at-most-once: never resent) would make the outcome depend on timing.
        others = EVERY_SUBSCRIBER - {"kate@example.com"}
        _wait_until(
            lambda: all(_statuses(b["catalog"], DEMO_DAY).get(email) == "sent" for email in others),
            process,
            log,
            "every other brief sent while kate's transaction is held",
            0.05,
        )
        process.send_signal(signal.SIGKILL)
        process.wait()
        b["inbox"].release.set()

        assert "cleared a dead run before starting" in log.read_text()
        assert instance.get_run_by_id(killed.run_id).status == dg.DagsterRunStatus.FAILURE
    assert _statuses(b["catalog"], DEMO_DAY)["kate@example.com"] == "sending"


def test_the_run_after_the_kills_completes_with_the_reference_tables_and_no_double_send(world):
    a, b = world["a"], world["b"]
    code, output = b["cli"].run("run", "--date", DAY)
    assert code == 0, output[-3000:]
    assert "cleared a dead run before starting" in output  # the run killed in brief_deliveries
    assert _table_counts(b["warehouse"], DEMO_DAY) == _table_counts(a["warehouse"], DEMO_DAY)
    assert set(_duplicate_keys(b["warehouse"], DEMO_DAY).values()) == {0}
    # Every subscriber once: kate's copy reached the server before the kill and was not sent again.
    assert b["inbox"].received == a["inbox"].received
    statuses = _statuses(b["catalog"], DEMO_DAY)
    assert statuses.pop("kate@example.com") == UNKNOWN_AFTER_CRASH
    assert set(statuses.values()) == {"sent"}
    assert "podcast-brief deliveries resend --date 2026-11-24 --email kate@example.com" in output
    assert sent_twice(b["catalog"], DEMO_DAY).is_empty()
    with _instance(b["cli"].home) as instance:
        (last,) = instance.get_runs(filters=dg.RunsFilter(job_name="daily_brief"), limit=1)
        checks = {
            record.event_log_entry.dagster_event.event_specific_data.check_name: (
                record.event_log_entry.dagster_event.event_specific_data.passed
            )
            for record in instance.get_records_for_run(
                last.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
            ).records
        }
        assert checks["never_sent_twice"] is True
        assert checks["only_to_confirmed_subscribers"] is True
        assert not instance.event_log_storage.get_concurrency_info("gpu").claimed_slots


def test_an_operator_resends_the_uncertain_brief_on_purpose(world):
    b = world["b"]
    code, output = b["cli"].run("deliveries", "resend", "--date", DAY, "--email", "kate@example.com", timeout_s=120)
    assert code == 0, output
    assert "kate@example.com\tsent" in output
    assert b["inbox"].received["kate@example.com"] == 2
    assert _statuses(b["catalog"], DEMO_DAY)["kate@example.com"] == "sent"
    attempts = b["catalog"].rows(
        sa.text(
            "SELECT triggered_by, outcome FROM delivery_attempts a JOIN subscribers s USING (subscriber_id) "
            "WHERE s.email = 'kate@example.com' ORDER BY attempt"
        )
    )
    assert [(r["triggered_by"], r["outcome"]) for r in attempts] == [("run", UNKNOWN_AFTER_CRASH), ("resend", "sent")]
    assert sent_twice(b["catalog"], DEMO_DAY).is_empty()  # an operator's resend is not a double send


def test_sigterm_cancels_the_run_frees_its_slots_and_exits_non_zero(world):
    a = world["a"]
    process, log = a["cli"].start("run", "--date", PREVIOUS_DAY.isoformat())
    with _instance(a["cli"].home) as instance:
        # The signal lands while a `transcribe_shard` step runs, holding the `gpu` slot: waited for, not slept for
        # (a fixed sleep after the first `transcripts` step lands anywhere on a busy machine).
        _wait_until(
            lambda: _step_logged(
                instance, process.pid, "transcripts", 'Started execution of step "transcripts.transcribe_shard['
            ),
            process,
            log,
            "a transcribe_shard step",
            0.1,
        )
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within 120 s of SIGTERM:\n{_stacks_of(process, log)}")
        (run,) = _runs_of(instance, process.pid)
        assert code == 128 + signal.SIGTERM, log.read_text()[-3000:]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.CANCELED
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
    assert "stopped by SIGTERM" in log.read_text()
    lock = a["cli"].home / "locks" / f"run-{PREVIOUS_DAY.isoformat()}.lock"
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released


def test_a_second_run_of_the_same_day_refuses_with_the_holder(world, tmp_path):
    a = world["a"]
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import datetime, sys, time\n"
            "from podcast_assets.operations.day_lock import day_lock\n"
            f"with day_lock(datetime.date.fromisoformat('{DAY}')):\n"
            "    print('locked', flush=True); time.sleep(60)\n",
        ],
        cwd=REPO,
        env=_cli_env(a["cli"].home, a["cli"].smtp_port),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        code, output = a["cli"].run("run", "--date", DAY, "--no-wait", timeout_s=120)
        assert code == 3
        assert f"{DAY} is being run by pid {holder.pid} on {host_name()}" in output
    finally:
        holder.kill()
        holder.wait()


# ---------------------------------------------------------------- SMTP faults (the ledger, in process)


@pytest.fixture
def one_brief(tmp_path) -> tuple[WarehouseResource, CatalogResource, dt.date]:
    warehouse = WarehouseResource(path=str(tmp_path / "warehouse.duckdb"))
    catalog = catalog_in(tmp_path)
    subscriber_id = add_subscriber(catalog, "ada@example.com", "batteries", "Ada")
    warehouse.execute(
        "INSERT INTO brief_documents VALUES (?, ?, 1, 'ok', '# Brief', '<h1>Brief</h1>', 'Brief', NULL)",
        [DEMO_DAY, subscriber_id],
    )
    return warehouse, catalog, DEMO_DAY


def _mailer(port: int, **kwargs) -> MailerResource:
    return MailerResource(smtp_host="127.0.0.1", smtp_port=port, timeout_s=5, **kwargs)


def _row(catalog: CatalogResource, day: dt.date) -> dict:
    return day_deliveries(catalog, day).select("status", "smtp_code", "attempts", "error").to_dicts()[0]


@pytest.mark.parametrize(
    ("behavior", "status", "code", "next_run_sends"),
    [
        ("greet_421", "failed", 421, True),  # transient, before anything was sent: retried
        ("data_451", "failed", 451, True),  # the server said no to the message: retried
        ("drop_at_data", "failed", None, True),  # dropped before the message: certainly not delivered
        ("rcpt_550", "rejected", 550, False),  # permanent: not retried automatically
        ("drop_mid_data", "unknown_no_reply", None, False),  # the whole message was handed over: may be delivered
        ("drop_before_reply", "unknown_no_reply", None, False),
    ],
)
def test_smtp_faults_are_recorded_and_resolved_by_the_rule(one_brief, behavior, status, code, next_run_sends):
    warehouse, catalog, day = one_brief
    server = _ScriptedSmtp(behavior)
    try:
        counts = deliver_day(warehouse, catalog, _mailer(server.port), day, log=lambda _: None)
    finally:
        server.shutdown()
        server.server_close()
    assert counts[status] == 1
    row = _row(catalog, day)
    assert (row["status"], row["smtp_code"], row["attempts"]) == (status, code, 1)
    assert row["error"]
    healthy = _ScriptedSmtp("ok")
    try:
        deliver_day(warehouse, catalog, _mailer(healthy.port), day, log=lambda _: None)
        assert healthy.accepted == (["ada@example.com"] if next_run_sends else [])
        if not next_run_sends:
            assert _row(catalog, day)["status"] == status  # held: no automatic second copy
            ((email, outcome),) = resend(warehouse, catalog, _mailer(healthy.port), day)  # an operator's resend
            assert (email, outcome.status) == ("ada@example.com", "sent")
        assert _row(catalog, day)["status"] == "sent"
        deliver_day(warehouse, catalog, _mailer(healthy.port), day, log=lambda _: None)
        assert len(healthy.accepted) == 1  # and never again
    finally:
        healthy.shutdown()
        healthy.server_close()
    assert sent_twice(catalog, day).is_empty()


def test_resend_uncertain_makes_later_runs_resend_with_the_same_message_id(one_brief):
    warehouse, catalog, day = one_brief
    dropping = _ScriptedSmtp("drop_before_reply")
    deliver_day(warehouse, catalog, _mailer(dropping.port), day, log=lambda _: None)
    dropping.shutdown()
    dropping.server_close()
    healthy = _ScriptedSmtp("ok")
    try:
        deliver_day(warehouse, catalog, _mailer(healthy.port, resend_uncertain=True), day, log=lambda _: None)
        assert healthy.accepted == ["ada@example.com"]
    finally:
        healthy.shutdown()
        healthy.server_close()
    ids = catalog.rows(sa.text("SELECT DISTINCT message_id FROM delivery_attempts"))
    assert len(ids) == 1
    assert sent_twice(catalog, day).height == 1  # at-least-once, and the check says so


def test_a_sending_row_left_by_a_dead_sender_is_not_resent(one_brief):
    warehouse, catalog, day = one_brief
    (brief,) = day_briefs(warehouse, catalog, day)
    with catalog.begin() as connection:
        connection.execute(
            brief_deliveries_table.insert().values(
                partition_date=day, subscriber_id=brief["subscriber_id"], status="sending", message_id="x", attempts=1
            )
        )
    messages = []
    healthy = _ScriptedSmtp("ok")
    try:
        counts = deliver_day(warehouse, catalog, _mailer(healthy.port), day, log=messages.append)
    finally:
        healthy.shutdown()
        healthy.server_close()
    assert healthy.accepted == []
    assert counts["held_uncertain"] == 1
    assert _row(catalog, day)["status"] == UNKNOWN_AFTER_CRASH
    assert "deliveries resend --date 2026-11-24 --email ada@example.com" in messages[0]


# ---------------------------------------------------------------- dead runs and pool waits (in process)


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "dagster").mkdir()
    # No compute log capture: its teardown stops `tail` subprocesses (up to 30 s each when one lingers), and these
    # runs happen in a thread of the test process, where capturing the process-wide stdout is beside the point.
    no_capture = {"module": "dagster._core.storage.noop_compute_log_manager", "class": "NoOpComputeLogManager"}
    with dg.instance_for_test(
        temp_dir=str(tmp_path / "dagster"),
        overrides={"concurrency": {"pools": {"default_limit": 1}}, "compute_logs": no_capture},
    ) as test_instance:
        yield test_instance


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _holder_run(instance: dg.DagsterInstance, tags: dict[str, str], status=dg.DagsterRunStatus.STARTED) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(job_name="daily_brief", run_id=run_id, status=status, tags={"dagster/partition": DAY, **tags})
    )
    return run_id


def _hold_slot(instance: dg.DagsterInstance, run_id: str, pool: str = "gpu") -> None:
    storage = instance.event_log_storage
    storage.set_concurrency_slots(pool, 1)
    assert storage.claim_concurrency_slot(pool, run_id, "transcripts").is_claimed


def test_dead_runs_are_failed_and_their_slots_freed_live_and_foreign_ones_are_not(instance):
    dead = _holder_run(instance, {RUN_PID_TAG: str(_dead_pid()), RUN_HOST_TAG: host_name()})
    _hold_slot(instance, dead)
    alive = _holder_run(instance, {RUN_PID_TAG: str(os.getpid()), RUN_HOST_TAG: host_name()})
    elsewhere = _holder_run(instance, {RUN_PID_TAG: str(_dead_pid()), RUN_HOST_TAG: "another-host"})
    untagged = _holder_run(instance, {})
    ended = _holder_run(instance, {}, status=dg.DagsterRunStatus.FAILURE)
    _hold_slot(instance, ended, pool="duckdb_writer")

    cleared = {item.run_id: item for item in clear_dead_runs(instance)}
    assert set(cleared) == {dead, ended}
    assert "is gone" in cleared[dead].reason
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    for run_id in (alive, elsewhere, untagged):
        assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.STARTED
    assert instance.event_log_storage.get_concurrency_run_ids() == set()
    failure = instance.get_records_for_run(dead, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
    assert "Marked failed by podcast-brief" in failure.event_log_entry.dagster_event.message


@dg.op(pool="gpu")
def _gpu_step() -> int:
    return 1


@dg.job
def _gpu_job():
    _gpu_step()


def test_a_step_waiting_for_a_slot_sleeps_names_the_holder_and_clears_it_once_dead(instance, monkeypatch):
    pool_waits.install()
    assert pool_waits.installed()
    monkeypatch.setattr(pool_waits, "HOLDER_LOG_INTERVAL_S", 0.5)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    holder = _holder_run(instance, {RUN_PID_TAG: str(sleeper.pid), RUN_HOST_TAG: host_name()})
    _hold_slot(instance, holder)
    run_id = str(uuid.uuid4())
    results: list[dg.ExecuteInProcessResult | BaseException] = []

    def wait_for_the_slot() -> None:
        try:
            results.append(_gpu_job.execute_in_process(instance=instance, run_id=run_id))
        except BaseException as error:  # said below, not lost in the thread
            results.append(error)

    def waiting_logged() -> bool:
        return any(
            (entry.user_message or "").startswith("step _gpu_step is waiting for a slot")
            for entry in instance.all_logs(run_id)
        )

    waiter = threading.Thread(target=wait_for_the_slot)
    waiter.start()
    try:
        # Measure only once the step is waiting: setting the run up (plan, storage, resources) costs CPU, and on a
        # busy machine it can take longer than any fixed sleep, so a window opened after one would count it.
        deadline = time.monotonic() + RUN_TIMEOUT_S
        while not waiting_logged():
            assert waiter.is_alive(), f"the run ended before it waited for the slot: {results}"
            assert time.monotonic() < deadline, f"the step did not wait for the slot within {RUN_TIMEOUT_S} s"
            time.sleep(0.05)
        cpu_before = time.process_time()
        time.sleep(3.0)
        cpu_s = time.process_time() - cpu_before
        assert waiter.is_alive()  # still waiting: the holder is alive
        assert cpu_s < 1.0, f"waiting burned {cpu_s:.2f} CPU s in 3 s"
    finally:
        sleeper.kill()
        sleeper.wait()
    waiter.join(timeout=60)
    assert not waiter.is_alive(), "the run did not end within 60 s of the holder's death; it is at:\n" + "".join(
        traceback.format_stack(sys._current_frames()[waiter.ident])
    )
    (result,) = results
    assert isinstance(result, dg.ExecuteInProcessResult) and result.success, result
    messages = [entry.user_message for entry in instance.all_logs(run_id)]
    waiting = [m for m in messages if m.startswith("step _gpu_step is waiting for a slot")]
    assert f"held by run {holder}" in waiting[0] and f"pid {sleeper.pid}" in waiting[0] and "since" in waiting[0]
    assert any("its process is gone, marked failed, slot freed" in m for m in waiting)
    assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.FAILURE


steps_started: list[str] = []


class _DropsWhatItRaises:
    """Python ignores an exception raised in `__del__` (or a weakref callback): a signal whose handler runs there
    loses the interrupt Dagster raises, as the garbage collector can make happen at any moment."""

    def __del__(self) -> None:
        signal.raise_signal(signal.SIGTERM)


@dg.op
def _signalled_step() -> int:
    steps_started.append("signalled")
    _DropsWhatItRaises()
    return 1


@dg.op
def _next_step(value: int) -> int:
    steps_started.append("next")
    return value


@dg.job
def _two_step_job():
    _next_step(_signalled_step())


@pytest.fixture
def fresh_signal_state():
    interrupts.reset()
    yield
    interrupts.reset()


def test_a_signal_whose_interrupt_python_dropped_still_cancels_before_the_next_step(instance, fresh_signal_state):
    pool_waits.install()
    steps_started.clear()
    run_id = str(uuid.uuid4())
    with interrupts.cancel_on_signal(instance, run_id, log=lambda _line: None):
        result = _two_step_job.execute_in_process(instance=instance, run_id=run_id, raise_on_error=False)
    assert steps_started == ["signalled"]
    assert interrupts.last_signal() == signal.SIGTERM
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELED
    assert not result.success


def test_every_shipped_instance_config_monitors_runs_and_frees_slots(tmp_path):
    deploy = yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())
    local = yaml.safe_load(LOCAL_DAGSTER_YAML)
    helm = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
    for config in (deploy, local):
        assert config["run_monitoring"]["enabled"] is True
        assert config["run_monitoring"]["free_slots_after_run_end_seconds"] > 0
        assert config["concurrency"]["pools"]["default_limit"] == 1
        per_day = [limit for limit in config["concurrency"]["runs"]["tag_concurrency_limits"]]
        assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in per_day
    assert helm["dagsterDaemon"]["runMonitoring"]["freeSlotsAfterRunEndSeconds"] > 0
    (tmp_path / "dagster.yaml").write_text(LOCAL_DAGSTER_YAML)
    with dg.DagsterInstance.from_config(str(tmp_path)) as loaded:
        assert loaded.run_monitoring_settings["free_slots_after_run_end_seconds"] == 60


# ---------------------------------------------------------------- locks and atomic files


def test_a_locked_warehouse_fails_naming_the_process_that_holds_it(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(path)!r}); print('open', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseLocked) as raised:
            WarehouseResource(path=str(path), lock_timeout_s=1.5).query("SELECT 1")
        assert raised.value.pid == holder.pid
        assert f"warehouse.duckdb is locked by process {holder.pid} (command line: " in str(raised.value)
        assert "time.sleep(60)" in str(raised.value)
    finally:
        holder.kill()
        holder.wait()


def test_a_file_written_by_a_killed_process_keeps_its_old_content(tmp_path):
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from podcast_assets.core.atomic_files import atomic_output\n"
            f"with atomic_output({str(target)!r}) as out:\n"
            "    out.write(b'x' * 1000); out.flush(); print('writing', flush=True); time.sleep(60)\n",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout.readline().strip() == "writing"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert target.read_bytes() == b"old"
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(TEMP_PREFIX)]
    assert len(leftovers) == 1  # the aside, never read: a glob for *.bin or the target name does not see it
    with pytest.raises(RuntimeError), atomic_output(target) as out:
        out.write(b"half")
        raise RuntimeError("disk full")
    assert target.read_bytes() == b"old"
    with atomic_output(target) as out:
        out.write(b"new")
    assert target.read_bytes() == b"new"
