"""The demo's steps, each a real stage acting in the role that would take it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from openphm.console import console
from openphm.governance.audit import Actor
from openphm.governance.roles import Role
from openphm.programme.workspace import Workspace

ENGINEER = Actor(user="demo-engineer", role=Role.PROCESSOR_ENGINEER.value)
DPO = Actor(user="demo-dpo", role=Role.DATA_PROTECTION_OFFICER.value)
ANALYST = Actor(user="demo-analyst", role=Role.ANALYST.value)


@dataclass
class Demo:
    folder: Path
    people: int
    seed: int
    layouts: str = "own"  # the region's hospital and community layouts (phm synth --layouts)
    ws: Workspace | None = None
    config: Path | None = None

    @property
    def region(self) -> Path:
        return self.folder / "region"


def run_demo(folder: Path, *, people: int, seed: int, layouts: str = "own") -> None:
    demo = Demo(folder, people, seed, layouts)
    for number, (title, step) in enumerate(STEPS, start=1):
        console.rule(f"[bold]{number}. {title}")
        step(demo)
    ws = demo.ws
    console.rule("[bold]Where to look")
    console.print(f"region (identifiable extracts, synthetic): {demo.region}", markup=False)
    console.print(f"workspace: {ws.root}", markup=False)
    console.print(f"the linked zone:  phm tables {ws.root} --role analyst", markup=False)
    console.print(f"measures:         phm measures {ws.root} --role analyst", markup=False)
    console.print(f"releases:         {ws.zone('outputs') / 'releases'}", markup=False)
    console.print(f"privacy notice:   {ws.zone('outputs') / 'privacy-notice.md'}", markup=False)
    console.print(
        f"audit log:        phm audit show {ws.root} --role data-protection-officer", markup=False
    )
    console.print(
        f"status:           phm status {ws.root} --role data-protection-officer", markup=False
    )
    console.print(
        f"web service:      phm user add {ws.root} dora --role data-protection-officer, "
        f"then phm serve {ws.root}",
        markup=False,
    )


def _region(demo: Demo) -> None:
    demo.config = _make_region(
        demo.region, people=demo.people, seed=demo.seed, layouts=demo.layouts
    )


def _workspace(demo: Demo) -> None:
    ws = demo.ws = Workspace.create(demo.folder / "workspace", demo.config, ENGINEER)
    programme = ws.config.programme
    console.print(
        f"{programme.name}: {len(programme.controllers)} controller practices, "
        f"{len(ws.config.sources)} sources, {programme.start_date} to {programme.end_date}"
    )
    console.print(f"zones under {ws.root}: landing/, linked/ (encrypted), outputs/", markup=False)
    console.print(
        f"key store {ws.keystore.directory}: {len(ws.keystore.names())} keys", markup=False
    )


def _land(demo: Demo) -> None:
    _ingest(demo.ws, demo.region)


def _link(demo: Demo) -> None:
    from openphm.pseudonymise.link import link
    from openphm.pseudonymise.practices import register_practice

    ws = demo.ws
    practices = sorted((demo.region / "practices").iterdir())
    for folder in practices:
        # Each practice made its key pair on its own machine and sent only the public half.
        register_practice(ws, ENGINEER, folder.name, folder / "practice.pub")
    console.print(f"{len(practices)} practices registered their public keys")
    with console.status("tracing, applying objections, pseudonymising, linking"):
        result = link(ws, ENGINEER)
    # Removed from what the zone held (a later objection) and kept out of what this run brought.
    kept_out = sum(result.objected_removed.values()) + sum(result.objected_excluded.values())
    console.print(
        f"{result.people:,} people in the linked zone; {result.records_to_trace:,} records "
        f"without a valid NHS number, {result.traced:,} traced; "
        f"{result.objectors:,} objectors, {kept_out:,} of their rows kept out; "
        f"{result.tokens_sealed:,} re-identification tokens sealed"
    )
    console.print("no name, NHS number, address, postcode or date of birth crosses into it")


def _analyse(demo: Demo) -> None:
    from openphm.analytics import build
    from openphm.analytics.period import default_reference_date

    con = demo.ws.connect_linked()
    with console.status("registers, scores, segments, activity, measures"):
        # The one rule (analytics.period): the end of the last complete month of data, the
        # date risk scores are as at too.
        summary = build(con, default_reference_date(con))
    con.close()
    console.print(
        f"as at {summary.reference_date} (data to {summary.data_end}): "
        + ", ".join(f"{table} {rows:,}" for table, rows in summary.rows.items())
        + f" rows, in {summary.total_seconds:.1f} s"
    )


def _indicators(demo: Demo) -> None:
    """The programme's indicator packs, as the analyst builds them, on the shipped code lists."""
    from openphm.analytics.stage import dated
    from openphm.indicators.stage import build_indicators, chosen_packs

    ws = demo.ws
    # The one rule's reference date (the end of the last complete month of data).
    day, cover = dated(ws, None, 12)
    chosen = chosen_packs(ws)
    with console.status("prescribing safety, care gaps, case finding, hospital use"):
        summary = build_indicators(ws, ANALYST, day, chosen)
    flagged = sorted(summary.flagged.items(), key=lambda item: -item[1])[:5]
    console.print(
        f"{len(summary.flagged)} indicators {cover.note()}; most flagged (before disclosure "
        "control): " + ", ".join(f"{name} {n:,}" for name, n in flagged)
    )


def _release(demo: Demo) -> None:
    from openphm.analytics import read_measures
    from openphm.disclosure.checking import approve_release
    from openphm.disclosure.releases import request_release, save_draft

    ws = demo.ws
    con = ws.connect_linked()
    measures = read_measures(con)
    wanted = ["prevalence_diabetes", "prevalence_copd", "prevalence_dementia"]
    cells = measures[
        measures["measure"].isin(wanted)
        & (measures["statistic"] == "crude")
        & (measures["group_by"] == "imd_quintile")
    ].rename(columns={"group_value": "imd_quintile"})
    cells = cells.assign(people=cells["numerator"].astype(int), population=cells["denominator"])
    cells = cells.assign(population=cells["population"].astype(int))
    save_draft(
        con,
        "prevalence_by_imd_quintile",
        cells,
        groups=["measure", "imd_quintile"],
        counts=["people", "population"],
        rates={"per_100": ("people", "population")},
        per=100,
        totals_over=["imd_quintile"],
        description="crude prevalence by IMD quintile (1 most deprived)",
    )
    con.close()
    manifest = request_release(
        ws,
        ANALYST,
        ["prevalence_by_imd_quintile"],
        purpose=ws.config.programme.purposes[0].value,
        title="Prevalence by deprivation",
    )
    console.print(f"analyst requested release {manifest['id']}: {manifest['status']}")
    approved = approve_release(ws, DPO, manifest["id"])
    item = approved["contents"][0]
    console.print(
        f"approved by {approved['approved_by']}: {item['rows']} rows, "
        f"{item['primary_redactions']} cells redacted, {item['secondary_redactions']} more "
        "to stop recovery by subtraction; counts rounded to 5"
    )
    try:
        request_release(ws, ANALYST, ["prevalence_by_imd_quintile"], purpose="marketing", title="x")
    except Exception as refused:  # the refusal is the point: show it
        console.print(f"a release for marketing: [red]refused[/] ({refused})")


def _risk(demo: Demo) -> None:
    from openphm.risk.stage import score_people, train_model

    with console.status("training the model and its baseline") as status:
        trained = train_model(demo.ws, ANALYST, say=status.update)
    metrics = trained.card["metrics"]
    console.print(
        f"model {trained.model_id}: AUC {metrics['model']['auc']:.3f} on held-out people "
        f"(logistic baseline {metrics['baseline']['auc']:.3f})"
    )
    with console.status("scoring everyone"):
        summary = score_people(demo.ws, ANALYST)
    console.print(f"{summary.people:,} people scored as at {summary.reference_date}")


def _cohort(demo: Demo) -> None:
    from importlib import resources

    from openphm.cohorts.build import run_cohort
    from openphm.cohorts.definition import load_definition
    from openphm.disclosure.releases import rules_for

    ws = demo.ws
    definition = resources.files("openphm.cohorts") / "examples" / "frail-high-risk.toml"
    console.print(f"definition: {definition}")
    cohort = load_definition(
        Path(str(definition)), tuple(p.value for p in ws.config.programme.purposes)
    )
    ws.authorise(ANALYST, "cohort.build", purpose=cohort.purpose.value)
    with console.status("building the cohort"):
        built, paths = run_cohort(ws, ANALYST, cohort)
    rules = rules_for(ws)
    size = rules.publish(len(built.members))
    shown = f"{size:,}" if size is not None else f"1–{rules.threshold}"
    console.print(
        f"{cohort.name} ({cohort.purpose.label}): {shown} people (counts rounded to "
        f"{rules.multiple}); one list per practice with members: {', '.join(sorted(paths))}"
    )


def _reidentify(demo: Demo) -> None:
    from openphm.practice.keys import load_private_key
    from openphm.practice.worklist import (
        PATIENT_COLUMNS,
        make_worklist,
        read_csv,
        write_worklist,
    )

    lists = sorted(demo.ws.zone("outputs").glob("cohorts/*/frail-high-risk.csv"))
    if not lists:
        console.print("no practice had members in this cohort")
        return
    cohort = read_csv(lists[0], ("token",), "cohort list")
    practices = sorted((demo.region / "practices").iterdir())
    own = next(p for p in practices if p.name == lists[0].parent.name)
    patients = read_csv(own / "patients.csv", PATIENT_COLUMNS, "patient list")
    worklist = make_worklist(cohort, load_private_key(own / "practice.key"), patients)
    out = own / "worklist-frail-high-risk.csv"
    write_worklist(worklist, out)
    console.print(
        f"practice {own.name}, on its own machine: {len(worklist.rows):,} of "
        f"{len(cohort):,} listed patients re-identified into {out} (NHS numbers and names, "
        "for its clinicians)"
    )
    for other in (p for p in practices if p != own):
        foreign = make_worklist(cohort, load_private_key(other / "practice.key"), patients)
        console.print(
            f"practice {other.name} tries the same list: {len(foreign.rows)} opened, "
            f"[red]{foreign.refused:,} refused[/] ({dict(foreign.failures)})"
        )
        break


def _governance(demo: Demo) -> None:
    from openphm.governance.notice import write_notice
    from openphm.governance.oversight import verify_log
    from openphm.governance.roles import Refused

    ws = demo.ws
    notice = write_notice(ws, DPO)
    console.print(f"privacy notice written from programme.toml: {notice}")
    try:
        ws.authorise(ANALYST, "audit.show")
    except Refused as refusal:
        console.print(f"analyst asked to read the audit log: [red]refused[/] ({refusal})")
    result = verify_log(ws, DPO)
    verdict = "[green]intact[/]" if result.ok else "[red]broken[/]"
    console.print(f"audit log {verdict}: {result.entries} entries, hash chain checked")
    _schedule(ws)


def _schedule(ws) -> None:
    """The DPO's scheduled job, and the close rehearsed on a throw-away copy at the end date."""
    from openphm.governance.schedule import keep_promises, rehearse, timetable

    kept = keep_promises(ws, DPO)
    due = [d for d in timetable(ws) if not d.now]
    console.print(
        f"the DPO's scheduled run: {'something' if kept.anything else 'nothing'} was due; "
        f"next: {due[0].what} on {due[0].when}"
    )
    end = ws.config.programme.end_date
    _, rehearsal = rehearse(ws, DPO, dt.datetime.combine(end, dt.time(9), dt.UTC))
    closure = rehearsal.closure
    console.print(
        f"close rehearsed on a copy at {end}: {closure.keys_destroyed} keys destroyed, "
        f"{closure.files_deleted} files deleted, certificate signed; this workspace untouched"
    )


STEPS = [
    ("A synthetic region: providers' identifiable extracts", _region),
    ("Set up the programme's workspace (processor engineer)", _workspace),
    ("Providers' extracts land: validated, quarantined, encrypted (engineer)", _land),
    ("Trace, honour objections, pseudonymise, link (engineer)", _link),
    ("Registers, scores, segments, activity and measures (analyst)", _analyse),
    ("Prescribing safety, care gaps, case finding: who would benefit (analyst)", _indicators),
    ("Risk of emergency admission in the next 12 months (analyst)", _risk),
    ("A cohort goes back to each practice as tokens (analyst)", _cohort),
    ("The practice re-identifies its own patients, and only its own (practice)", _reidentify),
    ("A release: purpose-bound, disclosure-controlled, approved (analyst, DPO)", _release),
    ("Transparency and the audit log (data protection officer)", _governance),
]


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


def _make_region(region: Path, *, people: int, seed: int, layouts: str = "own") -> Path:
    from openphm.bench.stages import history_end, practices_for
    from openphm.synth import RegionOptions, generate_region

    # The region's history ends at the close of last month, so the programme it describes
    # starts this month and is running today, whenever the demo is run.
    end = history_end()
    options = RegionOptions(people, practices_for(people), seed, end=end, layouts=layouts)
    with console.status("writing providers' extracts"):
        summary = generate_region(region, options)
    console.print(
        f"{summary.people:,} synthetic people at {len(summary.practices)} practices; "
        f"{summary.files} extract files from {len(summary.practices)} practices, 2 trusts, "
        f"community services, a local authority and death registration; "
        f"{summary.faults} injected faults listed in truth/faults.csv"
        + (
            "; hospital data as HES (APC, OP, A&E), community data as CSDS"
            if layouts == "real"
            else ""
        )
    )
    return region / "programme.toml"
