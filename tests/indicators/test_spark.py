"""The same indicators on Spark as on DuckDB: every specification population of the PINCER,
care-gap, case-finding and hospital-use tables in one zone, evaluated on both engines, the
people in each denominator, their flags, due dates and reasons compared row for row (each
spec table is also checked against its expected values on each engine: the `engine` fixture)."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from openphm import indicators

from .spec import REFERENCE, TEST_LISTS, parse, write_test_lists, zone_for
from .test_care import CARE_GAPS, CASE_FINDING
from .test_hospital import SPECS as HOSPITAL
from .test_hospital import hospital_rows
from .test_pincer import SPECS as PINCER

pytestmark = [
    pytest.mark.spark,
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


def test_every_indicator_gives_the_same_people_flags_due_dates_and_reasons_on_spark(
    tmp_path, spark_session
):
    from openphm.engine import engine_for
    from openphm.engine.spark import Spark

    rows = _rows()
    folder = str(write_test_lists(tmp_path))
    chosen = indicators.choose([(n, indicators.PACKS[n].purposes[0].value)
                                for n in indicators.PACKS])  # fmt: skip
    duckdb = engine_for("duckdb")
    zone = zone_for(rows, TEST_LISTS, engine=duckdb, where=tmp_path / "zone", **hospital_rows(rows))
    # One zone, read by each engine object as a stage reads it (Spark: an encrypted Parquet
    # copy of the zone file, on the session the Spark tests share).
    with duckdb.reading(zone.ws) as zone3:
        expected = _sorted(indicators.evaluate(zone3, REFERENCE, chosen, codelist_folder=folder))
    with Spark(session=spark_session).reading(zone.ws) as zone3:
        got = _sorted(indicators.evaluate(zone3, REFERENCE, chosen, codelist_folder=folder))
    assert len(expected) > 100
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
