"""Cost accounting: CPU and GPU seconds per step, recorded by hooks attached to every daily asset.

A hook runs in the step's own process right after the step, so it sees that process's CPU time
(`time.process_time()`, all threads: torch and CTranslate2 included). With the in-process executor several steps
share one process, so each hook records the CPU time since the previous hook in the same process. GPU seconds
are the step's wall time when torch sees CUDA in that process and the step is in the `gpu` pool (a GPU is held
for the whole step). Rows go to the `run_costs` table and an `AssetObservation` with the same numbers is
reported on each asset of the step, so the UI plots cost per partition beside the materializations.
"""

from __future__ import annotations

import datetime as dt
import sys
import threading
import time

import dagster as dg

from podcast_assets.resources.warehouse import WarehouseResource

_lock = threading.Lock()
_last_cpu_s: dict[str, float] = {"value": 0.0}


def _cpu_seconds_since_last_hook() -> float:
    with _lock:
        now = time.process_time()
        spent = now - _last_cpu_s["value"]
        _last_cpu_s["value"] = now
    return max(spent, 0.0)


def _device() -> str:
    torch = sys.modules.get("torch")  # never import torch here: only a step that used it can have held a GPU
    try:
        return "cuda" if torch is not None and torch.cuda.is_available() else "cpu"
    except Exception:  # a broken CUDA setup counts as CPU
        return "cpu"


def _wall_seconds(context: dg.HookContext) -> float | None:
    stats = context.instance.get_run_step_stats(context.run_id, step_keys=[context.step_key])
    if not stats or stats[0].start_time is None:
        return None
    return max(time.time() - stats[0].start_time, 0.0)


def _asset_keys(context: dg.HookContext) -> list[dg.AssetKey]:
    """The assets the step materialized. HookContext has no public accessor for them, so this reads the step
    context and falls back to the step's top node: the asset name for single assets, the graph's for a step
    inside a graph-backed asset (`transcripts.transcribe_shard[...]` is a step of `transcripts`)."""
    step_context = getattr(context, "_step_execution_context", None)
    try:
        keys = sorted(step_context.get_output_asset_keys(), key=lambda k: k.to_user_string()) if step_context else []
    except Exception:
        keys = []
    return keys or [dg.AssetKey(context.step_key.split(".")[0].split("[")[0])]


def record_step_cost(context: dg.HookContext, outcome: str) -> dict:
    """Write the step's `run_costs` row and observations; returns the row (also used by tests)."""
    cpu_s = _cpu_seconds_since_last_hook()
    wall_s = _wall_seconds(context)
    pool = getattr(context.op.definition, "pool", None)
    device = _device() if pool == "gpu" else "cpu"
    gpu_s = (wall_s or 0.0) if device == "cuda" else 0.0
    run = context.instance.get_run_by_id(context.run_id)
    partition = run.tags.get("dagster/partition") if run else None
    keys = _asset_keys(context)
    row = {
        "run_id": context.run_id,
        "step_key": context.step_key,
        "job_name": context.job_name,
        "partition_date": dt.date.fromisoformat(partition) if partition and len(partition) == 10 else None,
        "asset_keys": [key.to_user_string() for key in keys],
        "pool": pool,
        "device": device,
        "outcome": outcome,
        "cpu_s": cpu_s,
        "gpu_s": gpu_s,
        "wall_s": wall_s,
    }
    warehouse: WarehouseResource = context.resources.warehouse
    warehouse.execute(
        """INSERT OR REPLACE INTO run_costs (run_id, step_key, partition_date, job_name, asset_keys, pool, device,
           outcome, cpu_s, gpu_s, wall_s, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())""",
        [
            row["run_id"],
            row["step_key"],
            row["partition_date"],
            row["job_name"],
            row["asset_keys"],
            pool,
            device,
            outcome,
            cpu_s,
            gpu_s,
            wall_s,
        ],
    )
    metadata = {"cost/cpu_seconds": cpu_s, "cost/gpu_seconds": gpu_s, "cost/device": device, "cost/outcome": outcome}
    if wall_s is not None:
        metadata["cost/wall_seconds"] = wall_s
    for key in keys:
        context.instance.report_runless_asset_event(
            dg.AssetObservation(asset_key=key, partition=partition, metadata=metadata)
        )
    return row


@dg.success_hook(required_resource_keys={"warehouse"})
def record_cost_on_success(context: dg.HookContext) -> None:
    record_step_cost(context, "success")


@dg.failure_hook(required_resource_keys={"warehouse"})
def record_cost_on_failure(context: dg.HookContext) -> None:
    record_step_cost(context, "failure")


COST_HOOKS = {record_cost_on_success, record_cost_on_failure}


DAY_COSTS_SQL = """
SELECT partition_date, asset_key, sum(cpu_s / n_assets) AS cpu_s, sum(gpu_s / n_assets) AS gpu_s,
       sum(wall_s / n_assets) AS wall_s, count(DISTINCT run_id) AS runs
FROM (SELECT c.*, unnest(c.asset_keys) AS asset_key, greatest(len(c.asset_keys), 1) AS n_assets
      FROM run_costs c WHERE c.partition_date = ?)
GROUP BY ALL ORDER BY asset_key
"""


def day_costs(warehouse: WarehouseResource, day: dt.date):
    """CPU/GPU seconds per asset for one day (a multi-asset step's cost is shared out evenly, so the rows add up
    to the day's total), plus the day's ASR audio hours (for cost per audio hour)."""
    frame = warehouse.query(DAY_COSTS_SQL, [day])
    audio_s = warehouse.query(
        "SELECT coalesce(sum(audio_s), 0) AS s FROM transcript_status WHERE partition_date = ? AND source = 'asr'",
        [day],
    )["s"][0]
    return frame, float(audio_s) / 3600
