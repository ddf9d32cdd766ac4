"""Promise P7 end to end: an objector has no data in the linked zone from any source, a later
objection removes what was there (the audit log says how many rows, never who), and data that
arrives for an objector after the GP records naming them were destroyed is kept out too."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from openphm import clock
from openphm.governance.audit import AuditLog
from openphm.identity.objections import DISSENT
from openphm.landing.ingest import ingest
from openphm.pseudonymise.link import link

from .region import ENGINEER, copy_workspace, linked_tables, truth_pseudonyms


def _rows_of(ws, pseudonyms: list[str]) -> dict[str, int]:
    con = ws.connect_linked(read_only=True)
    try:
        counts = {}
        for table in linked_tables(con):
            columns = [c[0] for c in con.execute(f"DESCRIBE linked.{table}").fetchall()]
            if "pseudonym" in columns and table != "_objectors":  # the register itself
                counts[table] = con.execute(
                    f"SELECT count(*) FROM linked.{table} WHERE list_contains(?, pseudonym)",
                    [pseudonyms],
                ).fetchone()[0]
        return counts
    finally:
        con.close()


def _truth(region: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (
        pd.read_parquet(region / "truth" / "people.parquet"),
        pd.read_parquet(region / "truth" / "objections.parquet"),
    )


def test_objectors_have_no_rows_in_any_linked_table(linked_region, tmp_path):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    people, objections = _truth(linked_region.region)
    dissent = objections[objections["latest_code"] == DISSENT]["person_id"]
    numbers = people.set_index("person_id").loc[dissent, "nhs_number"]
    assert len(numbers) > 10
    counts = _rows_of(ws, truth_pseudonyms(ws, numbers))
    assert counts and set(counts.values()) == {0}, counts


def test_people_who_withdrew_their_objection_are_linked(linked_region, tmp_path):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    people, objections = _truth(linked_region.region)
    withdrawn = objections[objections["latest_code"] != DISSENT]["person_id"]
    alive = people.set_index("person_id").loc[withdrawn]
    present = _rows_of(ws, truth_pseudonyms(ws, alive["nhs_number"]))["people"]
    assert present >= 1


def _later_objection(ws, linked_region, tmp_path) -> tuple[str, str]:
    """Land a dissent, recorded after the first link, for a registered patient with hospital
    data; returns their practice and NHS number."""
    people, objections = _truth(linked_region.region)
    records = pd.read_parquet(linked_region.region / "truth" / "records.parquet")
    busy = records[records["file"].str.contains("admitted-care")]["person_id"].value_counts()
    candidates = people.set_index("person_id").loc[busy.index]
    candidates = candidates[
        ~candidates.index.isin(objections["person_id"]) & candidates["death_date"].isna()
    ]
    person = candidates.iloc[0]
    practice = person["practice"]
    patients = pd.read_csv(
        linked_region.region / "practices" / practice / "patients.csv", dtype=str
    )
    ref = patients.loc[patients["nhs_number"] == person["nhs_number"], "patient_ref"].iloc[0]
    folder = tmp_path / "later" / "gp" / practice
    folder.mkdir(parents=True)
    sent = next((linked_region.region / "extracts" / "gp" / practice).glob("*_objections_*"))
    with open(sent, newline="") as handle:
        header = next(csv.reader(handle))
    with open(folder / f"{practice}_objections_202611.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        date = "2026-11-02" if header[0] == "patient_ref" else "02/11/2026"
        writer.writerow([ref, date, DISSENT])
    report = ingest(ws, [folder], ENGINEER)
    assert report.batch_id, report
    return practice, person["nhs_number"]


def test_a_later_objection_removes_the_persons_rows_and_the_audit_says_how_many(
    linked_region, tmp_path
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    _, nhs_number = _later_objection(ws, linked_region, tmp_path)
    pseudonym = truth_pseudonyms(ws, [nhs_number])
    con = ws.connect_linked()  # as analytics would have left it: a table of its own
    con.execute(
        "CREATE TABLE linked.person_scores AS SELECT ? AS pseudonym, 0.5 AS score", pseudonym
    )
    con.close()
    before = _rows_of(ws, pseudonym)
    assert before["people"] == 1 and before["apc_spells"] >= 1
    assert before["person_scores"] == 1

    result = link(ws, ENGINEER)

    assert set(_rows_of(ws, pseudonym).values()) == {0}
    entry = [e for e in AuditLog(ws.root / "audit").entries() if e.action == "identity.link"][-1]
    removed = {k.split(".", 1)[1]: v for k, v in entry.counts.items()
               if k.startswith("objected_removed.")}  # fmt: skip
    assert removed == {t: n for t, n in before.items() if n} == result.objected_removed
    text = (ws.root / "audit" / "audit.jsonl").read_text()
    assert nhs_number not in text and pseudonym[0] not in text


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_data_arriving_for_an_objector_after_their_gp_records_were_destroyed_is_kept_out(
    linked_region, tmp_path, monkeypatch
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    _, nhs_number = _later_objection(ws, linked_region, tmp_path)
    link(ws, ENGINEER)
    monkeypatch.setattr(
        clock, "_source", clock.fixed("2026-11-25T10:00:00")
    )  # every batch so far destroyed
    from openphm.governance.audit import Actor
    from openphm.governance.schedule import keep_promises
    from openphm.programme.workspace import Workspace

    ws = Workspace.open(ws.root)
    keep_promises(ws, Actor("test-dpo", "data-protection-officer"))  # retention
    folder = tmp_path / "late" / "admitted-care" / "RZ1"
    folder.mkdir(parents=True)
    first = sorted((linked_region.region / "extracts" / "admitted-care" / "RZ1").glob("*.csv"))[0]
    with open(first, newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows = rows[:3]
    rows[0]["nhs_number"] = nhs_number
    for number, row in enumerate(rows):
        row["spell_id"] = f"LATE{number}"
    with open(folder / "RZ1_apc_202611.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ingest(ws, [folder], ENGINEER)
    result = link(ws, ENGINEER)
    # Three rows arrived: two written, the objector's one kept out as it was written.
    assert result.written["apc_spells"] == 2
    assert set(_rows_of(ws, truth_pseudonyms(ws, [nhs_number])).values()) == {0}
    assert result.objected_excluded.get("apc_spells") == 1


def test_every_submissions_rows_are_written_or_kept_out_as_an_objectors(linked_region, tmp_path):
    """Counts reconcile per submission: the rows it brought are the rows of it in its linked
    table plus those kept out for objections (which must be some: the region has objectors)."""
    ws = copy_workspace(linked_region, tmp_path / "ws")
    con = ws.connect_linked(read_only=True)
    try:
        ledger = con.execute(
            "SELECT submission_id, linked_table, records, objected_removed FROM linked._submissions"
        ).fetchall()
        assert sum(row[3] for row in ledger) > 0
        for submission_id, table, records, objected in ledger:
            held = con.execute(
                f"SELECT count(*) FROM linked.{table} WHERE submission_id = ?", [submission_id]
            ).fetchone()[0]
            assert held + objected == records, (submission_id, table)
    finally:
        con.close()


def test_each_submissions_counts_say_how_its_written_rows_were_linked(linked_region, tmp_path):
    """The ledger's per-submission counts match the rows in zone 3: those under a person's
    pseudonym were linked by a valid NHS number or traced, those under an unmatched one
    (`u…`) were not; GP rows, linked through the patient list, are traced or untraced exactly
    when their patient is listed without a valid NHS number."""
    ws = copy_workspace(linked_region, tmp_path / "ws")
    without_number = _gp_rows_of_patients_without_a_valid_number(ws)
    con = ws.connect_linked(read_only=True)
    try:
        ledger = con.execute(
            "SELECT submission_id, linked_table, canonical_table, records, "
            "with_valid_nhs_number, traced, untraced, objected_removed FROM linked._submissions"
        ).fetchall()
        assert {row[2] for row in ledger} >= {"gp_events", "gp_consultations", "apc_spells"}
        assert sum(row[5] for row in ledger if row[2].startswith("gp_")) > 0
        for sid, table, canonical, records, valid, traced, untraced, objected in ledger:
            assert valid + traced + untraced == records, sid
            if canonical.startswith("gp_") and canonical != "gp_objections":
                assert traced + untraced == without_number.get(sid, 0), sid
            if objected:
                continue
            person, unmatched = con.execute(
                f"SELECT count(*) FILTER (NOT starts_with(pseudonym, 'u')), "
                f"count(*) FILTER (starts_with(pseudonym, 'u')) FROM linked.{table} "
                "WHERE submission_id = ?",
                [sid],
            ).fetchone()
            assert (person, unmatched) == (valid + traced, untraced), (sid, table)
    finally:
        con.close()


def _gp_rows_of_patients_without_a_valid_number(ws) -> dict[str, int]:
    """Per GP submission in the landing zone, its rows whose patient the current lists give
    no valid NHS number (test range accepted, as the synthetic programme does)."""
    from openphm.engine import connect
    from openphm.landing.read import current_tables
    from openphm.pseudonymise import resolve

    con = connect()
    views = current_tables(ws, con, ENGINEER)
    resolve.check_numbers(con, [views["gp_patients"]], resolve.regions(True))
    tables = ("gp_registrations", "gp_events", "gp_medications", "gp_consultations")
    union = " UNION ALL ".join(
        f"SELECT submission_id, provider_ods, patient_ref FROM {views[t]}" for t in tables
    )
    counts = dict(
        con.execute(
            f"""SELECT r.submission_id, count(*) FROM ({union}) r
            JOIN {views["gp_patients"]} p USING (provider_ods, patient_ref)
            WHERE p.nhs_number IS NULL OR p.nhs_number NOT IN (SELECT raw FROM nhs_check)
            GROUP BY ALL"""
        ).fetchall()
    )
    con.close()
    return counts
