"""The demo's steps, each a real stage acting in the role that would take it."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from openphm.console import console
from openphm.governance.audit import Actor
from openphm.governance.roles import Role

ENGINEER = Actor(user="demo-engineer", role=Role.PROCESSOR_ENGINEER.value)
DPO = Actor(user="demo-dpo", role=Role.DATA_PROTECTION_OFFICER.value)
ANALYST = Actor(user="demo-analyst", role=Role.ANALYST.value)


def _step(number: int, title: str) -> None:
    console.rule(f"[bold]{number}. {title}")


def run_demo(folder: Path, *, people: int, seed: int) -> None:
    from openphm.governance.roles import Refused
    from openphm.programme.workspace import Workspace

    region = folder / "region"
    step = 1
    _step(step, "A synthetic region: providers' identifiable extracts")
    config = _make_region(region, people=people, seed=seed)

    step += 1
    _step(step, "Set up the programme's workspace (processor engineer)")
    ws = Workspace.create(folder / "workspace", config, ENGINEER)
    programme = ws.config.programme
    console.print(
        f"{programme.name}: {len(programme.controllers)} controller practices, "
        f"{len(ws.config.sources)} sources, {programme.start_date} to {programme.end_date}"
    )
    console.print(f"zones under {ws.root}: landing/, linked/ (encrypted), outputs/")
    console.print(f"key store {ws.keystore.directory}: {len(ws.keystore.names())} keys")

    step += 1
    _step(step, "Roles are enforced and refusals audited")
    try:
        ws.authorise(ANALYST, "audit.show")
    except Refused as refusal:
        console.print(f"analyst asked to read the audit log: [red]refused[/] ({refusal})")

    step += 1
    _step(step, "The data protection officer verifies the audit log")
    result = ws.audit.verify()
    ws.audit.record(DPO, "audit.verify", counts={"entries": result.entries})
    verdict = "[green]intact[/]" if result.ok else "[red]broken[/]"
    console.print(f"audit log {verdict}: {result.entries} entries, hash chain checked")

    console.rule("[bold]Where to look")
    console.print(f"region (identifiable extracts, synthetic): {region}")
    console.print(f"workspace: {ws.root}")
    console.print(f"audit log: phm audit show {ws.root} --role data-protection-officer")
    console.print(f"status:    phm status {ws.root} --role data-protection-officer")


def _make_region(region: Path, *, people: int, seed: int) -> Path:
    try:
        from openphm.synth import generate_region
    except ImportError:
        # Until the synthetic region generator lands, the demo runs on the example programme.
        region.mkdir(parents=True)
        example = resources.files("openphm.programme") / "example_programme.toml"
        shutil.copyfile(str(example), region / "programme.toml")
        console.print("synthetic region generator not installed: using the example programme")
        return region / "programme.toml"
    generate_region(region, people=people, seed=seed)
    return region / "programme.toml"
