"""Helpers for the linked-region tests: canaries, copies of the workspace, snapshots.

A test that links a copy of the region a second time (a whole `phm link`, about 10 s) is marked
`programme`: `make test-programme` runs it, and CI with it, not `make test`. One stays in `make
test`: a later objection removing a person's rows (test_link_objections.py)."""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from openphm.governance.audit import Actor

NOW = "2026-11-03T10:00:00"  # every test here runs at this moment unless it moves the clock
ENGINEER = Actor(user="test-engineer", role="processor-engineer")

# Canaries: a valid NHS number in the 999 test range that no synthetic person has, a name, an
# address, a postcode, a date of birth, a provider record id and a trust's local patient id
# (hospital number) no one else could have.
CANARY_NHS = "9991234578"
CANARIES = {
    "nhs_number": CANARY_NHS,
    "given_name": "Zebedaiah",
    "family_name": "Quillfeather",
    "address_line_1": "77 Canarywharf Lane",
    "town": "Yellowbirdton",
    "postcode": "LS99 9ZQ",
    "date_of_birth": "1911-11-17",
    "spell_id": "SPELLCANARY4711",
    "local_patient_id": "HOSPCANARY4713",
}


@dataclass
class Linked:
    region: Path
    workspace: Path
    resubmission: Path  # the RZ1 ECDS _r2 file, held back to land after the first link
    canary_patient_ref: str


def plant_canaries(region: Path) -> str:
    """Overwrite the first patient of the first practice (in both patient lists) and the
    first admitted-care spell (of RZ1, whose key is registered: its local ids are keyed and
    sealed) with canary values; returns that patient's reference."""
    gp = next(  # a flavour A practice: its files use the canonical column names
        folder
        for folder in sorted((region / "extracts" / "gp").iterdir())
        if "patient_ref" in read_rows(next(folder.glob("*_patients_*.csv")))[0]
    )
    ref = ""
    for path in sorted(gp.glob("*_patients_*.csv")):
        rows = read_rows(path)
        if not ref:
            ref = rows[0]["patient_ref"]
        row = next(r for r in rows if r["patient_ref"] == ref)
        row.update({k: v for k, v in CANARIES.items() if k in row})
        write_rows(path, rows)
    apc = sorted((region / "extracts" / "admitted-care" / "RZ1").glob("*.csv"))[0]
    rows = read_rows(apc)
    rows[0].update({k: v for k, v in CANARIES.items() if k in rows[0]})
    write_rows(apc, rows)
    return ref


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_rows(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def copy_workspace(linked: Linked, target: Path):
    """A private copy of the linked workspace, for a test that changes it."""
    from openphm.programme.workspace import Workspace

    shutil.copytree(linked.workspace, target)
    return Workspace.open(target)


def linked_tables(con) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'linked' "
            "ORDER BY table_name"
        ).fetchall()
    ]


def snapshot(ws) -> dict[str, pd.DataFrame]:
    """Every linked table's rows, sorted, for comparing the zone before and after."""
    con = ws.connect_linked(read_only=True)
    try:
        frames = {}
        for table in linked_tables(con):
            frame = con.execute(f"SELECT * FROM linked.{table}").df()
            frames[table] = (
                frame.astype(str).sort_values(list(frame.columns)).reset_index(drop=True)
            )
        return frames
    finally:
        con.close()


def truth_pseudonyms(ws, nhs_numbers) -> list[str]:
    """The linkage pseudonyms of true NHS numbers (a test may hold the key; src may not)."""
    from openphm.keystore import KeyName
    from openphm.pseudonymise.pseudonyms import linkage_pseudonyms

    return linkage_pseudonyms(list(nhs_numbers), ws.keystore.get(KeyName.LINKAGE)).to_pylist()
