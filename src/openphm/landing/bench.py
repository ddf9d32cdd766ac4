"""The benchmark's `ingest` stage: land a synthetic region's extracts in its workspace.

Reads the region's extracts; writes zone 1 of the benchmark workspace. Used by `phm bench`
(openphm.bench.plan) and benchmarks/landing_bench.py.
"""

from __future__ import annotations

from pathlib import Path


def ingest_region(region: Path, workspace: Path) -> dict[str, int]:
    from openphm.governance.audit import Actor
    from openphm.landing.ingest import LOADED, REFUSED, ingest
    from openphm.programme.workspace import Workspace

    actor = Actor(user="bench", role="processor-engineer")
    report = ingest(Workspace.open(workspace), [region / "extracts"], actor)
    loaded = [o.counts for o in report.outcomes if o.status == LOADED]
    return {
        "files": len(loaded),
        "refused": report.count(REFUSED),
        "rows": sum(c.received for c in loaded),
        "quarantined": sum(c.quarantined for c in loaded),
    }
