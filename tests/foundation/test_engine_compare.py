"""The differential check: two engines' tables are the same when their rows are, whatever the
row order, date type or integer width; a changed value, row or column is found and named."""

import datetime as dt

import pandas as pd

from openphm.engine.compare import comparable, differences


def duckdb_like():
    return pd.DataFrame(
        {
            "pseudonym": ["b", "a", "c"],
            "day": [dt.date(2026, 1, 2), dt.date(2026, 1, 1), None],
            "count": pd.array([2, 1, 3], dtype="int32"),
            "rate": [0.1 + 0.2, 0.5, float("nan")],
        }
    )


def spark_like():
    return pd.DataFrame(
        {
            "pseudonym": ["a", "c", "b"],
            "day": [pd.Timestamp("2026-01-01"), pd.NaT, pd.Timestamp("2026-01-02")],
            "count": pd.array([1, 3, 2], dtype="int64"),
            "rate": [0.5, float("nan"), 0.3],
        }
    )


def test_the_same_rows_in_another_order_and_types_are_the_same_table():
    assert differences(comparable(duckdb_like()), comparable(spark_like())) == []


def test_a_changed_value_a_missing_row_or_a_renamed_column_is_named():
    changed = spark_like()
    changed.loc[0, "rate"] = 0.5000001
    assert differences(comparable(duckdb_like()), comparable(changed)) == ["rate: 1 values differ"]
    shorter = spark_like().iloc[:2]
    assert differences(comparable(duckdb_like()), comparable(shorter)) == ["3 rows against 2"]
    renamed = spark_like().rename(columns={"count": "n"})
    assert differences(comparable(duckdb_like()), comparable(renamed))[0].startswith("columns")


def test_the_same_values_with_other_column_types_are_not_the_same_table():
    import duckdb

    from openphm.engine.compare import zone_tables

    con = duckdb.connect()
    con.execute("ATTACH ':memory:' AS a")
    con.execute("ATTACH ':memory:' AS b")
    con.execute("CREATE TABLE a.runs AS SELECT TIMESTAMP '2026-11-23 10:00:00' AS built_at")
    con.execute("CREATE TABLE b.runs AS SELECT TIMESTAMP_NS '2026-11-23 10:00:00' AS built_at")
    ours, theirs = zone_tables(con, ["runs"], "a"), zone_tables(con, ["runs"], "b")
    assert differences(ours["runs"], theirs["runs"])[0].startswith("column types")
    assert differences(ours["runs"], zone_tables(con, ["runs"], "a")["runs"]) == []
