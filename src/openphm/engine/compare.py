"""Whether two engines built the same table: the differential check behind "the same programme
on DuckDB and on Spark gives the same tables" (tests/spark, benchmarks/spark_programme.py).

Tables are compared as sets of rows: each is normalised (numbers and booleans as float64, dates
as ISO text, everything else as text, missing as None) and sorted by every column, because
neither engine promises row order and their date and integer types differ. Floating-point
values must agree within a relative tolerance (sums in a different order differ in the last
bits); everything else exactly. Only column names are reported, never a value.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

RTOL = 1e-9


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` normalised and sorted as described above."""
    frame = frame.copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype("float64")
        else:
            frame[column] = values.map(_text).astype(object)
    text = [c for c in frame.columns if frame[c].dtype == object]
    return frame.sort_values(text + [c for c in frame.columns if c not in text],
                             ignore_index=True)  # fmt: skip


def differences(ours: pd.DataFrame, theirs: pd.DataFrame, *, rtol: float = RTOL) -> list[str]:
    """What differs between two comparable frames: [] when they are the same table."""
    if list(ours.columns) != list(theirs.columns):
        return [f"columns {list(ours.columns)} against {list(theirs.columns)}"]
    types = ours.attrs.get("types", []), theirs.attrs.get("types", [])
    if types[0] != types[1]:
        return [f"column types {types[0]} against {types[1]}"]
    if len(ours) != len(theirs):
        return [f"{len(ours)} rows against {len(theirs)}"]
    found = []
    for column in ours.columns:
        a, b = ours[column], theirs[column]
        if a.dtype == "float64" and b.dtype == "float64":
            same = np.isclose(a.to_numpy(), b.to_numpy(), rtol=rtol, atol=0, equal_nan=True)
            if not same.all():
                found.append(f"{column}: {int((~same).sum())} values differ")
        elif a.tolist() != b.tolist():
            found.append(f"{column}: {int((a != b).sum())} values differ")
    return found


def zone_tables(con, tables, database: str = "linked") -> dict[str, pd.DataFrame]:
    """Each of `tables` in the DuckDB connection's attached zone, as a comparable frame, with
    its column types as `attrs["types"]` (so that a copy with other types is caught too)."""
    frames = {}
    for name in tables:
        frame = comparable(con.execute(f'SELECT * FROM {database}."{name}"').df())
        frame.attrs["types"] = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND table_name = ? ORDER BY column_index",
            [database, name],
        ).fetchall()
        frames[name] = frame
    return frames


def every_zone_table(con, database: str = "linked", *, randomised=("token",)):
    """Every table of the DuckDB connection's attached zone as a comparable frame. Columns in
    `randomised` (sealed tokens: each sealing uses a fresh ephemeral key, by design) are
    compared only by whether they hold a value."""
    names = [
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ?", [database]
        ).fetchall()
    ]
    frames = {}
    for name in names:
        frame = con.execute(f'SELECT * FROM {database}."{name}"').df()
        for column in set(randomised) & set(frame.columns):
            frame[column] = frame[column].notna()
        frames[name] = comparable(frame)
    return frames  # fmt: skip


def _text(value) -> str | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, dt.date | pd.Timestamp):
        return str(value)[:10]
    return str(value)
