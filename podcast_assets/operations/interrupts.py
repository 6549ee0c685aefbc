"""SIGTERM and SIGINT end `podcast-brief run` cleanly: the run is marked canceled, its pool slots are freed, and
the command exits non-zero (128 + the signal number).

During a run Dagster installs its own SIGINT/SIGTERM handler: it raises an interrupt inside asset code and
otherwise only notes the signal. Dagster ends an interrupted run as CANCELED only when the run was marked
CANCELING first (as its own "terminate" does); without that it records a failure. So `install_dagster_hook` puts
a note in front of every handler Dagster installs, and `cancel_on_signal` watches for that note from a thread and
marks the run CANCELING, before Dagster's handler raises (it waits up to two seconds for the mark).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import dagster as dg

_MARK_WAIT_S = 2.0
_EXIT_WAIT_S = 30.0

_signal_seen = threading.Event()
_cancel_marked = threading.Event()
_watching = threading.Event()
_last_signal: list[int] = []


class RunInterrupted(KeyboardInterrupt):
    """`podcast-brief run` was asked to stop (SIGINT or SIGTERM)."""

    def __init__(self, signum: int | None, run_id: str | None = None, run_had_finished: bool = False) -> None:
        self.signum = signum
        self.run_id = run_id
        name = signal.Signals(signum).name if signum else "an interrupt"
        if not run_id:
            what = "no run was in progress"
        elif run_had_finished:
            what = f"run {run_id} had finished every step before the signal took effect"
        else:
            what = f"run {run_id} canceled, its pool slots freed"
        super().__init__(f"stopped by {name}: {what}")

    @property
    def exit_code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)


def last_signal() -> int | None:
    return _last_signal[-1] if _last_signal else None


def signal_seen() -> bool:
    return _signal_seen.is_set()


def reset() -> None:
    """Forget signals seen by an earlier command in this process (tests run several in one process)."""
    _signal_seen.clear()
    _cancel_marked.clear()
    _last_signal.clear()


def _note(signum: int) -> None:
    """Called first in every handler: only sets flags (no I/O in a signal handler)."""
    _last_signal.append(signum)
    _signal_seen.set()


def wait_for_cancel_mark() -> None:
    """Give the watcher thread time to mark the run CANCELING (no-op when nothing watches)."""
    if _watching.is_set():
        _cancel_marked.wait(_MARK_WAIT_S)


def install_dagster_hook() -> None:
    """Wrap the interrupt handlers Dagster installs during execution (dagster 1.13's `dagster._utils.interrupts`)."""
    from dagster._utils import interrupts as dagster_interrupts

    replace = dagster_interrupts._replace_interrupt_signal
    if getattr(replace, "_podcast_brief_hook", False):
        return

    def replace_with_note(handler):
        if callable(handler) and not getattr(handler, "_podcast_brief_noted", False):
            inner = handler

            def handler(signum, frame):  # noqa: F811 (wraps the handler Dagster passed)
                _note(signum)
                wait_for_cancel_mark()
                return inner(signum, frame)

            handler._podcast_brief_noted = True
        return replace(handler)

    replace_with_note._podcast_brief_hook = True
    dagster_interrupts._replace_interrupt_signal = replace_with_note


@contextmanager
def signals_stop_the_command() -> Iterator[None]:
    """Outside Dagster's execution, SIGINT and SIGTERM raise `RunInterrupted` (even where a shell started the
    command with SIGINT ignored, as background jobs are)."""

    def handler(signum: int, _frame) -> None:
        _note(signum)
        raise RunInterrupted(signum)

    handler._podcast_brief_noted = True
    reset()
    previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in previous:
        signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old if old is not None else signal.SIG_DFL)


@contextmanager
def cancel_on_signal(instance: dg.DagsterInstance, run_id: str, log: Callable[[str], None] = print) -> Iterator[None]:
    """While this is open, a SIGINT/SIGTERM marks run `run_id` CANCELING (from a thread, not the handler)."""
    stop = threading.Event()
    # Held while the watcher marks the run, and taken on the way out: once this block has exited, no CANCELING
    # mark can land any more (the caller goes on to record how the run ended, and a late mark would overwrite it).
    marking = threading.Lock()
    _cancel_marked.clear()

    def watch() -> None:
        while not stop.is_set():
            if _signal_seen.wait(0.2):
                break
        try:
            with marking:
                if stop.is_set():
                    return
                run = instance.get_run_by_id(run_id)
                if run is not None and not run.is_finished and run.status != dg.DagsterRunStatus.CANCELING:
                    signum = last_signal()
                    name = signal.Signals(signum).name if signum else "a signal"
                    instance.report_run_canceling(run, f"podcast-brief run received {name}: canceling the run")
                    log(f"received {name}: canceling run {run_id}")
        finally:
            _cancel_marked.set()

    thread = threading.Thread(target=watch, name="cancel-on-signal", daemon=True)
    _watching.set()
    thread.start()
    try:
        yield
    finally:
        # Taking the lock waits for a mark in progress (one read and one write to the instance) and keeps any
        # later one from starting: a late CANCELING mark would overwrite the end the caller records next
        # (CANCELED, or SUCCESS when the signal came after the last step). Bounded: an instance call that never
        # returns must not keep the command from exiting.
        acquired = marking.acquire(timeout=_EXIT_WAIT_S)
        stop.set()
        if acquired:
            marking.release()
        else:
            log(f"the cancel mark of run {run_id} did not finish within {_EXIT_WAIT_S:.0f} s; going on without it")
        _watching.clear()
        thread.join(_EXIT_WAIT_S if acquired else 0)
