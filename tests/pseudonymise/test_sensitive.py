"""Sensitive records kept in zone 1 (docs/sensitive-data.md): a synthetic region with canary
records coded from every default list (GP events, hospital spells, an emergency attendance, a
death) is ingested and linked; no sensitive code reaches any table of the linked zone, the same
people's other records do, and the counts the link records, `phm status` prints and the DPO's
page shows equal a count made here from the extract files themselves."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from openphm import clock
from openphm.programme.workspace import Workspace
from openphm.reference import sensitive_codes

from .region import ENGINEER, NOW, linked_tables, read_rows, truth_pseudonyms, write_rows

PASSWORD = "correct horse battery"

# Planted for one patient of a practice (flavour A, canonical column names): code -> list.
GP_EVENTS = {
    "51928006": "sexually-transmitted-infections",
    "713844000": "hiv",
    "274973002": "termination-of-pregnancy",
    "10231000132102": "assisted-conception",
}
SAFE_EVENT = ("386661006", "2024-02-29")  # the same patient's harmless event: linked
# Spells planted for one person of RZ1 (admission date -> codes): each admission date is the
# spell's mark in the linked zone.
SPELLS = {
    "2025-03-01": ("F640", "", ""),  # gender identity
    "2025-03-02": ("I10", "J459;Z312", ""),  # assisted conception, as a secondary diagnosis
    "2025-03-03": ("O049", "", "R031"),  # termination, twice over: counted once
    "2025-03-04": ("A549", "B24", ""),  # an STI and HIV: one record, on two lists
    "2025-03-05": ("K359", "", "H011"),  # harmless: linked
}
PLANTED_CODES = [*GP_EVENTS, "F640", "Z312", "O049", "R031", "A549", "B24", "B208"]


def plant(region: Path) -> dict:
    """Add the canary records to the region's extracts; returns who they belong to."""
    practice = next(
        folder
        for folder in sorted((region / "extracts" / "gp").iterdir())
        if "patient_ref" in read_rows(next(folder.glob("*_patients_*.csv")))[0]
    )
    patients = sorted(practice.glob("*_patients_*.csv"))
    patient = next(r for r in read_rows(patients[-1]) if r["nhs_number"])
    events = sorted(practice.glob("*_events_*.csv"))[-1]
    rows = read_rows(events)
    blank = dict.fromkeys(rows[0], "")
    for code in GP_EVENTS:
        rows.append({**blank, "patient_ref": patient["patient_ref"], "event_date": "2024-02-28",
                     "snomed_code": code})  # fmt: skip
    rows.append({**blank, "patient_ref": patient["patient_ref"], "event_date": SAFE_EVENT[1],
                 "snomed_code": SAFE_EVENT[0]})  # fmt: skip
    write_rows(events, rows)

    apc = sorted((region / "extracts" / "admitted-care" / "RZ1").glob("*.csv"))[-1]
    rows = read_rows(apc)
    person = rows[0]
    for n, (admitted, (primary, secondary, procedure)) in enumerate(SPELLS.items()):
        rows.append({**person, "spell_id": f"SENSITIVE{n}", "admission_date": admitted,
                     "discharge_date": admitted, "primary_diagnosis": primary,
                     "secondary_diagnoses": secondary, "primary_procedure": procedure})  # fmt: skip
    write_rows(apc, rows)

    ecds = sorted((region / "extracts" / "emergency-care" / "RZ2").glob("*.csv"))[-1]
    rows = read_rows(ecds)
    rows.append({**rows[0], "attendance_id": "SENSITIVEEC", "diagnosis": "713844000",
                 "arrival_date": "2025-03-06"})  # fmt: skip
    write_rows(ecds, rows)

    deaths = sorted((region / "extracts" / "deaths" / "X26").glob("*.csv"))[-1]
    rows = read_rows(deaths)
    rows.append({**rows[0], "death_registration_id": "SENSITIVEDEATH", "underlying_cause": "B208",
                 "date_of_death": "2025-03-07"})  # fmt: skip
    write_rows(deaths, rows)
    return {"gp_nhs": patient["nhs_number"], "apc_nhs": person["nhs_number"]}


def _planted_region(factory, land_and_link, name: str, config: str = ""):
    """A 600-person region with the canaries planted (and `config` added to its programme.toml),
    ingested and linked: (region, workspace root, who the canaries belong to)."""
    from openphm.synth import RegionOptions, generate_region

    root = factory.mktemp(name)
    region = root / "region"
    with clock.frozen_at(NOW):
        generate_region(region, RegionOptions(people=600, practices=2, seed=5))
        who = plant(region)
        programme = region / "programme.toml"
        programme.write_text(programme.read_text() + config)
    ws = land_and_link(region, root / "ws", ENGINEER, now=NOW)
    return region, ws.root, who


@pytest.fixture(scope="module")
def sensitive_region(tmp_path_factory, land_and_link):
    return _planted_region(tmp_path_factory, land_and_link, "sensitive-region")


def _by_system(listed: pd.DataFrame) -> dict[str, list[tuple[str, str]]]:
    """The default lists' codes by code system, as (list, code): read once, not filtered out
    of the frame again for each of the region's thousands of codes."""
    return {system: list(zip(rows["list"], rows["code"], strict=True))
            for system, rows in listed.groupby("system")}  # fmt: skip


def _matches(code: str, system: str, listed: dict[str, list[tuple[str, str]]]) -> set[str]:
    """The lists a code is on, by the README's rule, worked out here apart from the module."""
    code = code.strip().upper()
    rows = listed.get(system, [])
    if system == "SNOMED CT":
        return {name for name, listed_code in rows if listed_code == code}
    return {name for name, prefix in rows if code.startswith(prefix)}


def _current_files(folder: Path) -> list[Path]:
    """The files of a provider folder that are current: a period's latest revision."""
    latest: dict[str, Path] = {}
    for path in sorted(folder.glob("*.csv")):
        period = re.sub(r"_r[0-9]+$", "", path.stem)
        latest[period] = path  # sorted: _r2 after the first revision
    return list(latest.values())


def hand_count(region: Path) -> tuple[Counter, Counter]:
    """Records on each list per source kind, and records per source kind, counted from the
    extract files (every current file, every kind that carries codes)."""
    listed = _by_system(sensitive_codes())
    per_list: Counter = Counter()
    records: Counter = Counter()

    def count(kind: str, found: set[str]) -> None:
        for name in found:
            per_list[(name, kind)] += 1
        records[kind] += bool(found)

    extracts = region / "extracts"
    gp_columns = {
        "_events_": ("snomed_code", "SnomedCode"),
        "_medications_": ("dmd_code", "DmdCode"),
    }  # flavours A and B; fmt: skip
    for folder in sorted((extracts / "gp").iterdir()):
        for path in _current_files(folder):
            columns = next((c for part, c in gp_columns.items() if part in path.name), None)
            for row in read_rows(path) if columns else []:
                code = next(row[c] for c in columns if c in row)
                count("gp", _matches(code, "SNOMED CT", listed))
    for folder in sorted((extracts / "admitted-care").iterdir()):
        for path in _current_files(folder):
            for row in read_rows(path):
                found = _matches(row["primary_diagnosis"], "ICD-10", listed)
                for code in filter(None, row["secondary_diagnoses"].split(";")):
                    found |= _matches(code, "ICD-10", listed)
                if row["primary_procedure"]:
                    found |= _matches(row["primary_procedure"], "OPCS-4", listed)
                count("admitted-care", found)
    for folder in sorted((extracts / "emergency-care").iterdir()):
        for path in _current_files(folder):
            for row in read_rows(path):
                found = set()
                for column in ("diagnosis", "chief_complaint"):
                    if row[column]:
                        found |= _matches(row[column], "SNOMED CT", listed)
                        found |= _matches(row[column], "ICD-10", listed)
                count("emergency-care", found)
    for folder in sorted((extracts / "deaths").iterdir()):
        for path in _current_files(folder):
            for row in read_rows(path):
                if row["underlying_cause"]:
                    count("deaths", _matches(row["underlying_cause"], "ICD-10", listed))
    return per_list, records


def _link_entry(ws):
    return [e for e in ws.audit.entries() if e.action == "identity.link" and e.outcome == "ok"][-1]


# The linked columns that hold clinical codes, with the code systems they may hold.
CODE_COLUMNS = {
    ("apc_spells", "primary_diagnosis"): ("ICD-10",),
    ("apc_spells", "secondary_diagnoses"): ("ICD-10",),
    ("apc_spells", "primary_procedure"): ("OPCS-4",),
    ("ec_attendances", "diagnosis"): ("SNOMED CT", "ICD-10"),
    ("ec_attendances", "chief_complaint"): ("SNOMED CT", "ICD-10"),
    ("gp_events", "snomed_code"): ("SNOMED CT",),
    ("medications", "dmd_code"): ("SNOMED CT",),
    ("deaths", "underlying_cause"): ("ICD-10",),
}


def test_no_sensitive_code_reaches_any_linked_table(sensitive_region):
    """Every text cell of every linked table is searched for the planted codes, and every
    code column for any code of the default lists (the synthetic region's own too)."""
    _, root, _ = sensitive_region
    ws = Workspace.open(root)
    listed = _by_system(sensitive_codes())
    con = ws.connect_linked(read_only=True)
    planted, listed_found, searched = [], [], 0
    try:
        for table in linked_tables(con):
            for column, kind in con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = 'linked' AND table_name = ?",
                [table],
            ).fetchall():
                if kind not in ("VARCHAR", "VARCHAR[]"):
                    continue
                cell = f'unnest("{column}")' if kind == "VARCHAR[]" else f'"{column}"'
                values = {v for (v,) in con.execute(
                    f"SELECT DISTINCT {cell} FROM linked.{table}").fetchall()}  # fmt: skip
                planted += [(table, column, c) for c in PLANTED_CODES if c in values]
                for system in CODE_COLUMNS.get((table, column), ()):
                    searched += len(values)
                    listed_found += [
                        (table, column, v) for v in values if v and _matches(v, system, listed)
                    ]
    finally:
        con.close()
    assert planted == []
    assert listed_found == []
    assert searched > 500  # the code columns were there, and full


def test_the_same_peoples_other_records_are_linked(sensitive_region):
    _, root, who = sensitive_region
    ws = Workspace.open(root)
    gp_person, apc_person = truth_pseudonyms(ws, [who["gp_nhs"], who["apc_nhs"]])
    con = ws.connect_linked(read_only=True)
    try:
        safe = con.execute(
            "SELECT count(*) FROM linked.gp_events WHERE pseudonym = ? AND snomed_code = ? "
            "AND event_date = ?",
            [gp_person, *SAFE_EVENT],
        ).fetchone()[0]
        others = con.execute(
            "SELECT count(*) FROM linked.gp_events WHERE pseudonym = ?", [gp_person]
        ).fetchone()[0]
        spells = con.execute(
            "SELECT admission_date::VARCHAR FROM linked.apc_spells WHERE pseudonym = ? "
            "AND admission_date >= DATE '2025-03-01' AND admission_date <= DATE '2025-03-05'",
            [apc_person],
        ).fetchall()
        death = con.execute(
            "SELECT count(*), count(underlying_cause) FROM linked.deaths "
            "WHERE date_of_death = DATE '2025-03-07'"
        ).fetchone()
        people = con.execute(
            "SELECT count(*) FROM linked.people WHERE pseudonym IN (?, ?)", [gp_person, apc_person]
        ).fetchone()[0]
    finally:
        con.close()
    assert safe == 1 and others > 1
    assert spells == [("2025-03-05",)]  # the harmless spell; the four sensitive ones withheld
    assert death == (1, 0)  # the death is linked, its cause (HIV) is not
    assert people == 2


def test_the_counts_equal_a_count_of_the_extract_files(sensitive_region):
    region, root, _ = sensitive_region
    per_list, records = hand_count(region)
    # The canaries alone, as planted: every list is counted, and a record on two lists once.
    assert per_list[("hiv", "gp")] >= 1 and per_list[("hiv", "admitted-care")] >= 1
    assert per_list[("gender-identity", "admitted-care")] >= 1
    assert per_list[("termination-of-pregnancy", "admitted-care")] >= 1
    entry = _link_entry(Workspace.open(root))
    counts = {k: v for k, v in entry.counts.items() if k.startswith("sensitive")}
    expected = {f"sensitive.{name}.{kind}": n for (name, kind), n in per_list.items() if n}
    expected |= {f"sensitive_withheld.{kind}": n for kind, n in records.items() if n}
    assert counts == expected
    assert counts["sensitive_withheld.admitted-care"] >= 4
    assert counts["sensitive.hiv.deaths"] >= 1


def test_the_audit_log_holds_counts_not_codes(sensitive_region):
    _, root, _ = sensitive_region
    text = (root / "audit" / "audit.jsonl").read_text()
    for code in PLANTED_CODES:
        assert not re.search(rf"\b{code}\b", text), code


def test_the_dpo_sees_the_counts_in_status(sensitive_region, cli):
    _, root, _ = sensitive_region
    entry = _link_entry(Workspace.open(root))
    with clock.frozen_at(NOW):
        result = cli(["status", root, "--role", "data-protection-officer", "--json"])
        assert result.exit_code == 0, result.output
        shown = json.loads(result.output)["sensitive_withheld"]
        text = cli(["status", root, "--role", "data-protection-officer"])
    assert text.exit_code == 0, text.output
    for name, kinds in shown["per_list"].items():
        for kind, n in kinds.items():
            assert entry.counts[f"sensitive.{name}.{kind}"] == n
    assert shown["records"]["admitted-care"] == entry.counts["sensitive_withheld.admitted-care"]
    assert "Sensitive records kept in the landing zone" in text.output
    assert "termination-of-pregnancy" in text.output and "gender-identity" in text.output


def test_the_dpo_page_shows_the_counts_and_no_code(sensitive_region, tmp_path, monkeypatch):
    import shutil

    from fastapi.testclient import TestClient

    from openphm.governance.roles import Role
    from openphm.web.accounts import LocalAccounts
    from openphm.web.app import create_app

    _, root, _ = sensitive_region
    copy = tmp_path / "ws"
    shutil.copytree(root, copy)
    ws = Workspace.open(copy)
    LocalAccounts(copy).add("dora", PASSWORD, Role.DATA_PROTECTION_OFFICER,
                            ws.config.programme.controllers, None)  # fmt: skip
    entry = _link_entry(ws)
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-03T11:00:00"))
    with TestClient(create_app(copy), follow_redirects=False) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/sign-in").text)
        signed = client.post(
            "/sign-in", data={"username": "dora", "password": PASSWORD, "csrf_token": token[1]}
        )
        assert signed.status_code == 303
        page = client.get("/dpo")
        api = client.get("/api/status")
    assert page.status_code == 200
    assert "Sensitive records kept in the landing zone" in page.text
    for name in ("hiv", "gender-identity", "termination-of-pregnancy", "assisted-conception"):
        assert name in page.text
    n = entry.counts["sensitive.gender-identity.admitted-care"]
    assert re.search(
        rf"gender-identity</td>\s*<td[^>]*>admitted-care</td>\s*<td[^>]*>{n}<", page.text
    )
    for code in PLANTED_CODES:
        assert code not in page.text
    assert api.json()["sensitive_withheld"]["per_list"]["hiv"]["gp"] >= 1


# ----- programme.toml's [sensitive], through ingest and link -----------------------------------

SERTRALINE = "39704111000001102"  # a dm+d id the synthetic region prescribes
OVERRIDE = f"""
[sensitive]
off = ["hiv"]
reason = "HIV care is in the programme's scope (DPIA 4.2)"

[[sensitive.lists]]
name = "local-medicines"
snomed = ["{SERTRALINE}"]
"""


@pytest.fixture(scope="module")
def overridden_region(tmp_path_factory, land_and_link):
    return _planted_region(tmp_path_factory, land_and_link, "sensitive-override", OVERRIDE)


def test_a_programme_s_own_list_and_a_list_turned_off_apply_at_link(overridden_region):
    region, root, who = overridden_region
    ws = Workspace.open(root)
    (gp_person,) = truth_pseudonyms(ws, [who["gp_nhs"]])
    issued = 0
    for folder in sorted((region / "extracts" / "gp").iterdir()):
        for path in _current_files(folder):
            if "_medications_" in path.name:
                issued += sum(
                    (row.get("dmd_code") or row.get("DmdCode")) == SERTRALINE
                    for row in read_rows(path)
                )
    con = ws.connect_linked(read_only=True)
    try:
        sertraline = con.execute(
            "SELECT count(*) FROM linked.medications WHERE dmd_code = ?", [SERTRALINE]
        ).fetchone()[0]
        hiv_event = con.execute(
            "SELECT count(*) FROM linked.gp_events WHERE pseudonym = ? AND snomed_code = ?",
            [gp_person, "713844000"],
        ).fetchone()[0]
        termination = con.execute(
            "SELECT count(*) FROM linked.gp_events WHERE snomed_code = ?", ["274973002"]
        ).fetchone()[0]
    finally:
        con.close()
    entry = _link_entry(ws)
    assert issued > 0 and sertraline == 0
    assert entry.counts["sensitive.local-medicines.gp"] == issued
    assert hiv_event == 1  # the HIV list is off: the event is linked
    assert not [k for k in entry.counts if k.startswith("sensitive.hiv.")]
    assert termination == 0  # the other default lists still apply
    assert entry.reason == (
        "sensitive lists off: hiv (reason: HIV care is in the programme's scope (DPIA 4.2))"
    )
