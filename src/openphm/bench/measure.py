"""Run one stage in a fresh process and measure its wall time and peak resident memory."""

from __future__ import annotations

import importlib
import multiprocessing
import resource
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


def _run_in_child(target: str, kwargs: dict[str, Any]) -> tuple[float, float, dict[str, int]]:
    module, _, function = target.partition(":")
    fn: Callable[..., dict[str, int] | None] = getattr(importlib.import_module(module), function)
    started = time.perf_counter()
    counts = fn(**kwargs) or {}
    seconds = time.perf_counter() - started
    # ru_maxrss is in KiB on Linux: the high-water mark of this process alone.
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, peak_mb, counts


def measure(name: str, target: str, **kwargs: Any) -> StageResult:
    """Run `target` ("module:function") with kwargs in a new process (spawned, not forked, so
    no memory is inherited from the parent and DuckDB starts clean)."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        seconds, peak_mb, counts = pool.submit(_run_in_child, target, kwargs).result()
    return StageResult(name, seconds, peak_mb, counts)
