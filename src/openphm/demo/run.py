"""The demo's steps, each a real stage acting in the role that would take it."""

from __future__ import annotations

import datetime as dt
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
    _step(step, "Providers' extracts land: validated, quarantined, encrypted (engineer)")
    _ingest(ws, region)

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


def _ingest(ws, region: Path) -> None:
    from openphm.landing.ingest import LOADED, REFUSED, ingest

    with console.status("loading extracts into the landing zone"):
        report = ingest(ws, [region / "extracts"], ENGINEER)
    loaded = [o for o in report.outcomes if o.status == LOADED]
    received = sum(o.counts.received for o in loaded)
    landed = sum(o.counts.loaded for o in loaded)
    held = sum(o.counts.quarantined for o in loaded)
    console.print(
        f"{len(loaded)} files loaded: {received:,} rows received = {landed:,} loaded + "
        f"{held:,} quarantined (file, row, field and reason: phm quarantine)"
    )
    for outcome in report.outcomes:
        if outcome.status == REFUSED:
            console.print(f"[yellow]refused whole[/]: {outcome.message}")
    _reconcile_faults(ws, region, report)


def _reconcile_faults(ws, region: Path, report) -> None:
    """Check each fault the generator injected against what landing did with it."""
    import csv

    from openphm.engine import connect
    from openphm.landing.ingest import LOADED, REFUSED
    from openphm.landing.read import quarantine

    con = connect()
    held = {(h.file, row) for h in quarantine(ws, con, ENGINEER) for row in h.row_numbers}
    con.close()
    by_status = {o.status: set() for o in report.outcomes}
    for outcome in report.outcomes:
        by_status[outcome.status].add(outcome.path.relative_to(region).as_posix())
    caught = missed = 0
    with open(region / "truth" / "faults.csv", newline="") as faults:
        for fault in csv.DictReader(faults):
            name = Path(fault["file"]).name
            if fault["kind"] == "provider-not-in-programme":
                ok = fault["file"] in by_status.get(REFUSED, set())
            elif fault["kind"] == "resubmission":
                ok = fault["file"] in by_status.get(LOADED, set())
            else:
                ok = (name, int(fault["row"])) in held
            caught, missed = caught + ok, missed + (not ok)
    colour = "green" if not missed else "red"
    console.print(
        f"[{colour}]{caught} of {caught + missed} injected faults caught[/] "
        "(truth/faults.csv against the quarantine and the refusals)"
    )


def _make_region(region: Path, *, people: int, seed: int) -> Path:
    from openphm import clock
    from openphm.bench.stages import practices_for
    from openphm.synth import RegionOptions, generate_region

    # The region's history ends at the close of last month, so the programme it describes
    # starts this month and is running today, whenever the demo is run.
    end = clock.today().replace(day=1) - dt.timedelta(days=1)
    options = RegionOptions(people, practices_for(people), seed, end=end)
    with console.status("writing providers' extracts"):
        summary = generate_region(region, options)
    console.print(
        f"{summary.people:,} synthetic people at {len(summary.practices)} practices; "
        f"{summary.files} extract files from {len(summary.practices)} practices, 2 trusts, "
        f"community services, a local authority and death registration; "
        f"{summary.faults} injected faults listed in truth/faults.csv"
    )
    return region / "programme.toml"
