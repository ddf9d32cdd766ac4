"""Measures on edge-case populations: an empty population gives an empty table of the
documented columns, never an error (pandas refuses to concatenate nothing)."""

import ibis
import pandas as pd

from openphm.analytics import measures
from openphm.analytics.definitions import Measure

PREVALENCE = Measure("prevalence_x", "X: recorded prevalence", "reg_x", "in_reference_population",
                     "proportion")  # fmt: skip


COLUMN_TYPES = {"age_band": "string", "imd_decile": "Int64", "reg_x": "int64",
                "in_reference_population": "int64"}  # fmt: skip


def people(rows: list[tuple[str, int, int, int]]):
    frame = pd.DataFrame(rows, columns=list(COLUMN_TYPES)).astype(COLUMN_TYPES)
    return ibis.memtable(frame)


def test_an_empty_population_gives_an_empty_measures_table():
    out = measures.compute(people([]), (PREVALENCE,), ("imd_decile",), simulations=10)
    assert out.empty
    assert list(out.columns) == list(measures.COLUMNS)
    assert out["value"].dtype == float
    assert out["measure"].dtype == "string"  # typed, so the empty table can be written


def test_no_measures_gives_an_empty_measures_table():
    out = measures.compute(people([("50-54", 1, 1, 1)]), (), ("imd_decile",), simulations=10)
    assert out.empty and list(out.columns) == list(measures.COLUMNS)


def test_one_person_gives_the_overall_and_decile_rows():
    out = measures.compute(people([("50-54", 3, 1, 1)]), (PREVALENCE,), ("imd_decile",),
                           simulations=10)  # fmt: skip
    crude = out[out["statistic"] == "crude"].set_index("group_by")
    assert crude.loc["all", "value"] == 100.0 and crude.loc["imd_decile", "group_value"] == "3"


def test_an_analytics_build_over_an_empty_linked_zone_writes_empty_typed_tables(engine, tmp_path):
    from openphm import analytics

    from .linked import REFERENCE, zone_on

    zone = zone_on(engine, tmp_path)
    summary = zone.analyse(REFERENCE, analytics.AnalyticsOptions(
        hospital_scores=False, sii_simulations=10))  # fmt: skip
    assert summary.rows["measures"] == 0 and summary.rows["analytics_population"] == 0
    columns = zone.sql("DESCRIBE linked.measures").fetchall()
    types = {name: kind for name, kind, *_ in columns}
    assert types["period_start"] == types["period_end"] == "DATE"
