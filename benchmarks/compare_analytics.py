"""Every analytics table of two workspaces' zone 3 compared row for row: for checking that a
change to the analytics code leaves what `phm analyse` writes as it was (docs/benchmarks.md).

    python benchmarks/compare_analytics.py WORKSPACE_A WORKSPACE_B

Both are copies of one workspace (the same keys), each analysed by one version of the code.
Per table (`analytics.build.TABLES`): the row counts; then, rows sorted by every column, each
non-float column value for value (timestamps of the build left out) and each float column
bit for bit, or, where not, how many differ and the largest relative difference. Prints
counts and differences only, never a value.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from openphm.analytics.build import TABLES
from openphm.engine.duckdb import LINKED_FILE, attach_encrypted
from openphm.keystore import KeyName
from openphm.programme.workspace import Workspace

SKIP = {"built_at", "recorded_at"}  # when each build ran


def compare(a: Path, b: Path) -> float:
    """Print each table's comparison; the largest relative difference of any float."""
    con = Workspace.open(a).connect_linked(read_only=True)
    other = Workspace.open(b)
    key = other.keystore.get(KeyName.LINKED_DATA)
    attach_encrypted(con, other.zone("linked") / LINKED_FILE, "other", key, read_only=True)
    worst = 0.0
    for table in TABLES:
        types = dict(r[:2] for r in con.execute(f"DESCRIBE linked.main.{table}").fetchall())
        types_b = dict(r[:2] for r in con.execute(f"DESCRIBE other.main.{table}").fetchall())
        if types != types_b:
            print(f"{table:28} COLUMNS DIFFER")
            continue
        keep = [c for c in types if c not in SKIP]
        floats = [c for c in keep if types[c] in ("DOUBLE", "FLOAT")]
        columns = ", ".join(f'"{c}"' for c in [*(c for c in keep if c not in floats), *floats])
        x, y = (
            con.execute(f"SELECT {columns} FROM {db}.main.{table} ORDER BY {columns}").fetchnumpy()
            for db in ("linked", "other")
        )
        rows, rows_b = len(x[keep[0]]), len(y[keep[0]])
        found = [f"rows {rows} against {rows_b}"] if rows != rows_b else []
        for c in keep if rows == rows_b else ():
            found += _differences(c, x[c], y[c], c in floats)
            if c in floats:
                worst = max(worst, _relative(x[c], y[c]))
        print(f"{table:28} {rows:9} rows  " + ("; ".join(found) or "identical"))
    print(f"largest relative difference of a float: {worst:.2e}")
    return worst


def _differences(column, x, y, is_float) -> list[str]:
    if is_float:
        u, v = (np.ma.filled(np.ma.asarray(a, dtype=float), np.nan) for a in (x, y))
        same = (u == v) | (np.isnan(u) & np.isnan(v))
        if same.all():
            return []
        return [f"{column}: {int((~same).sum())} not bit-equal, within {_relative(x, y):.2e}"]
    xm, ym = np.ma.getmaskarray(x), np.ma.getmaskarray(y)
    bad = (xm != ym) | (~xm & (np.ma.getdata(x) != np.ma.getdata(y)))
    return [f"{column}: {int(bad.sum())} differ"] if bad.any() else []


def _relative(x, y) -> float:
    u, v = (np.ma.filled(np.ma.asarray(a, dtype=float), np.nan) for a in (x, y))
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.abs(u - v) / np.maximum(np.abs(u), np.abs(v))
    d = d[(u != v) & ~(np.isnan(u) & np.isnan(v))]
    return float(np.nanmax(d)) if d.size else 0.0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    compare(Path(sys.argv[1]), Path(sys.argv[2]))
