"""A tiny workspace for the indicators page: eight practices in two PCNs and two places that
cross them, everyone aged 70, and `phm indicators` (the PINCER pack) run as the analyst would
at two reference dates. Who pincer_gi_a (an oral NSAID at 65 or over without
gastroprotection) flags at each date is set here, per practice, so the page's figures can be
checked against known counts; pincer_gi_d (an NSAID with an anticoagulant) has a handful of
people, so every count of it is hidden. No other indicator has anyone in its denominator."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from importlib import resources
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from openphm.governance.audit import Actor

EARLIER, LATEST = dt.date(2026, 7, 31), dt.date(2026, 10, 31)
INDICATOR = "pincer_gi_a"
SMALL = "pincer_gi_d"
# practice: (people in the denominator, flagged at LATEST, flagged at EARLIER)
PRACTICES = {
    "Y10001": (120, 12, 10),
    "Y10002": (200, 70, 30),  # far above the others: beyond the 99.8% limit
    "Y10003": (90, 3, 9),  # 3 flagged at LATEST: hidden, never plotted at a height
    "Y10004": (150, 15, 14),
    "Y10005": (60, 9, 8),
    "Y10006": (180, 20, 22),
    "Y10007": (100, 11, 10),
    "Y10008": (40, 0, 0),
}
# Y10008 is in no PCN; the places cross the PCNs.
PCNS = {
    "North PCN": ["Y10001", "Y10002", "Y10003", "Y10004"],
    "South PCN": ["Y10005", "Y10006", "Y10007"],
}
PLACES = {
    "East": ["Y10001", "Y10002", "Y10005", "Y10006"],
    "West": ["Y10003", "Y10004", "Y10007", "Y10008"],
}
# Two integrated care boards, one place each: the ICB level's funnel is the places' again,
# under the ICBs' names.
ICBS = {"QE1": ("NHS East Integrated Care Board", "East"),
        "QW1": ("NHS West Integrated Care Board", "West")}  # fmt: skip
# A flag at LATEST: an NSAID in its last 3 months (2026-08-01 to 10-31), after EARLIER; at
# EARLIER: one in 2026-05-01 to 07-31, more than 3 months before LATEST.
ISSUED = {LATEST: dt.date(2026, 9, 1), EARLIER: dt.date(2026, 6, 1)}


def _linked_schema() -> dict[str, dict[str, str]]:
    # tests/analytics/linked.py: the linked zone's tables in the documented shape (tests run
    # with --import-mode=importlib, so another folder's helper is loaded by its path).
    spec = importlib.util.spec_from_file_location(
        "analytics_linked", Path(__file__).parents[1] / "analytics" / "linked.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SCHEMA


def programme_toml() -> str:
    text = (resources.files("openphm.programme") / "example_programme.toml").read_text()
    controllers = ", ".join(f'"{p}"' for p in PRACTICES)
    text = text.replace('controllers = ["Y10001", "Y10002", "Y10003"]',
                        f"controllers = [{controllers}]")  # fmt: skip
    text = text.replace('purposes = ["quality-improvement",',
                        'purposes = ["safety-monitoring", "quality-improvement",')  # fmt: skip
    return text + (
        '\n[indicators]\npacks = [{ name = "pincer", purpose = "safety-monitoring" }]\n'
        f"pcns = {_inline(PCNS)}\nplaces = {_inline(PLACES)}\n"
        + "".join(
            f'\n[indicators.icbs.{code}]\nname = "{name}"\nplaces = ["{place}"]\n'
            for code, (name, place) in ICBS.items()
        )
    )


def _inline(groups: dict[str, list[str]]) -> str:
    """A TOML inline table of lists of strings (JSON's strings and lists are TOML's)."""
    return "{ " + ", ".join(f"{json.dumps(k)} = {json.dumps(v)}" for k, v in groups.items()) + " }"


def _first_code(name: str) -> str:
    from openphm.reference import codelist

    frame = codelist(name)
    return str(frame["code" if "code" in frame else "id"].iloc[0])


def _rows() -> dict[str, pd.DataFrame]:
    nsaid, anticoagulant = _first_code("pincer-nsaid"), _first_code("pincer-anticoag")
    people, meds = [], []
    for practice, (size, *flagged) in PRACTICES.items():
        for i in range(size):
            pseudonym = f"{practice}-{i:03d}"
            people.append({"pseudonym": pseudonym, "practice": practice})
            for day, n in zip((LATEST, EARLIER), flagged, strict=True):
                if i < n:
                    meds.append({"pseudonym": pseudonym, "issue_date": ISSUED[day],
                                 "dmd_code": nsaid})  # fmt: skip
    # SMALL: 6 people aged 50 at Y10001 on an anticoagulant since LATEST's window opened, 2 of
    # them issued an NSAID too (pincer_gi_d): every count of it is 1 to 7.
    for i in range(6):
        pseudonym = f"{SMALL}-{i}"
        people.append({"pseudonym": pseudonym, "practice": "Y10001", "age": 50})
        meds.append({"pseudonym": pseudonym, "issue_date": dt.date(2026, 9, 1),
                     "dmd_code": anticoagulant})  # fmt: skip
        if i < 2:
            meds.append({"pseudonym": pseudonym, "issue_date": dt.date(2026, 9, 10),
                         "dmd_code": nsaid})  # fmt: skip
    people = pd.DataFrame(people).fillna({"age": 70})
    people = people.assign(
        birth_month=[dt.date(LATEST.year - int(a), 1, 1) for a in people.pop("age")],
        sex="F", ethnic_group="White", imd_decile=5, registered=True, traced="nhs-number",
    )  # fmt: skip
    registrations = people[["pseudonym", "practice"]].assign(
        start_date=dt.date(2000, 1, 1), end_date=pd.NaT
    )
    return {"people": people, "registrations": registrations, "medications": pd.DataFrame(meds)}


def build_workspace(root: Path):
    """The workspace, its linked zone written and the indicators built at both dates."""
    from openphm.cli import _register, app
    from openphm.programme.workspace import Workspace

    config = root.parent / "programme.toml"
    config.write_text(programme_toml())
    ws = Workspace.create(root, config, Actor("test-engineer", "processor-engineer"))
    con = ws.connect_linked()
    try:
        rows = _rows()
        for table, columns in _linked_schema().items():
            spec = ", ".join(f"{c} {t}" for c, t in columns.items())
            con.execute(f"CREATE TABLE linked.{table} ({spec})")
            if table in rows:
                frame = rows[table]
                con.register("frame", frame)
                names = ", ".join(frame.columns)
                con.execute(f"INSERT INTO linked.{table} ({names}) SELECT {names} FROM frame")
                con.unregister("frame")
    finally:
        con.close()
    _register()
    for day in (EARLIER, LATEST):
        result = CliRunner().invoke(app, ["indicators", str(root), "--reference-date",
                                          day.isoformat(), "--role", "analyst"])  # fmt: skip
        assert result.exit_code == 0, result.output
    return ws
