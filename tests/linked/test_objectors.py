"""Promise P7 in zone 3: `remove_objectors` takes every row of a person in the objectors'
register from the zone's tables, counts them per submission where a table has one, and leaves
the register itself and tables without a pseudonym alone."""

from __future__ import annotations

import duckdb

from openphm.linked.objectors import CREATE_REGISTER, arriving, remove_objectors


def _zone(register: bool = True):
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS linked")
    if register:
        con.execute(CREATE_REGISTER)
        con.execute("INSERT INTO linked._objectors VALUES ('p1', 'p1')")
    con.execute(
        "CREATE TABLE linked.events AS SELECT * FROM (VALUES ('p1', 's1'), ('p1', 's2'), "
        "('p2', 's1')) t(pseudonym, submission_id)"
    )
    con.execute("CREATE TABLE linked.people AS SELECT * FROM (VALUES ('p1'), ('p2')) t(pseudonym)")
    con.execute("CREATE TABLE linked.link_report AS SELECT 'gp' AS source, 3 AS records")
    return con


def _pseudonyms(con, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT pseudonym FROM linked.{table} ORDER BY 1")
            .fetchall()]  # fmt: skip


def test_an_objectors_rows_go_from_every_table_and_are_counted_per_submission():
    con = _zone()
    removed = remove_objectors(con)
    assert removed == {("events", "s1"): 1, ("events", "s2"): 1, ("people", None): 1}
    assert _pseudonyms(con, "events") == _pseudonyms(con, "people") == ["p2"]
    assert _pseudonyms(con, "_objectors") == ["p1"]  # the register keeps them


def test_only_the_tables_named_and_present_lose_rows():
    con = _zone()
    removed = remove_objectors(con, ["people", "person_scores"])
    assert removed == {("people", None): 1}
    assert _pseudonyms(con, "events") == ["p1", "p2"]


def test_a_zone_without_a_register_loses_nothing():
    con = _zone(register=False)
    assert remove_objectors(con) == {}
    assert _pseudonyms(con, "people") == ["p1", "p2"]


def test_rows_arriving_for_an_objector_are_left_out_and_rows_without_a_pseudonym_kept():
    con = _zone()
    rows = "SELECT * FROM (VALUES ('p1'), ('p3'), (NULL)) t(pseudonym)"
    kept = con.execute(f"SELECT pseudonym FROM ({arriving(rows)}) ORDER BY 1").fetchall()
    assert kept == [("p3",), (None,)]
