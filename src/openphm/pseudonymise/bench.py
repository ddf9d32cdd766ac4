"""The benchmark's link stage (`phm bench`): `phm link` on a workspace already ingested.

Reads the synthetic region's practice public keys (as the practices would send them) and the
workspace; writes zone 3. Returns counts only.
"""

from __future__ import annotations

import time
from pathlib import Path

from openphm.governance.audit import Actor
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link
from openphm.pseudonymise.practices import register_practice, registered_keys


def link_stage(region: Path, workspace: Path) -> dict[str, int]:
    actor = Actor(user="bench", role="processor-engineer")
    ws = Workspace.open(workspace)
    registered = registered_keys(ws)
    for practice in ws.config.programme.controllers:
        key = Path(region) / "practices" / practice / "practice.pub"
        if practice not in registered and key.is_file():
            register_practice(ws, actor, practice, key)
    # Seconds per step of `phm link` (whole seconds, as counts): where the stage's time goes.
    started: dict[str, float] = {}
    result = link(
        ws, actor, progress=lambda step, *_: started.setdefault(step, time.perf_counter())
    )
    ends = [*list(started.values())[1:], time.perf_counter()]
    steps = {
        f"{step.split()[0]}_s": round(end - start)
        for (step, start), end in zip(started.items(), ends, strict=True)
    }
    return {
        "people": result.people,
        "submissions": result.submissions_linked,
        "rows": sum(result.written.values()),
        "records_to_trace": result.records_to_trace,
        "traced": result.traced,
        "tokens_sealed": result.tokens_sealed,
        **steps,
    }
