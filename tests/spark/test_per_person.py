"""Per-person Python computations on Spark (`ZoneBackend.per_person`, which hospital scores
use): each person's rows meet in one call, however Spark batches them, and the work runs in
the executors' Python workers, not in the driver, so a nation's rows never pass through it."""

from __future__ import annotations

import os

import ibis
import pyarrow as pa
import pyarrow.compute as pc

from openphm.analytics.zone import Zone
from openphm.engine.spark import ZoneBackend, ibis_backend

SCHEMA = pa.schema([("pseudonym", pa.string()), ("rows", pa.int64()), ("pid", pa.int64())])


def counter():
    """A computation: how many rows each person has in this call, and which process counted
    them. Made inside a function so that Spark's workers receive it by value (this test
    module is not importable there; the product's computations are, from the package)."""

    def rows_and_where(rows: pa.Table) -> pa.Table:
        counted = rows.group_by("pseudonym").aggregate([("code", "count")])
        pid = pa.array([os.getpid()] * counted.num_rows, pa.int64())
        return pa.table(
            {"pseudonym": counted["pseudonym"], "rows": counted["code_count"], "pid": pid}
        )

    return rows_and_where


def per_person(result: pa.Table) -> dict[str, int]:
    """Rows counted per person; a person counted in two calls would appear twice and fail."""
    names, counts = result["pseudonym"].to_pylist(), result["rows"].to_pylist()
    assert len(set(names)) == len(names)
    return dict(zip(names, counts, strict=True))


def test_each_persons_rows_meet_in_one_call_on_the_executors(spark_session, tmp_path):
    people = {f"p{n:03d}": 1 + n % 7 for n in range(60)}
    rows = ibis.memtable(
        {
            "pseudonym": [p for p, n in people.items() for _ in range(n)],
            "code": [f"c{i}" for n in people.values() for i in range(n)],
        }
    )
    # Small Arrow batches, so most people's rows reach the worker in more than one batch.
    spark_session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "3")
    backend = ZoneBackend(ibis_backend(spark_session), tmp_path)
    try:
        result = Zone(backend).per_person("counts", rows, counter(), SCHEMA).to_pyarrow()
    finally:
        backend.release()
        spark_session.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    assert per_person(result) == people
    assert os.getpid() not in set(pc.unique(result["pid"]).to_pylist())
    # Its views are gone with the build's other scratch tables.
    assert not [t for t in spark_session.catalog.listTables() if "counts" in t.name]


def test_on_one_machine_the_same_computation_gives_the_same_result(tmp_path):
    import duckdb

    con = ibis.duckdb.from_connection(duckdb.connect())
    rows = ibis.memtable({"pseudonym": ["a", "a", "b"], "code": ["x", "y", "x"]})
    result = Zone(con).per_person("counts", rows, counter(), SCHEMA).to_pyarrow()
    assert per_person(result) == {"a": 2, "b": 1}
