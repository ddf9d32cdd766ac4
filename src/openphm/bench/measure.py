"""Run one stage in a fresh process and measure its wall time, CPU time and peak resident
memory."""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import resource
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StageResult:
    name: str
    seconds: float
    peak_rss_mb: float
    counts: dict[str, int]
    # User + system seconds of the stage's process and of every process it started: those it
    # waited for, and those still running when it returned (a Spark JVM lives until the
    # stage's process exits). On a machine shared with other jobs these move far less with
    # their load than wall time does.
    cpu_seconds: float = 0.0


class _TreeMemory:
    """The peak resident memory of this process and every process it started, sampled every
    `interval` seconds. A stage on Spark runs most of its work in a JVM that the stage's
    process starts and keeps until it exits, which this process's own high-water mark
    (ru_maxrss) does not include."""

    def __init__(self, interval: float = 0.25) -> None:
        self.peak_bytes = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while True:
            total = 0
            for process in (me, *me.children(recursive=True)):
                # A process that ended between listing and reading holds nothing.
                with contextlib.suppress(psutil.Error):
                    total += process.memory_info().rss
            self.peak_bytes = max(self.peak_bytes, total)
            if self._stop.wait(self._interval):
                return


class StageFailed(RuntimeError):
    """A stage raised in its process; its error, as text (some errors, such as Spark's, cannot
    be sent back between processes as they are)."""


def _run_in_child(
    target: str, kwargs: dict[str, Any]
) -> tuple[float, float, float, dict[str, int]]:
    try:
        return _measured(target, kwargs)
    except Exception as error:
        try:
            text = str(error)
        except Exception:  # a Py4J error whose JVM has gone cannot say what it was
            text = "(no message: the process behind it had stopped)"
        raise StageFailed(f"{type(error).__name__}: {text}") from None


def _cpu() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    own, children = (
        resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _cpu_still_running() -> float:
    """CPU seconds of the processes this one started that have not been waited for (so are
    not in `_cpu`), with those they waited for themselves."""
    import psutil

    total = 0.0
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):  # ended and reaped since listing: in _cpu
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def _measured(target: str, kwargs: dict[str, Any]) -> tuple[float, float, float, dict[str, int]]:
    module, _, function = target.partition(":")
    fn: Callable[..., dict[str, int] | None] = getattr(importlib.import_module(module), function)
    # What the previous stage wrote (synth: 1.9 GB for a million people) may still be being
    # written back to disk by the kernel; flushed here, outside the timing, it is not charged
    # to this stage (the I/O floor, which runs just after synth, has taken 38 to 55 s).
    os.sync()
    with _TreeMemory() as tree:
        cpu, started = _cpu(), time.perf_counter()
        counts = fn(**kwargs) or {}
        seconds, cpu = time.perf_counter() - started, _cpu() - cpu + _cpu_still_running()
    # ru_maxrss is in KiB on Linux: the high-water mark of this process alone, exact where
    # sampling could miss a short peak; the tree's sampled peak counts a JVM's memory too.
    own_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, cpu, max(own_mb, tree.peak_bytes / 2**20), counts


def measure(name: str, target: str, **kwargs: Any) -> StageResult:
    """Run `target` ("module:function") with kwargs in a new process (spawned, not forked, so
    no memory is inherited from the parent and DuckDB starts clean)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        seconds, cpu, peak_mb, counts = pool.submit(_run_in_child, target, kwargs).result()
    return StageResult(name, seconds, peak_mb, counts, cpu)
