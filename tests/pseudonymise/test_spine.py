"""The spine tracing matches against: one row per registered person with a valid NHS number,
from the practice they are registered with now, knowing the postcode they had before they
moved practice (a hospital not told of the move still holds it)."""

from __future__ import annotations

import duckdb
import pandas as pd

from openphm.pseudonymise import gp


def _gp_people(rows: list[dict]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    people = pd.DataFrame(rows)
    for column in ("given_name", "family_name", "sex", "address_line_1", "address_line_2"):
        people[column] = "X"
    people["town"] = "LEEDS"
    people["date_of_birth"] = pd.Timestamp("1961-03-07")
    people["registration_start"] = pd.to_datetime(people["registration_start"])
    people["registration_end"] = pd.to_datetime(people["registration_end"])
    con.register("people_in", people)
    con.execute("CREATE TEMP TABLE gp_people AS SELECT * FROM people_in")
    return con


def _row(number, practice, postcode, start, end, main):
    return {
        "valid_nhs_number": number,
        "provider_ods": practice,
        "postcode": postcode,
        "registration_start": start,
        "registration_end": end,
        "main": main,
    }


def test_the_spine_knows_the_postcode_a_person_had_at_their_previous_practice():
    con = _gp_people(
        [
            # Moved twice: the latest earlier address is the one a hospital most likely has.
            _row("9990000018", "P1", "LS1 1AA", "2001-01-01", "2010-01-01", False),
            _row("9990000018", "P2", "LS2 2BB", "2010-01-02", "2025-06-30", False),
            _row("9990000018", "P3", "HX1 1CC", "2025-07-01", None, True),
            # Changed practice without moving house: no previous postcode to know.
            _row("9990000026", "P1", "LS3 3DD", "2005-01-01", "2020-01-01", False),
            _row("9990000026", "P2", "LS3 3DD", "2020-01-02", None, True),
            # Never moved.
            _row("9990000034", "P1", "LS4 4EE", "2005-01-01", None, True),
            # The earlier registration's postcode unknown.
            _row("9990000042", "P1", None, "2005-01-01", "2020-01-01", False),
            _row("9990000042", "P2", "LS5 5FF", "2020-01-02", None, True),
            # No valid NHS number: not on the spine at all.
            _row(None, "P1", "WF1 1GG", "2005-01-01", None, True),
        ]
    )
    assert gp.spine(con) == 4
    found = dict(con.execute("SELECT spine_id, previous_postcode FROM spine").fetchall())
    assert found == {
        "9990000018": "LS2 2BB",
        "9990000026": None,
        "9990000034": None,
        "9990000042": None,
    }
    current = dict(con.execute("SELECT spine_id, postcode FROM spine").fetchall())
    assert current["9990000018"] == "HX1 1CC"
