"""Resources and executor chosen by deployment, in one place.

`PODCAST_BRIEF_DEPLOYMENT` (read once when the definitions load, default `local`):

- `local`: everything under `$PODCAST_BRIEF_HOME` (DuckDB file, audio, outbox), Dagster's default multiprocess
  executor, no alerts. What `dagster dev` and the tests use.
- `production`: one box (webserver + daemon + Postgres instance, see deploy/). Same executor; SMTP host and
  warehouse path from required environment variables (read when a run starts, via `dg.EnvVar`), whisper base on GPU
  workers (tiny.en on CPU ones),
  the alert webhook on when PODCAST_BRIEF_ALERT_WEBHOOK_URL is set.
- `celery`: production resources; steps run on Celery workers (dagster-celery, Redis broker). GPU assets carry
  `dagster-celery/queue: gpu` (orchestration/execution.py) so only workers started with `-Q gpu` take them.
- `kubernetes`: production resources; each step in its own pod (dagster-k8s `k8s_job_executor`); GPU assets
  request `nvidia.com/gpu: 1` through their `dagster-k8s/config` op tags.

The scale-out engines are optional extras (`pip install -e .[scale]`), imported only when chosen.
"""

from __future__ import annotations

import os

import dagster as dg

from podcast_assets.catalog import CatalogResource
from podcast_assets.orchestration.sensors import AlertWebhookResource
from podcast_assets.resources.embedder import EmbedderResource
from podcast_assets.resources.headlines import HeadlineWriterResource
from podcast_assets.resources.http_client import HttpClientResource
from podcast_assets.resources.mailer import MailerResource
from podcast_assets.resources.media_store import MediaStoreResource
from podcast_assets.resources.transcriber import TranscriberResource
from podcast_assets.resources.warehouse import WarehouseResource

DEPLOYMENT_ENV = "PODCAST_BRIEF_DEPLOYMENT"
DEPLOYMENTS = ("local", "production", "celery", "kubernetes")

# Celery: broker/backend URLs are environment variables on every machine (webserver, daemon, workers).
CELERY_EXECUTOR_CONFIG = {
    "broker": {"env": "PODCAST_BRIEF_CELERY_BROKER"},
    "backend": {"env": "PODCAST_BRIEF_CELERY_BACKEND"},
    "config_source": {"task_default_queue": "dagster", "worker_prefetch_multiplier": 1, "task_acks_late": True},
}

# Kubernetes: the step pods run the code-location image; secrets hold SMTP / warehouse / webhook settings.
K8S_EXECUTOR_CONFIG = {
    "job_namespace": {"env": "PODCAST_BRIEF_K8S_NAMESPACE"},
    "env_config_maps": ["podcast-brief-env"],
    "env_secrets": ["podcast-brief-secrets"],
    "max_concurrent": 8,
    "step_k8s_config": {
        "container_config": {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"memory": "6Gi"}}},
    },
}


def deployment_name() -> str:
    name = os.environ.get(DEPLOYMENT_ENV, "local").strip() or "local"
    if name not in DEPLOYMENTS:
        raise ValueError(f"{DEPLOYMENT_ENV} must be one of {', '.join(DEPLOYMENTS)}, not {name!r}")
    return name


def local_resources() -> dict[str, dg.ConfigurableResource]:
    return {
        "warehouse": WarehouseResource(),
        "catalog": CatalogResource(),
        "http": HttpClientResource(),
        "transcriber": TranscriberResource(),
        "embedder": EmbedderResource(),
        "mailer": MailerResource(),
        "headline_writer": HeadlineWriterResource(),
        "alert_webhook": AlertWebhookResource(),
        "media": MediaStoreResource(),
    }


def production_resources() -> dict[str, dg.ConfigurableResource]:
    """Settings every production machine gets from its environment (secrets, config maps)."""
    return {
        # A path on the box (or a shared volume). See deploy/README.md "Warehouse at scale" for many machines.
        "warehouse": WarehouseResource(path=dg.EnvVar("PODCAST_BRIEF_WAREHOUSE_PATH")),
        # PODCAST_BRIEF_CATALOG_URL (PostgreSQL in production), read when used; SQLite in the home folder without it.
        "catalog": CatalogResource(),
        "http": HttpClientResource(),
        # model auto: base on GPU workers, tiny.en on CPU ones (the measured trade-off, QUALITY.md).
        "transcriber": TranscriberResource(),
        "embedder": EmbedderResource(),
        "mailer": MailerResource(smtp_host=dg.EnvVar("PODCAST_BRIEF_SMTP_HOST")),
        "headline_writer": HeadlineWriterResource(),
        "alert_webhook": AlertWebhookResource(),  # on when PODCAST_BRIEF_ALERT_WEBHOOK_URL is set
        # Many machines: PODCAST_BRIEF_LAKE_URL / PODCAST_BRIEF_AUDIO_URL put the daily tables and the audio on
        # shared or object storage (read when used; unset = the local DuckDB file and home folder).
        "media": MediaStoreResource(),
    }


def executor_for(name: str) -> dg.ExecutorDefinition | None:
    """None = Dagster's default (multiprocess, limited by the pools in dagster.yaml)."""
    if name == "celery":
        from dagster_celery import celery_executor

        return celery_executor.configured(CELERY_EXECUTOR_CONFIG, name="celery")
    if name == "kubernetes":
        from dagster_k8s import k8s_job_executor

        return k8s_job_executor.configured(K8S_EXECUTOR_CONFIG, name="k8s")
    return None


def resources_for(name: str) -> dict[str, dg.ConfigurableResource]:
    return local_resources() if name == "local" else production_resources()


def set_pool_limits(instance: dg.DagsterInstance, limits: dict[str, int]) -> None:
    """Per-pool slot limits live in the instance database (dagster.yaml only has the default)."""
    for pool, limit in limits.items():
        if not isinstance(limit, int) or limit < 0:
            raise ValueError(f"pool {pool!r}: limit must be a non-negative integer, not {limit!r}")
        instance.event_log_storage.set_concurrency_slots(pool, limit)


def main(argv: list[str] | None = None) -> int:
    """`python -m podcast_assets.orchestration.deployment set-pools deploy/pools.yaml` on the production instance."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(prog="python -m podcast_assets.orchestration.deployment")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("set-pools", help="apply per-pool limits from a YAML file").add_argument("path")
    args = parser.parse_args(argv)
    with open(args.path, encoding="utf-8") as handle:
        limits = yaml.safe_load(handle) or {}
    with dg.DagsterInstance.get() as instance:
        set_pool_limits(instance, limits)
        for pool in limits:
            print(f"{pool}: {instance.event_log_storage.get_concurrency_info(pool).slot_count} slots")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
