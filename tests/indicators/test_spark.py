"""The same indicators on Spark as on DuckDB: every specification population of the PINCER,
care-gap, case-finding and hospital-use tables built on both engines, the people in each
denominator, their flags, due dates and reasons compared row for row."""

from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from openphm import indicators

from .spec import REFERENCE, TEST_LISTS, linked, parse, write_test_lists
from .test_care import CARE_GAPS, CASE_FINDING
from .test_hospital import SPECS as HOSPITAL
from .test_hospital import hospital_rows
from .test_pincer import SPECS as PINCER

pytestmark = [
    pytest.mark.slow,  # a local Spark session: about a minute
    pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime: run `make java`"),
]


def _rows():
    """Every spec table's people, renamed so that they do not collide."""
    everyone = []
    for specs in (PINCER, CARE_GAPS, CASE_FINDING, HOSPITAL):
        for name, table in specs.items():
            for row in parse(table):
                everyone.append({**row, "person": f"{name}:{row['person']}"})
    return everyone


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.assign(due_date=pd.to_datetime(frame["due_date"]).dt.date)
    return frame.sort_values(["indicator", "pseudonym"]).reset_index(drop=True)


def test_every_indicator_gives_the_same_people_flags_due_dates_and_reasons_on_spark(tmp_path):
    from openphm.engine import attach_encrypted, connect, export_linked, open_linked, spark

    from .spec import zone_for

    rows = _rows()
    folder = str(write_test_lists(tmp_path))
    chosen = indicators.choose([(n, indicators.PACKS[n].purposes[0].value)
                                for n in indicators.PACKS])  # fmt: skip
    duck = zone_for(rows, TEST_LISTS, **hospital_rows(rows))
    expected = _sorted(indicators.evaluate(duck, REFERENCE, chosen, codelist_folder=folder))

    key, name = os.urandom(32), "data/linked"
    con = connect()
    attach_encrypted(con, tmp_path / "linked.duckdb", "linked", key)
    for table, columns in linked.SCHEMA.items():
        spec = ", ".join(f"{c} {t}" for c, t in columns.items())
        con.execute(f"CREATE TABLE linked.{table} ({spec})")
        con.register("_rows", duck.sql(f"SELECT * FROM linked.{table}").df())
        con.execute(f"INSERT INTO linked.{table} SELECT * FROM _rows")
        con.unregister("_rows")
    con.close()
    export_linked(tmp_path, name, key)
    session = spark.session(tmp_path / "spark", shuffle_partitions=2)
    try:
        with open_linked("spark", tmp_path, name, key, spark_session=session) as zone:
            got = _sorted(indicators.evaluate(zone.backend, REFERENCE, chosen,
                                              codelist_folder=folder))  # fmt: skip
    finally:
        session.stop()
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
