"""A step waiting for a pool slot says who holds it, and waits without burning a core.

Dagster 1.13 waits for a pool slot in a loop that does not sleep: `InstanceConcurrencyContext.
interval_to_next_pending_claim_check` returns `min([0, ...])`, never above zero, so the in-process executor (every
`podcast-brief run`) spins a core at 100% for as long as the slot is held, and the multiprocess executor spins
whenever no step is in flight. Its log says only "Step blocked by limit for pool gpu", every five minutes.

`install()` wraps `ActiveExecution.concurrency_event_iterator` (called on every turn of both executors' loops):
- when steps wait for a slot and nothing is in flight, it sleeps until the next claim check (at most a second,
  so a signal is still seen promptly);
- once a minute per waiting step it logs which run holds the slot, which step, since when and in which process;
  a holder whose process is gone is marked failed and its slots freed on the spot (`dead_runs.clear_run`);
- in the in-process executor a SIGINT/SIGTERM received while waiting ends the run as canceled (Dagster only
  checks for it when a step starts, which a waiting run never does);
- in the in-process executor no step starts once a SIGINT/SIGTERM was seen. Dagster raises the interrupt inside
  the running step, but Python drops an exception raised in a weakref callback or `__del__`: a signal that lands
  while the garbage collector runs one is lost, and the run would go on to SUCCESS (seen in CI).

The patch is applied when `podcast_assets.definitions` is imported (every run worker and the CLI); dagster is
pinned to 1.13.27 and `test_crash_safety` checks the patch is in place.
"""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg

HOLDER_LOG_INTERVAL_S = 60.0
MAX_SLEEP_S = 1.0
MIN_SLEEP_S = 0.05


def _since(timestamp: dt.datetime | None) -> str:
    if timestamp is None:
        return "an unknown time"
    if timestamp.tzinfo is None:
        timestamp = timestamp.replace(tzinfo=dt.UTC)
    waited = dt.datetime.now(dt.UTC) - timestamp
    return f"{timestamp:%Y-%m-%d %H:%M:%S} UTC ({int(waited.total_seconds())} s ago)"


def describe_holders(instance: dg.DagsterInstance, pool: str, own_run_id: str, clear_dead: bool = True) -> str:
    """One line: the pool's slot count and who holds each slot (run, step, since when, process); dead holders
    are cleared on the spot and said so."""
    from podcast_assets.operations.dead_runs import clear_run, is_dead
    from podcast_assets.operations.run_processes import run_process

    storage = instance.event_log_storage
    info = storage.get_concurrency_info(pool)
    assigned = {(p.run_id, p.step_key): p.assigned_timestamp for p in info.pending_steps}
    holders = [slot for slot in info.claimed_slots if slot.run_id]
    if not holders:
        return f"pool '{pool}' ({info.slot_count} slot(s)): no holder right now, claiming again shortly"
    parts = []
    for slot in holders:
        run = instance.get_run_by_id(slot.run_id)
        since = _since(assigned.get((slot.run_id, slot.step_key)))
        if run is None:
            parts.append(f"run {slot.run_id} (not in this instance) step {slot.step_key} since {since}")
            continue
        process = run_process(instance, run, trust_launcher_pids=True)
        who = f", {process.describe()}" if process else ""
        day = run.tags.get("dagster/partition")
        label = f"run {run.run_id} ({run.job_name}{' ' + day if day else ''}, {run.status.value}{who})"
        dead = is_dead(instance, run, trust_launcher_pids=True) if clear_dead and run.run_id != own_run_id else None
        if dead is not None:
            clear_run(instance, run, dead, f"its process ({dead.describe()}) is gone; found holding pool '{pool}'")
            parts.append(f"{label} step {slot.step_key} since {since}: its process is gone, marked failed, slot freed")
        elif run.is_finished:
            storage.free_concurrency_slots_for_run(run.run_id)
            parts.append(f"{label} step {slot.step_key} since {since}: run had ended, slot freed")
        else:
            parts.append(f"{label} step {slot.step_key} since {since}")
    return f"pool '{pool}' ({info.slot_count} slot(s)) held by " + "; ".join(parts)


def install() -> None:
    from dagster._core.errors import DagsterExecutionInterruptedError
    from dagster._core.execution.context.system import PlanExecutionContext
    from dagster._core.execution.plan.active import ActiveExecution, _pool_key_for_step
    from dagster._utils.interrupts import check_captured_interrupt

    from podcast_assets.operations.interrupts import install_dagster_hook, signal_seen, wait_for_cancel_mark

    install_dagster_hook()
    original = ActiveExecution.concurrency_event_iterator
    if getattr(original, "_podcast_brief_patch", False):
        return

    def concurrency_event_iterator(self, plan_context):
        in_process = isinstance(plan_context, PlanExecutionContext)
        if in_process and signal_seen():
            wait_for_cancel_mark()
            raise DagsterExecutionInterruptedError("interrupted by a signal: no further step starts")
        yield from original(self, plan_context)
        claims = self._instance_concurrency_context
        if claims is None or not claims.has_pending_claims():
            return
        if in_process and check_captured_interrupt():
            wait_for_cancel_mark()
            raise DagsterExecutionInterruptedError("interrupted while waiting for a pool slot")
        logged = self.__dict__.setdefault("_podcast_brief_holders_logged", {})
        now = time.time()
        for step_key in claims.pending_claim_steps():
            if now - logged.get(step_key, 0.0) < HOLDER_LOG_INTERVAL_S:
                continue
            logged[step_key] = now
            pool = _pool_key_for_step(self.get_step_by_key(step_key))
            try:
                holders = describe_holders(plan_context.instance, pool, plan_context.run_id)
            except Exception as error:  # a log line must never fail the run
                holders = f"pool '{pool}': holders unknown ({type(error).__name__}: {error})"
            plan_context.log.info(f"step {step_key} is waiting for a slot: {holders}")
        if not self._in_flight:
            ready_at = [at for at in claims._pending_timeouts.values()]
            wait_s = min(ready_at) - time.time() if ready_at else MIN_SLEEP_S
            time.sleep(min(MAX_SLEEP_S, max(MIN_SLEEP_S, wait_s)))

    concurrency_event_iterator._podcast_brief_patch = True
    ActiveExecution.concurrency_event_iterator = concurrency_event_iterator


def installed() -> bool:
    from dagster._core.execution.plan.active import ActiveExecution

    return bool(getattr(ActiveExecution.concurrency_event_iterator, "_podcast_brief_patch", False))
