"""The benchmark's pipeline stages (init to release) on a region already made, without making it
again or measuring the floors: each stage in a fresh process, as `phm bench` runs them.

    python benchmarks/pipeline_on_region.py REGION OUT

REGION is the `region/` folder of an earlier `phm bench --out DIR` (made on the same calendar
month: the stages' reference date is the end of last month); OUT is emptied and holds the
workspace. Prints each stage's wall and CPU seconds, peak memory and counts, as `phm bench`
does, for comparing code against an earlier run on the very same extracts (docs/benchmarks.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from openphm.bench.measure import measure
from openphm.bench.plan import plan
from openphm.bench.run import NOT_PIPELINE


def main(region: Path, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "region").symlink_to(region.absolute())
    results = []
    for name, target, kwargs in plan(out.absolute(), people=0, seed=1):
        if name in NOT_PIPELINE:
            continue
        result = measure(name, target, **kwargs)
        results.append(result)
        print(f"{name:8} {result.seconds:7.1f} s {result.cpu_seconds:7.1f} CPU s "
              f"{result.peak_rss_mb / 1024:5.2f} GB  {result.counts}", flush=True)  # fmt: skip
    print(f"pipeline {sum(r.seconds for r in results):7.1f} s "
          f"{sum(r.cpu_seconds for r in results):7.1f} CPU s")  # fmt: skip


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]))
