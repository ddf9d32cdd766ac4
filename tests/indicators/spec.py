"""Specification tests as tables, ehrQL style: each row a person, what the linked zone holds
for them, and what the indicator should say. A test reads like the rule it checks.

    person | age | issued                  | recorded       | denominator | flagged | due
    a1     | 65  | nsaid 2026-08-01        |                | yes         | yes     | 2026-08-01

`issued` and `recorded` are comma-separated `alias date` (or `alias date=value` for a reading):
the alias names a code list (ALIASES), and the person gets the list's first code on that date.
Blank `due` means no due date (or not flagged). Everything is as at REFERENCE.

Each spec's zone is made in a workspace of its own (`where`) and read through the engine object
of the test's `engine` (tests/conftest.py), as a stage reads zone 3: the same table is checked
on every engine."""

from __future__ import annotations

import datetime as dt
import importlib.util
from pathlib import Path

import pandas as pd

from openphm import indicators, reference

# tests/analytics/linked.py: a linked zone in the documented shape (tests run with
# --import-mode=importlib, so another folder's helper is loaded by its path).
_spec = importlib.util.spec_from_file_location(
    "analytics_linked", Path(__file__).parents[1] / "analytics" / "linked.py"
)
linked = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(linked)

REFERENCE = dt.date(2026, 10, 31)
D = dt.date.fromisoformat

# alias -> code list name (shipped, or given to the test in `extra` lists)
ALIASES = {
    "nsaid": "pincer-nsaid", "ppi": "pincer-ppi", "anticoag": "pincer-anticoag",
    "antiplat": "pincer-non_asp_antiplate", "aspirin": "pincer-aspirin",
    "nsbb": "pincer-nsbb", "acei": "pincer-acei", "loop": "pincer-diur",
    "met": "pincer-met", "lith": "pincer-lith", "amio": "pincer-amio",
    "pep": "pincer-pep", "gibleed": "pincer-gi_bleed", "asthma": "pincer-ast",
    "asthma_res": "pincer-ast_res", "hf": "pincer-hf", "renal": "pincer-renal",
    "electro": "pincer-electro", "fbc": "pincer-fbc", "lft": "pincer-lft",
    "lithlev": "pincer-lith_lev", "tft": "pincer-tft",
    "hyp": "qof-hyp", "hypres": "qof-hypres", "dm": "qof-dm", "af": "qof-afib",
    "chd": "qof-chd", "stroke": "qof-strk", "pad": "qof-pad", "ckd": "qof-ckd",
    "heartfail": "qof-hf", "palcare": "qof-palcare", "ckd12": "qof-ckd1and2",
    # lists OpenPHM does not ship: a test supplies them (TEST_LISTS)
    "sys": "bp-systolic", "dia": "bp-diastolic", "hba1c": "hba1c", "acr": "urine-acr",
    "statin": "statins-dmd", "ndh": "ndh", "ndpp": "ndpp-referral",
}  # fmt: skip
# Stand-ins for the lists a programme must supply (docs/indicators.md): test codes, not
# clinical lists.
TEST_LISTS = {
    "bp-systolic": ["9000001"], "bp-diastolic": ["9000002"], "hba1c": ["9000003"],
    "urine-acr": ["9000004"], "statins-dmd": ["9000005"], "ndh": ["9000006"],
    "ndpp-referral": ["9000007"], "icd10-acsc-chronic": ["J45", "I10"],
}  # fmt: skip


def write_test_lists(folder: Path) -> Path:
    for name, codes in TEST_LISTS.items():
        (folder / f"{name}.csv").write_text("code,term\n" + "".join(f"{c},test\n" for c in codes))
    return folder


YES = {"yes": True, "no": False}


def first_code(name: str, extra: dict[str, list[str]] | None = None) -> str:
    extra = {**TEST_LISTS, **(extra or {})}
    if name in extra:
        return extra[name][0]
    frame = reference.codelist(name)
    column = "code" if "code" in frame else "id"
    return frame[column].iloc[0]


def parse(table: str) -> list[dict[str, str]]:
    lines = [ln for ln in table.strip().splitlines() if ln.strip() and not ln.startswith("#")]
    header = [h.strip() for h in lines[0].split("|")]
    rows = []
    for line in lines[1:]:
        cells = [c.split("#")[0].strip() for c in line.split("|")]
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


def _entries(cell: str):
    for entry in filter(None, (e.strip() for e in cell.split(","))):
        alias, when = entry.split()
        day, _, value = when.partition("=")
        yield alias, D(day), float(value) if value else None


def zone_for(rows: list[dict[str, str]], extra: dict[str, list[str]] | None = None, *, engine,
             where: Path, **more):  # fmt: skip
    """A linked zone holding the people of a spec table (all registered at one practice since
    2000 unless the row's `registered` says `no`), in a workspace in folder `where` for
    `engine` (linked.EngineZone); `more` adds rows of other tables."""
    people, registrations, meds, events = [], [], [], []
    for row in rows:
        p, age = row["person"], int(row.get("age") or 50)
        people.append({"pseudonym": p, "sex": row.get("sex") or "M",
                       "birth_month": dt.date(REFERENCE.year - age, 1, 1), "ethnic_group": "White",
                       "imd_decile": 5, "practice": row.get("practice") or "P00001",
                       "registered": True, "traced": "nhs-number"})  # fmt: skip
        if row.get("registered", "yes") != "no":
            registrations.append(
                {
                    "pseudonym": p,
                    "practice": row.get("practice") or "P00001",
                    "start_date": dt.date(2000, 1, 1),
                    "end_date": None,
                }
            )
        for alias, day, _ in _entries(row.get("issued", "")):
            meds.append(
                {
                    "pseudonym": p,
                    "issue_date": day,
                    "dmd_code": first_code(ALIASES.get(alias, alias), extra),
                }
            )
        for alias, day, value in _entries(row.get("recorded", "")):
            events.append(
                {
                    "pseudonym": p,
                    "event_date": day,
                    "value": value,
                    "snomed_code": first_code(ALIASES.get(alias, alias), extra),
                }
            )
    tables = {"people": people, "registrations": registrations, "medications": meds,
              "gp_events": events}  # fmt: skip
    for table, extra_rows in more.items():
        tables[table] = tables.get(table, []) + extra_rows
    return linked.zone_on(engine, where, **tables)


def run(pack: str, indicator: str, rows, extra: dict[str, list[str]] | None = None,
        folder=None, *, engine, where: Path,
        **more) -> dict[str, tuple[bool, bool, dt.date | None]]:  # fmt: skip
    """One indicator over the spec's people, on `engine`: person -> (in the denominator,
    flagged, due)."""
    zone = zone_for(rows, extra, engine=engine, where=where, **more)
    chosen = [c for c in indicators.choose([(pack, _purpose(pack))])
              if c.indicator.name == indicator]  # fmt: skip
    assert chosen, f"no indicator {indicator} in pack {pack}"
    with zone.reading() as zone3:
        got = indicators.evaluate(zone3, REFERENCE, chosen, codelist_folder=folder)
    by_person = {r.pseudonym: r for r in got.itertuples()}
    out = {}
    for row in rows:
        r = by_person.get(row["person"])
        due = None if r is None or not r.flagged else pd.Timestamp(r.due_date).date()
        out[row["person"]] = (r is not None, bool(r is not None and r.flagged), due)
    return out


def reasons(pack: str, indicator: str, rows, *, engine, where: Path, **kwargs) -> dict[str, str]:
    """person -> reason, for the people flagged, on `engine`."""
    zone = zone_for(rows, kwargs.pop("extra", None), engine=engine, where=where)
    chosen = [c for c in indicators.choose([(pack, _purpose(pack))])
              if c.indicator.name == indicator]  # fmt: skip
    with zone.reading() as zone3:
        got = indicators.evaluate(zone3, REFERENCE, chosen, **kwargs)
    return {r.pseudonym: r.reason for r in got.itertuples() if r.flagged}


def _purpose(pack: str) -> str:
    return indicators.PACKS[pack].purposes[0].value


def expected(rows) -> dict[str, tuple[bool, bool, dt.date | None]]:
    return {
        r["person"]: (YES[r["denominator"]], YES[r["flagged"]],
                      D(r["due"]) if r.get("due") else None)
        for r in rows
    }  # fmt: skip
