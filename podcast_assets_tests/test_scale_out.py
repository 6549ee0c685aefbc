"""Production and scale-out: the deploy/ files validate against the real schemas, the definitions load with each
deployment's executor, and (marked `scale_out`) the production instance runs on a real PostgreSQL and the daily
job on Celery workers with a real Redis broker. No Kubernetes cluster runs here: the k8s parts are validated
(executor config, per-asset pod config), not executed."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml

from podcast_assets.catalog import CatalogResource
from podcast_assets.core.sharding import shard_key
from podcast_assets_tests.conftest import free_port, patched_env, smtp_server

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_ENV = {
    "DAGSTER_PG_HOST": "127.0.0.1",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "secret",
    "DAGSTER_PG_DB": "dagster",
}


# ---------------------------------------------------------------- config files


def test_production_dagster_yaml_validates():
    from dagster._core.instance.config import dagster_instance_config

    with patched_env(PG_ENV):
        config, instance_class = dagster_instance_config(str(DEPLOY), "dagster.yaml")
    assert instance_class is None
    postgres_db = config["storage"]["postgres"]["postgres_db"]
    assert postgres_db["scheme"] == "postgresql+psycopg2"
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 4
    assert config["run_retries"]["enabled"] is True


def test_celery_worker_config_validates():
    from dagster_celery.cli import get_validated_config

    env = {
        "PODCAST_BRIEF_CELERY_BROKER": "redis://127.0.0.1:6379/0",
        "PODCAST_BRIEF_CELERY_BACKEND": "redis://127.0.0.1:6379/1",
    }
    with patched_env(env):
        config = get_validated_config(str(DEPLOY / "celery.yaml"))
    assert config["broker"] == env["PODCAST_BRIEF_CELERY_BROKER"]
    assert config["config_source"]["worker_prefetch_multiplier"] == 1


def test_pool_limits_are_applied_to_the_instance(tmp_path):
    from podcast_assets.orchestration.deployment import set_pool_limits

    limits = yaml.safe_load((DEPLOY / "pools.yaml").read_text())
    assert set(limits) == {"gpu", "duckdb_writer"}
    with dg.instance_for_test(temp_dir=str(tmp_path)) as instance:
        set_pool_limits(instance, {**limits, "gpu": 4})
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 4
        assert instance.event_log_storage.get_concurrency_info("duckdb_writer").slot_count == 1


def test_helm_values_and_image_recipe_agree_with_the_project():
    values = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    instance = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    pyproject = (ROOT / "pyproject.toml").read_text()
    deployment = values["dagster-user-deployments"]["deployments"][0]
    module = deployment["dagsterApiGrpcArgs"][deployment["dagsterApiGrpcArgs"].index("--module-name") + 1]
    assert f'module_name = "{module}"' in pyproject
    assert {"name": "PODCAST_BRIEF_DEPLOYMENT", "value": "kubernetes"} in deployment["env"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["concurrency"]["pools"]["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    assert values["concurrency"]["runs"]["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert values["dagsterDaemon"]["runRetries"]["enabled"] is True
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for line in dockerfile.splitlines():
        if line.startswith("COPY "):
            for source in line.split()[1:-1]:
                assert (ROOT / source).exists(), source
    assert module in dockerfile and ".[scale]" in dockerfile


# ---------------------------------------------------------------- definitions per deployment


@contextlib.contextmanager
def _definitions_for(deployment: str) -> Iterator[dg.Definitions]:
    import podcast_assets.definitions as module

    try:
        with patched_env({"PODCAST_BRIEF_DEPLOYMENT": deployment}):
            yield importlib.reload(module).defs
    finally:
        importlib.reload(module)  # back to the environment's own deployment


def test_kubernetes_deployment_loads_with_k8s_executor_and_gpu_pod_config():
    from dagster_k8s.job import get_user_defined_k8s_config

    from podcast_assets.orchestration.deployment import K8S_EXECUTOR_CONFIG

    with _definitions_for("kubernetes") as defs:
        job = defs.resolve_job_def("daily_brief")
        assert job.executor_def.name == "k8s"
        schema = job.executor_def.config_schema.config_type  # the configured executor validated its config
        assert schema is not None and K8S_EXECUTOR_CONFIG["max_concurrent"] == 8
        shard_op = defs.resolve_assets_def("transcripts").node_def.node_named("transcribe_shard").definition
        for tags in (
            shard_op.tags,
            defs.resolve_assets_def("insight_embeddings").node_def.node_named("embed_shard").definition.tags,
        ):
            pod = get_user_defined_k8s_config(tags)  # raises on a malformed dagster-k8s/config tag
            assert pod.container_config["resources"]["limits"]["nvidia.com/gpu"] == "1"
            assert pod.pod_spec_config["node_selector"] == {"nvidia.com/gpu.present": "true"}
        for tags in (
            defs.resolve_assets_def("episodes").op.tags,
            defs.resolve_assets_def("transcripts").node_def.node_named("write_transcripts").definition.tags,
        ):
            assert not get_user_defined_k8s_config(tags).container_config
        assert "alert_webhook" in defs.resources


def test_celery_and_production_deployments_load():
    with _definitions_for("celery") as defs:
        assert defs.resolve_job_def("daily_brief").executor_def.name == "celery"
    with _definitions_for("production") as defs:
        assert defs.resolve_job_def("daily_brief").executor_def.name == "multi_or_in_process_executor"
    with pytest.raises(ValueError, match="PODCAST_BRIEF_DEPLOYMENT"), _definitions_for("laptop"):
        pass


# ---------------------------------------------------------------- real PostgreSQL (and Celery)


def _ensure_apt(binary: Path | str, package: str) -> None:
    if shutil.which(str(binary)) or Path(binary).exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip(f"{package} is not installed and cannot be installed here")
    subprocess.run(
        ["apt-get", "install", "-y", "--no-install-recommends", package], check=True, timeout=600, capture_output=True
    )


@contextlib.contextmanager
def postgres_server() -> Iterator[int]:
    """A throwaway PostgreSQL 15 cluster on 127.0.0.1 (run as the `postgres` user), stopped and removed after."""
    _ensure_apt(PG_BIN / "initdb", "postgresql")
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="pg-"))
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_postgres:
        shutil.chown(data, "postgres", "postgres")
    pgdata = data / "data"
    password_file = data / "pw"
    password_file.write_text(PG_ENV["DAGSTER_PG_PASSWORD"])
    if as_postgres:
        shutil.chown(password_file, "postgres", "postgres")
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            PG_ENV["DAGSTER_PG_USERNAME"],
            "--pwfile",
            str(password_file),
            "-A",
            "scram-sha-256",
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    subprocess.run(
        [
            *as_postgres,
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(pgdata),
            "-w",
            "-t",
            "60",
            "-l",
            str(data / "log"),
            "-o",
            f"-h 127.0.0.1 -p {port} -k {data}",
            "start",
        ],
        check=True,
        timeout=90,
        capture_output=True,
    )
    try:
        _create_database(port, PG_ENV["DAGSTER_PG_DB"])
        yield port
    finally:
        subprocess.run(
            [*as_postgres, str(PG_BIN / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            timeout=60,
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def production_instance(tmp_path: Path, port: int) -> Iterator[dg.DagsterInstance]:
    """An instance from deploy/dagster.yaml itself (copied to a DAGSTER_HOME), on the real Postgres."""
    dagster_home = tmp_path / "dagster_home"
    dagster_home.mkdir()
    shutil.copy(DEPLOY / "dagster.yaml", dagster_home / "dagster.yaml")
    with (
        patched_env({**PG_ENV, "DAGSTER_PG_PORT": str(port), "DAGSTER_HOME": str(dagster_home)}),
        dg.DagsterInstance.get() as instance,
    ):
        yield instance


@pytest.mark.scale_out
def test_production_instance_runs_on_postgres(tmp_path, home, site):
    from podcast_assets.catalog.registry import add_feed
    from podcast_assets.evaluation.demo_network import DEMO_DAY
    from podcast_assets.evaluation.feeds import publish_network
    from podcast_assets.orchestration.deployment import set_pool_limits

    urls = publish_network(site)
    add_feed(CatalogResource(), urls[0])
    with postgres_server() as port, production_instance(tmp_path, port) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        set_pool_limits(instance, {"gpu": 2})
        from podcast_assets.definitions import defs

        result = defs.resolve_job_def("new_feed_episodes").execute_in_process(
            partition_key=DEMO_DAY.isoformat(), instance=instance
        )
        assert result.success
        stored = instance.get_run_by_id(result.run_id)
        assert stored.tags["dagster/partition"] == DEMO_DAY.isoformat()
        materialization = instance.get_latest_materialization_event(dg.AssetKey("episodes"))
        assert materialization.run_id == result.run_id
        assert instance.event_log_storage.get_concurrency_info("gpu").slot_count == 2


@contextlib.contextmanager
def redis_server() -> Iterator[int]:
    _ensure_apt("redis-server", "redis-server")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while (
            subprocess.run(
                ["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
            != "PONG"
        ):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("redis-server did not start")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


@contextlib.contextmanager
def celery_worker(queue: str, name: str, env: dict[str, str], log_path: Path) -> Iterator[subprocess.Popen]:
    """`dagster-celery worker start` in its own process group (one task at a time), stopped by its group id."""
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster-celery"),
            "worker",
            "start",
            "-A",
            "dagster_celery.app",
            "-y",
            str(DEPLOY / "celery.yaml"),
            "-q",
            queue,
            "--name",
            name,
            "--",
            "--concurrency=1",
        ],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"celery worker {name} did not start: {log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def _day_results(warehouse) -> dict[str, list]:
    day = DEMO_DAY_FOR_SCALE
    queries = {
        "episodes": "SELECT episode_id, status FROM episodes WHERE partition_date = ? ORDER BY 1",
        "transcripts": "SELECT episode_id, status, source, n_segments FROM transcript_status WHERE partition_date = ? "
        "ORDER BY 1",
        "insights": "SELECT insight_id, text FROM insights WHERE partition_date = ? ORDER BY 1",
        "briefs": "SELECT subscriber_id, rank, insight_id FROM briefs WHERE partition_date = ? ORDER BY 1, 2",
        "deliveries": "SELECT subscriber_id, status FROM brief_deliveries WHERE partition_date = ? ORDER BY 1",
    }
    return {name: warehouse.query(sql, [day]).rows() for name, sql in queries.items()}


DEMO_DAY_FOR_SCALE = dt.date(2026, 11, 24)
# transcripts fans out: one step per shard of the day, `gpu` queue; the plan and write steps run on the CPU queue.
SHARDS = 4
SHARD_STEPS = {f"transcripts.transcribe_shard[{shard_key(i, SHARDS)}]" for i in range(SHARDS)}
EMBED_SHARDS = 2
EMBED_STEPS = {f"insight_embeddings.embed_shard[{shard_key(i, EMBED_SHARDS)}]" for i in range(EMBED_SHARDS)}
GPU_STEPS = SHARD_STEPS | EMBED_STEPS


@pytest.mark.scale_out
@pytest.mark.slow
def test_demo_day_on_celery_workers_matches_in_process(tmp_path):
    """The daily job of the demo day through the celery executor (Redis broker, Postgres instance from
    deploy/dagster.yaml), a default-queue worker and two `gpu`-queue workers: the day's transcription fans out
    into 4 shard steps that both gpu workers take, and the tables equal the in-process run's (2 shards, one
    process). (There is no GPU here: the `gpu` workers run whisperx and MiniLM on CPU; the routing and the
    fan-out are what is tested.) ~4-5 minutes on 2 cores."""
    from dagster._core.definitions.reconstruct import ReconstructableRepository

    from podcast_assets.daily_runs.runner import run_day
    from podcast_assets.demo.run import register_demo
    from podcast_assets.evaluation.server import SiteServer
    from podcast_assets.orchestration.deployment import set_pool_limits
    from podcast_assets.resources.warehouse import WarehouseResource

    day = DEMO_DAY_FOR_SCALE.isoformat()
    with (
        SiteServer() as site,
        smtp_server() as (smtp, inbox),
        redis_server() as redis_port,
        postgres_server() as pg_port,
    ):
        smtp_env = {"PODCAST_BRIEF_SMTP_HOST": "127.0.0.1", "PODCAST_BRIEF_SMTP_PORT": str(smtp.port)}
        # The reference: the same production resources (whisper base, SMTP), executed in process.
        reference_env = {
            "PODCAST_BRIEF_HOME": str(tmp_path / "in-process"),
            **smtp_env,
            "PODCAST_BRIEF_WAREHOUSE_PATH": str(tmp_path / "in-process" / "warehouse.duckdb"),
        }
        with patched_env(reference_env), _definitions_for("production"):
            register_demo(CatalogResource(), site)
            with dg.DagsterInstance.ephemeral() as ephemeral:
                assert run_day(DEMO_DAY_FOR_SCALE, ephemeral).success
            expected = _day_results(WarehouseResource())

        celery_env = {
            "PODCAST_BRIEF_HOME": str(tmp_path / "celery"),
            **smtp_env,
            "PODCAST_BRIEF_WAREHOUSE_PATH": str(tmp_path / "celery" / "warehouse.duckdb"),
            "PODCAST_BRIEF_CELERY_BROKER": f"redis://127.0.0.1:{redis_port}/0",
            "PODCAST_BRIEF_CELERY_BACKEND": f"redis://127.0.0.1:{redis_port}/1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            # The catalog on the same PostgreSQL: every worker process reads subscribers and writes the ledger there.
            "PODCAST_BRIEF_CATALOG_URL": _catalog_database(pg_port, "catalog"),
        }
        with patched_env(celery_env), production_instance(tmp_path, pg_port) as instance:
            register_demo(CatalogResource(), site)
            set_pool_limits(instance, {"gpu": 2})  # two GPU workers: two shards at once
            worker_env = {**os.environ, "PODCAST_BRIEF_DEPLOYMENT": "celery"}
            with (
                celery_worker("dagster", "cpu", worker_env, tmp_path / "cpu.log") as cpu_worker,
                celery_worker("gpu", "gpu1", worker_env, tmp_path / "gpu1.log") as gpu_worker,
                celery_worker("gpu", "gpu2", worker_env, tmp_path / "gpu2.log") as second_gpu_worker,
            ):
                with _definitions_for("celery"):  # this process too: the job's executor is celery
                    job = ReconstructableRepository.for_module(
                        "podcast_assets.definitions", "defs", working_directory=str(ROOT)
                    ).get_reconstructable_job("daily_brief")
                    result = dg.execute_job(
                        job,
                        instance,
                        tags={"dagster/partition": day},
                        run_config={
                            "resources": {
                                "transcriber": {"config": {"shards": SHARDS}},
                                "embedder": {"config": {"shards": EMBED_SHARDS}},
                            }
                        },
                    )
                assert result.success, [e.message for e in result.all_events if e.is_step_failure]
                # The celery executor records which worker took each step ("Celery worker": "<name>@<host>").
                ran_in = {}
                engine_events = instance.get_records_for_run(
                    result.run_id, of_type=dg.DagsterEventType.ENGINE_EVENT, limit=10_000
                ).records
                for record in engine_events:
                    event = record.event_log_entry.dagster_event
                    metadata = event.engine_event_data.metadata if event.engine_event_data else {}
                    if "Celery worker" in metadata:
                        ran_in[event.step_key] = str(metadata["Celery worker"].value).split("@")[0]
                assert all(w.poll() is None for w in (cpu_worker, gpu_worker, second_gpu_worker))
            assert instance.get_run_by_id(result.run_id).tags.get("dagster/partition") == day
            actual = _day_results(WarehouseResource())

    assert {step for step, worker in ran_in.items() if worker.startswith("gpu")} == GPU_STEPS, ran_in
    assert {ran_in[step] for step in SHARD_STEPS} == {"gpu1", "gpu2"}, ran_in  # both workers took shards of the day
    assert set(ran_in.values()) == {"gpu1", "gpu2", "cpu"} and "episodes" in ran_in and "briefs" in ran_in, ran_in
    assert ran_in["transcripts.plan_transcript_shards"] == ran_in["transcripts.write_transcripts"] == "cpu", ran_in
    assert ran_in["insight_embeddings.plan_embedding_shards"] == "cpu", ran_in  # embeddings fan out the same way
    assert ran_in["insight_embeddings.write_insight_embeddings"] == "cpu", ran_in
    # Same day, same tables (subscriber ids are derived from emails, so the two homes agree).
    for table, rows in expected.items():
        assert actual[table] == rows, table
    assert {status for _, status in actual["deliveries"]} == {"sent"}
    assert len(inbox.messages) == 2 * len(actual["deliveries"])  # each run sent its own day once


# ---------------------------------------------------------------- the catalog on PostgreSQL


def _create_database(port: int, name: str) -> None:
    subprocess.run(
        [
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            PG_ENV["DAGSTER_PG_USERNAME"],
            "-d",
            "postgres",
            "-c",
            f"CREATE DATABASE {name}",
        ],
        check=True,
        timeout=30,
        env={**os.environ, "PGPASSWORD": PG_ENV["DAGSTER_PG_PASSWORD"]},
        capture_output=True,
    )


def _catalog_database(port: int, name: str) -> str:
    """A database for the catalog on the throwaway cluster; returns its SQLAlchemy URL."""
    _create_database(port, name)
    user, password = PG_ENV["DAGSTER_PG_USERNAME"], PG_ENV["DAGSTER_PG_PASSWORD"]
    return f"postgresql+psycopg2://{user}:{password}@127.0.0.1:{port}/{name}"


@pytest.mark.scale_out
def test_catalog_on_postgres_serves_the_web_app_and_the_delivery_ledger(home):
    """PODCAST_BRIEF_CATALOG_URL on a real PostgreSQL: migrations (two processes' worth at once), the web app's
    sign-up -> confirm -> one-click unsubscribe over HTTP with aiosmtpd, and the delivery ledger sending once."""
    import re
    import threading
    from email import message_from_bytes, policy

    import httpx
    import sqlalchemy as sa

    from podcast_assets.catalog import resource as catalog_resource
    from podcast_assets.catalog import tables as t
    from podcast_assets.catalog.registry import add_subscriber, receiving_subscribers
    from podcast_assets.evaluation.demo_network import DEMO_DAY
    from podcast_assets.operations.deliveries import deliver_day, sent_twice
    from podcast_assets.resources.mailer import MailerResource
    from podcast_assets.resources.warehouse import WarehouseResource
    from podcast_assets.web.server import WebServer

    with postgres_server() as port, smtp_server() as (smtp, inbox):
        url = _catalog_database(port, "catalog")
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        errors = []

        def migrate() -> None:
            try:
                catalog_resource._migrate(engine)
            except Exception as error:  # noqa: BLE001 (collected, asserted below)
                errors.append(error)

        first_uses = [threading.Thread(target=migrate) for _ in range(3)]
        for thread in first_uses:
            thread.start()
        for thread in first_uses:
            thread.join(timeout=60)
        assert not errors, errors
        with engine.connect() as connection:
            assert connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"

        env = {
            "PODCAST_BRIEF_CATALOG_URL": url,
            "PODCAST_BRIEF_SMTP_HOST": "127.0.0.1",
            "PODCAST_BRIEF_SMTP_PORT": str(smtp.port),
        }
        with patched_env(env), WebServer(port=0) as web, patched_env({"PODCAST_BRIEF_PUBLIC_URL": web.base_url}):
            catalog = CatalogResource()
            assert catalog.engine().dialect.name == "postgresql"
            with httpx.Client(base_url=web.base_url, timeout=30) as client:
                csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/").text).group(1)
                signup = client.post("/signup", data={"csrf": csrf, "email": "pg@example.com", "interests": "grid"})
                assert signup.status_code == 200
                ((_, raw),) = inbox.messages
                body = message_from_bytes(raw, policy=policy.default).get_body(("plain",)).get_content()
                token = re.search(r"/confirm\?t=(\S+)", body).group(1)
                assert client.post("/confirm", data={"csrf": csrf, "t": token}).status_code == 200
            assert [s["email"] for s in receiving_subscribers(catalog)] == ["pg@example.com"]

            subscriber_id = add_subscriber(catalog, "ops@example.com", "batteries", "Ops")
            warehouse = WarehouseResource()
            warehouse.execute(
                "INSERT INTO brief_documents VALUES (?, ?, 1, 'ok', '# B', '<p>B</p>', 'B', NULL)",
                [DEMO_DAY, subscriber_id],
            )
            mailer = MailerResource(smtp_host="127.0.0.1", smtp_port=smtp.port)
            assert deliver_day(warehouse, catalog, mailer, DEMO_DAY, log=lambda _: None)["sent"] == 1
            assert deliver_day(warehouse, catalog, mailer, DEMO_DAY, log=lambda _: None)["already_delivered"] == 1
            assert sent_twice(catalog, DEMO_DAY).is_empty()
            (_, raw) = inbox.messages[-1]
            brief = message_from_bytes(raw, policy=policy.default)
            one_click = re.match(r"<([^>]+)>", brief["List-Unsubscribe"]).group(1)
            response = httpx.post(
                one_click,
                content=b"List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert response.status_code == 200
            assert [s["email"] for s in receiving_subscribers(catalog)] == ["pg@example.com"]
            (ops,) = catalog.rows(sa.select(t.subscribers).where(t.subscribers.c.email == "ops@example.com"))
            assert ops["active"] is False and ops["unsubscribed_at"] is not None
        catalog_resource._READY.pop(url, None)  # the cluster goes away with this test
