"""A frame held in memory reaches Spark with its missing values as nulls: pandas' own missing
value in a typed column (pd.NA) is not None, and Spark's row-by-row conversion refused it, so
`phm analyse --engine spark` failed on a zone with no activity (its analytics_runs row has no
data end) where DuckDB built (tests/analytics/test_measures.py, on both engines)."""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
import pyarrow as pa


def test_missing_values_in_typed_columns_arrive_as_nulls(spark_session):
    from openphm.engine import spark

    frame = pd.DataFrame({
        "day": pd.Series([dt.date(2026, 3, 31), None], dtype=pd.ArrowDtype(pa.date32())),
        "text": pd.array(["a", None], dtype="string"),
        "people": pd.array([3, None], dtype="Int64"),
        "rate": [0.5, float("nan")],  # a float's NaN is a value, on Spark as on DuckDB
    })  # fmt: skip
    backend = spark.ibis_backend(spark_session)
    view = backend.create_view("memtable_with_missing_values", ibis.memtable(frame))
    try:
        rows = {r.text: r for r in spark_session.table("memtable_with_missing_values").collect()}
    finally:
        spark_session.catalog.dropTempView("memtable_with_missing_values")
    assert view.schema()["day"].is_date()
    assert set(rows) == {"a", None}
    assert (rows["a"].day, rows["a"].people, rows["a"].rate) == (dt.date(2026, 3, 31), 3, 0.5)
    assert (rows[None].day, rows[None].people) == (None, None)
    assert math.isnan(rows[None].rate)  # NaN, not null
