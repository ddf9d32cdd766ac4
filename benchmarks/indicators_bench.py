"""Time `phm indicators` (every pack the synthetic region's programme chooses) on a linked
synthetic region, in a fresh process, with CPU seconds and peak memory.

    python benchmarks/indicators_bench.py OUT --people 1000000

OUT/region and OUT/workspace are made first (synth, init, ingest, link: `phm bench`'s own stages,
each timed the same way) unless OUT/workspace exists, in which case only the indicators are
timed again. The region's own codes stand in for the lists OpenPHM does not ship
(openphm.synth.CODELISTS). Prints aggregates only.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def main() -> None:
    from openphm.bench.measure import measure
    from openphm.synth import CODELISTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    region, workspace = args.out / "region", args.out / "workspace"
    both = {"region": region, "workspace": workspace}
    stages = []
    if not workspace.exists():
        stages += [
            ("synth", "openphm.bench.stages:synthesise",
             {"region": region, "people": args.people, "seed": args.seed}),
            ("init", "openphm.bench.stages:init_workspace", both),
            ("ingest", "openphm.landing.bench:ingest_region", both),
            ("link", "openphm.pseudonymise.bench:link_stage", both),
        ]  # fmt: skip
    stages.append(("indicators", "openphm.indicators.bench:indicators_stage",
                   {"workspace": workspace, "codelists": CODELISTS}))  # fmt: skip
    for name, target, kwargs in stages:
        result = measure(name, target, **kwargs)
        counts = ", ".join(f"{k} {v:,}" for k, v in result.counts.items())
        print(f"{name:<11} {result.seconds:8.1f} s  CPU {result.cpu_seconds:8.1f} s  "
              f"peak {result.peak_rss_mb:8,.0f} MB  {counts}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
