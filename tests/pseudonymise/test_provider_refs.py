"""Which person a hospital provider's local patient id belongs to (promise P5: a trust's cohort
list names its own patients): the rule `hospital.refresh_refs` keeps, written out by hand."""

from __future__ import annotations

import duckdb
import pytest

from openphm.pseudonymise import hospital

# local id: the pseudonyms its rows in this run name, one per row
ROWS = {
    "L1": ["p1", "p2", "p2", "p2"],  # the person most of its rows name
    "L2": ["u-x"] * 5 + ["p3"],  # a traced person before an unmatched record's own pseudonym
    "L3": ["p5", "p4", "p5", "p4"],  # a tie: the lower pseudonym, so that runs repeat
    "L4": ["objector"],  # an objector is never added
    "L5": ["u-y"],  # known to a traced person already: not moved to an untraced one
    "L6": ["p7"],  # known to an unmatched pseudonym: moved to the traced person
    "L7": ["p8"],  # known before under a pseudonym this run re-keyed (`gp_rekey`)
}
KNOWN = {"L5": "p6", "L6": "u-z", "L7": "p-old"}


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS linked")
    for ddl in hospital.DDL:
        con.execute(ddl)
    con.execute("CREATE TEMP TABLE gp_rekey AS SELECT 'p-old' AS old, 'p-new' AS new")
    con.execute("CREATE TEMP TABLE objectors AS SELECT 'objector' AS pseudonym")
    con.execute(
        "CREATE TEMP TABLE provider_ref AS SELECT 'RX1' AS provider, local_id, "
        "'ref-' || local_id AS ref_pseudonym FROM unnest(?) t(local_id)",
        [list(ROWS)],
    )
    con.execute(
        "CREATE TEMP TABLE resolved_apc_spells (provider_ods VARCHAR, local_patient_id VARCHAR, "
        "pseudonym VARCHAR)"
    )
    con.executemany(
        "INSERT INTO resolved_apc_spells VALUES ('RX1', ?, ?)",
        [(local_id, p) for local_id, people in ROWS.items() for p in people],
    )
    for local_id, pseudonym in KNOWN.items():
        con.execute(
            f"INSERT INTO {hospital.PROVIDER_REFS} VALUES ('RX1', ?, ?, 'k1', 'sealed')",
            [f"ref-{local_id}", pseudonym],
        )
    yield con
    con.close()


def test_each_local_id_belongs_to_the_person_the_rule_picks(con):
    added = hospital.refresh_refs(con, {"apc_spells": "resolved_apc_spells"}, "objectors")
    held = dict(
        con.execute(f"SELECT ref_pseudonym, pseudonym FROM {hospital.PROVIDER_REFS}").fetchall()
    )
    assert held == {
        "ref-L1": "p2",
        "ref-L2": "p3",
        "ref-L3": "p4",
        "ref-L5": "p6",
        "ref-L6": "p7",
        "ref-L7": "p8",
    }
    assert added == 3  # L1, L2, L3: L4 objected, L5 to L7 were known


def test_a_pseudonym_re_keyed_this_run_moves_with_its_local_id(con):
    con.execute("DELETE FROM resolved_apc_spells WHERE local_patient_id = 'L7'")
    hospital.refresh_refs(con, {"apc_spells": "resolved_apc_spells"}, "objectors")
    [(pseudonym,)] = con.execute(
        f"SELECT pseudonym FROM {hospital.PROVIDER_REFS} WHERE ref_pseudonym = 'ref-L7'"
    ).fetchall()
    assert pseudonym == "p-new"
