"""How steps execute: retries for network-bound assets and routing of GPU-bound assets to GPU workers.

Kept in one place so the assets stay about data; deployments (Celery queues, Kubernetes resources) read these.
"""

import datetime as dt

import dagster as dg

# Network-bound assets (feeds, enclosures, SMTP): exponential backoff with jitter.
NETWORK_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=10, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# GPU-bound assets (whisperx, sentence-transformers). Op tags, not job tags: automation and backfill runs
# ignore job-level tags. The Celery executor routes on `dagster-celery/queue`; the k8s executor merges
# `dagster-k8s/config` into the step's pod.
GPU_OP_TAGS = {
    "dagster-celery/queue": "gpu",
    "dagster-k8s/config": {
        "container_config": {"resources": {"limits": {"nvidia.com/gpu": "1"}, "requests": {"nvidia.com/gpu": "1"}}},
        "pod_spec_config": {"node_selector": {"nvidia.com/gpu.present": "true"}},
    },
}

# Backfills: one run per day. A day is whisperx-heavy (minutes of ASR per audio hour on CPU) and every daily
# table is written per partition (delete the day, insert the day), so a single run over a range would hold one
# GPU worker for the whole range, lose every day's work when one day fails, and could not be retried per day.
# One run per partition lets the run queue spread days over workers, shows each failed day on its own in the
# UI, and a re-run replaces exactly that day. (The SQL partition models need one day per run too.)
DAILY_BACKFILL_POLICY = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)

# Freshness of the product: yesterday's briefs are built at 05:00 UTC; past 26 hours without a new briefs
# materialization the asset is failing (warn after 25 hours, a missed morning run plus an hour's slack).
BRIEFS_FRESHNESS_POLICY = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=25)
)
FRESHNESS_POLICIES = {dg.AssetKey("briefs"): BRIEFS_FRESHNESS_POLICY}


def with_daily_policies(assets: list) -> list:
    """Backfill policy and cost hooks on every daily-partitioned AssetsDefinition, applied once in definitions.py.
    Specs (the registry tables) and unpartitioned assets pass through unchanged."""
    from podcast_assets.operations.costs import COST_HOOKS

    out = []
    for asset in assets:
        if isinstance(asset, dg.AssetsDefinition) and asset.partitions_def is not None:
            asset = asset.with_attributes(backfill_policy=DAILY_BACKFILL_POLICY, hook_defs=COST_HOOKS)
        elif isinstance(asset, dg.AssetsDefinition):
            asset = asset.with_attributes(hook_defs=COST_HOOKS)
        out.append(asset)
    return out


def with_freshness(spec: dg.AssetSpec) -> dg.AssetSpec:
    policy = FRESHNESS_POLICIES.get(spec.key)
    return dg.apply_freshness_policy(spec, policy) if policy else spec


def with_operations_policies(assets: list) -> list:
    """Everything deployment-wide, applied once in definitions.py: backfill policy, cost hooks, freshness."""
    return list(dg.map_asset_specs(with_freshness, with_daily_policies(assets)))
