"""The benchmark's link stage (`phm bench`): `phm link` on a workspace already ingested.

Reads the synthetic region's practice public keys (as the practices would send them) and the
workspace; writes zone 3. Returns counts only.
"""

from __future__ import annotations

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
    result = link(ws, actor)
    return {
        "people": result.people,
        "submissions": result.submissions_linked,
        "rows": sum(result.written.values()),
        "records_to_trace": result.records_to_trace,
        "traced": result.traced,
        "tokens_sealed": result.tokens_sealed,
    }
