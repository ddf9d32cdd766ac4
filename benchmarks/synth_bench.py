"""Time `phm synth` at a given size: wall time and peak memory (RSS) of the generating process.

python benchmarks/synth_bench.py --people 1000000 --practices 100 [--months 24] [--keep DIR]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from openphm.synth import RegionOptions, generate_region


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--practices", type=int, default=10)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", default="csv")
    parser.add_argument("--keep", type=Path, help="write here and keep it (default: a temp dir)")
    args = parser.parse_args()
    target = args.keep or Path(tempfile.mkdtemp(prefix="synth-bench-")) / "region"
    options = RegionOptions(
        people=args.people, practices=args.practices, seed=args.seed, months=args.months,
        format=args.format,
    )  # fmt: skip
    began = time.perf_counter()
    generate_region(
        target, options, progress=lambda s: print(f"  {time.perf_counter() - began:7.1f} s  {s}")
    )
    wall = time.perf_counter() - began
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    # ru_maxrss is in kilobytes on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{args.people:,} people, {args.practices} practices, {args.months} months: "
        f"{wall:.1f} s wall, peak RSS {peak:.2f} GB, {size / 1024**3:.2f} GB written"
    )
    if args.keep is None:
        shutil.rmtree(target.parent)


if __name__ == "__main__":
    main()
