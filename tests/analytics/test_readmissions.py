"""30-day emergency readmissions when spells share their dates (one stay recorded twice, as
elective and as emergency): the emergency one is compared with the discharge before the stay,
on DuckDB and on Spark alike (without one order for such ties the two engines counted
differently on the 100k region)."""

import datetime as dt
import os
import shutil

import pytest

from openphm import analytics

from .linked import fill, linked_zone, person, population

D = dt.date


def spell(admitted, discharged, *, emergency):
    return {"pseudonym": "p", "admission_date": admitted, "discharge_date": discharged,
            "emergency": emergency, "elective": not emergency, "primary_diagnosis": "J189",
            "secondary_diagnoses": [], "bed_days": None}  # fmt: skip


SPELLS = [
    spell(D(2025, 6, 1), D(2025, 6, 5), emergency=False),
    spell(D(2025, 6, 10), D(2025, 6, 15), emergency=False),  # one stay, recorded twice
    spell(D(2025, 6, 10), D(2025, 6, 15), emergency=True),  # 5 days after the first ended
    spell(D(2025, 8, 1), None, emergency=True),  # still in, 47 days later: not a readmission
]
# The emergency twin follows the spell that ended on 5 June: a readmission. Compared with its
# elective twin instead (discharged after it was admitted), it would not count.
EXPECTED = [(1,)]
OPTIONS = analytics.AnalyticsOptions(hospital_scores=False, sii_simulations=10, groupings=())


def test_an_emergency_spell_is_compared_with_the_discharge_before_its_twin():
    con = linked_zone(**population(person("p")), apc_spells=SPELLS)
    analytics.build(con, D(2026, 3, 31), OPTIONS)
    assert con.sql("SELECT readmissions_30d FROM linked.person_activity").fetchall() == EXPECTED


@pytest.mark.slow  # a local Spark session: about 40 s
@pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime: run `make java`")
def test_spark_orders_the_spells_as_duckdb_does(tmp_path):
    from openphm.engine import attach_encrypted, connect, export_linked, open_linked, spark

    key, name = os.urandom(32), "data/linked"
    con = connect()
    attach_encrypted(con, tmp_path / "linked.duckdb", "linked", key)
    fill(con, **population(person("p")), apc_spells=SPELLS)
    con.close()
    export_linked(tmp_path, name, key)
    session = spark.session(tmp_path / "spark", shuffle_partitions=2)
    try:
        with open_linked("spark", tmp_path, name, key, spark_session=session) as zone:
            analytics.build(zone.backend, D(2026, 3, 31), OPTIONS)
            activity = zone.backend.table("person_activity", database=("linked", "main"))
            counts = [(int(n),) for n in activity.to_pandas()["readmissions_30d"]]
    finally:
        session.stop()  # the Spark tests make their own session, with their own folder
    assert counts == EXPECTED
