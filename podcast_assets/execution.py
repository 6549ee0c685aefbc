"""How steps execute: retries for network-bound assets and routing of GPU-bound assets to GPU workers.

Kept in one place so the assets stay about data; deployments (Celery queues, Kubernetes resources) read these.
"""

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
