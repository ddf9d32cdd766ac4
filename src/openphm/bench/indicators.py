"""The indicators' benchmark stage (benchmarks/indicators_bench.py): `phm indicators`' own code
on a linked workspace, every pack of its programme, as at the end of the region's history.
Returns counts only. It lives in bench/ with the other stages, so that indicators/ never
imports the benchmark."""

from __future__ import annotations

from pathlib import Path


def indicators_stage(workspace: Path, codelists: Path | None = None) -> dict[str, int]:
    from openphm.analytics.stage import areas_of
    from openphm.bench.stages import history_end
    from openphm.indicators.build import choose
    from openphm.indicators.stage import build_on_engine
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(workspace)
    chosen = choose([(p.name, p.purpose.value) for p in ws.config.indicators.packs])
    summary = build_on_engine(
        ws, None, history_end(), chosen, codelists, areas_of(ws),
        say=lambda _: None,
    )  # fmt: skip
    return {
        "indicators": len(summary.flagged),
        "flagged": sum(summary.flagged.values()),
        **{f"ms_{step}": round(seconds * 1000) for step, seconds in summary.seconds.items()},
    }
