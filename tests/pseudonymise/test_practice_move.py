"""A person who moves practice stays one person. Their new practice's first list has them
without an NHS number (a new registration is not yet traced), while the old practice's list
still holds it: tracing the new registration against the registered population gives it the
person's pseudonym, so their GP records at both practices and their hospital records are one
person's, not two."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from openphm.keystore import KeyName
from openphm.landing.ingest import ingest
from openphm.pseudonymise import resolve
from openphm.pseudonymise.link import link
from openphm.pseudonymise.pseudonyms import unmatched_pseudonyms
from openphm.synth.registers import patient_ref

from .region import ENGINEER, copy_workspace, truth_pseudonyms

LATEST, NEXT = "202610", "202611"  # the region's last snapshot, and the one that brings the move
MOVED_ON = "2026-11-01"
NEW_REF = "MOVE0001"


def _rows(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _flavour_b(header: list[str]) -> bool:
    return "PatientID" in header


def _date(iso: str, b: bool) -> str:
    year, month, day = iso.split("-")
    return f"{day}/{month}/{year}" if b else iso


def _move(region: Path, out: Path, person: pd.Series, old: str, new: str) -> None:
    """Next month's lists: `person` left `old` (moved) and is on `new`'s list under a new
    reference, at a new address, with no NHS number yet, and has had a consultation there."""
    gp = region / "extracts" / "gp"
    header, patients = _rows(gp / old / f"{old}_patients_{LATEST}.csv")
    b_old = _flavour_b(header)
    number = "NHSNumber" if b_old else "nhs_number"
    [theirs] = [r for r in patients if r[number] == person["nhs_number"]]
    ref = theirs["PatientID" if b_old else "patient_ref"]
    _write(out / old / f"{old}_patients_{NEXT}.csv", header, patients)
    header_r, registrations = _rows(gp / old / f"{old}_registrations_{LATEST}.csv")
    for row in registrations:
        if row["PatientID" if b_old else "patient_ref"] == ref:
            row["DeregistrationDate" if b_old else "registration_end"] = _date(MOVED_ON, b_old)
            row["DeregistrationReason" if b_old else "deregistration_reason"] = "moved"
    _write(out / old / f"{old}_registrations_{NEXT}.csv", header_r, registrations)

    header, patients = _rows(gp / new / f"{new}_patients_{LATEST}.csv")
    b = _flavour_b(header)
    values = {
        "patient_ref": NEW_REF,
        "nhs_number": "",
        "given_name": theirs["Forename" if b_old else "given_name"],
        "family_name": theirs["Surname" if b_old else "family_name"],
        "sex": {"M": "Male", "F": "Female"}[person["sex"]] if b else person["sex"],
        "date_of_birth": _date(str(person["date_of_birth"])[:10], b),
        "address_line_1": "7 Larkspur Rise",
        "address_line_2": "",
        "town": "Halifax",
        "postcode": "HX3 0QT",
        "ethnicity_code": "",
    }
    names = dict(zip(_CANONICAL, header, strict=True))  # flavour B's names, or the same
    patients.append({names[k]: v for k, v in values.items()})
    _write(out / new / f"{new}_patients_{NEXT}.csv", header, patients)
    header_r, registrations = _rows(gp / new / f"{new}_registrations_{LATEST}.csv")
    registrations.append(dict(zip(header_r, [NEW_REF, _date(MOVED_ON, b), "", ""], strict=True)))
    _write(out / new / f"{new}_registrations_{NEXT}.csv", header_r, registrations)
    header_c, _ = _rows(gp / new / f"{new}_consultations_{LATEST}.csv")
    visit = [NEW_REF, _date("2026-11-02", b), "face-to-face", "GP"]
    _write(out / new / f"{new}_consultations_{NEXT}.csv", header_c,
           [dict(zip(header_c, visit, strict=True))])  # fmt: skip


_CANONICAL = [
    "patient_ref", "nhs_number", "given_name", "family_name", "sex", "date_of_birth",
    "address_line_1", "address_line_2", "town", "postcode", "ethnicity_code",
]  # fmt: skip


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_a_practice_move_before_the_new_practice_has_the_nhs_number_keeps_one_pseudonym(
    linked_region, tmp_path, monkeypatch
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    region = linked_region.region
    people = pd.read_parquet(region / "truth" / "people.parquet")
    records = pd.read_parquet(region / "truth" / "records.parquet")
    objectors = pd.read_parquet(region / "truth" / "objections.parquet")["person_id"]
    in_hospital = records.loc[records["file"].str.contains("admitted-care"), "person_id"]
    settled = people[
        people["death_date"].isna()
        & people["leave_date"].isna()
        & people["previous_practice"].isna()
        & people["person_id"].isin(in_hospital)
        & ~people["person_id"].isin(objectors)
        # not the patient whose details the canaries overwrote (conftest)
        & (patient_ref(people["person_id"].to_numpy()) != int(linked_region.canary_patient_ref))
    ]
    person = settled.iloc[0]
    old = person["practice"]
    [new] = [p for p in ws.config.programme.controllers if p != old]
    _move(region, tmp_path / "next" / "gp", person, old, new)

    traced_sources = []
    trace = resolve._trace

    def _trace(con, records, spine, sources, *args, **kwargs):
        traced_sources.extend(sources)
        return trace(con, records, spine, sources, *args, **kwargs)

    monkeypatch.setattr(resolve, "_trace", _trace)
    ingest(ws, [tmp_path / "next"], ENGINEER)
    link(ws, ENGINEER)
    # The GP patients without a number are new registrations, whose people are on the spine
    # at their old address: EM does not learn from the pairs that share their postcode.
    assert {s.name[:2]: s.moved for s in traced_sources}[resolve.GP_SOURCE]
    assert not any(s.moved for s in traced_sources if s.name[:2] != resolve.GP_SOURCE)

    [theirs] = truth_pseudonyms(ws, [person["nhs_number"]])
    key = ws.keystore.get(KeyName.LINKAGE)
    [new_ref] = unmatched_pseudonyms(
        [NEW_REF], source="gp", provider=new, linkage_key=key
    ).to_pylist()
    con = ws.connect_linked(read_only=True)
    try:
        at = dict(con.execute("SELECT ref_pseudonym, pseudonym FROM linked._gp_refs").fetchall())
        practices = {
            p for (p,) in con.execute(
                "SELECT DISTINCT practice FROM linked.registrations WHERE pseudonym = ?", [theirs]
            ).fetchall()
        }  # fmt: skip
        visits = con.execute(
            "SELECT count(*) FROM linked.consultations WHERE pseudonym = ? "
            "AND consultation_date = DATE '2026-11-02'",
            [theirs],
        ).fetchone()[0]
        person_rows = con.execute(
            "SELECT practice, traced FROM linked.people WHERE pseudonym IN (?, ?)",
            [theirs, new_ref],
        ).fetchall()
        spells = con.execute(
            "SELECT count(*) FROM linked.apc_spells WHERE pseudonym = ?", [theirs]
        ).fetchone()[0]
    finally:
        con.close()
    assert at[new_ref] == theirs  # the new registration is the person, not a stranger
    assert practices == {old, new}
    assert visits == 1
    assert person_rows == [(new, "nhs-number")]  # one person, registered at the new practice
    assert spells > 0
