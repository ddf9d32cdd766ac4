"""Promise P7 in zone 1: who objects (their rows leaving zone 3: tests/linked/test_objectors.py)."""

from __future__ import annotations

import duckdb
import pytest

from openphm.identity.objections import DISSENT, WITHDRAWN, objectors


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE objections (submission_id VARCHAR, provider_ods VARCHAR, source_row "
        "BIGINT, patient_ref VARCHAR, recorded_date DATE, snomed_code VARCHAR)"
    )
    return con


def _latest(con, rows, *, type1=True) -> dict[tuple[str, str], bool]:
    con.executemany("INSERT INTO objections VALUES (?, ?, ?, ?, ?, ?)", rows)
    table = objectors(con, "objections", type1=type1)
    return {(p, r): o for p, r, o in con.execute(f"SELECT * FROM {table}").fetchall()}


def test_a_dissent_makes_an_objector(con):
    latest = _latest(con, [("s1", "A", 1, "1", "2024-01-01", DISSENT)])
    assert latest == {("A", "1"): True}


def test_a_later_withdrawal_restores_and_a_later_dissent_objects_again(con):
    latest = _latest(
        con,
        [
            ("s1", "A", 1, "1", "2024-01-01", DISSENT),
            ("s1", "A", 2, "1", "2025-01-01", WITHDRAWN),
            ("s1", "A", 3, "2", "2024-01-01", WITHDRAWN),
            ("s2", "A", 1, "2", "2025-06-01", DISSENT),
        ],
    )
    assert latest == {("A", "1"): False, ("A", "2"): True}


def test_the_same_reference_at_another_practice_is_another_patient(con):
    latest = _latest(
        con,
        [("s1", "A", 1, "1", "2024-01-01", DISSENT), ("s2", "B", 1, "1", "2024-01-01", WITHDRAWN)],
    )
    assert latest == {("A", "1"): True, ("B", "1"): False}


def test_with_type1_off_in_the_policy_no_one_is_excluded(con):
    latest = _latest(con, [("s1", "A", 1, "1", "2024-01-01", DISSENT)], type1=False)
    assert latest == {("A", "1"): False}
