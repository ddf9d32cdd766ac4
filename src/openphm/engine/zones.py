"""A zone's files opened on one engine, by name: what the engine objects (`engine.duckdb.DuckDB`,
`engine.spark.Spark`) are made of, and what tests use to open a zone without a workspace.

- where the linked zone is: DuckDB, `linked/linked.duckdb`, one encrypted database file;
  Spark, `linked/parquet/<table>/`, encrypted Parquet;
- how the key reaches it: DuckDB, ATTACH … ENCRYPTION_KEY; Spark, KeyStoreKms fed from the
  session's Hadoop configuration;
- read-only: DuckDB, a READ_ONLY attach; Spark, no write key, so every Parquet write fails;
- scratch tables: DuckDB, temporary tables; Spark, cached temporary views.

Both hand back an Ibis backend in which the zone is the database `linked`, so analytics code is
the same on both. Copying the zone from DuckDB's file to Parquet (`export_linked`) is how a
zone built by the DuckDB-only stages (landing, linkage) reaches Spark today.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from openphm.engine.base import EngineError, check_engine
from openphm.engine.duckdb import LINKED_FILE, attach_encrypted, connect, ibis_backend

LINKED_DB = LINKED_FILE
PARQUET = "parquet"
SPARK_WORK = ".spark"


class EngineUnsupported(EngineError):
    """A feature one engine lacks; the message names the engine and the feature."""

    def __init__(self, engine: str, feature: str, instead: str = ""):
        super().__init__(
            f"{feature} is not available on the {engine} engine"
            + (f"; {instead}" if instead else "")
        )
        self.engine = engine


@dataclass
class OpenZone:
    """A zone open on one engine: `backend` for Ibis, `close()` when done."""

    engine: str
    backend: object
    close: Callable[[], None]
    session: object = None  # the SparkSession or DuckDB connection, for engine-specific work

    def __enter__(self) -> OpenZone:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def open_linked(kind: str, folder: Path, key_name: str, key: bytes, *, read_only: bool = False,
                spark_master: str | None = None, spark_session=None) -> OpenZone:  # fmt: skip
    """Open the linked zone in `folder` (the workspace's linked/) on engine `kind` with its
    data key from the key store."""
    folder = Path(folder)
    if check_engine(kind) == "duckdb":
        if spark_master or spark_session is not None:
            raise EngineUnsupported("duckdb", "a Spark master or session", "choose kind = spark")
        con = connect(temp_directory=folder / ".spill")
        attach_encrypted(con, folder / LINKED_DB, "linked", key, read_only=read_only)
        return OpenZone("duckdb", ibis_backend(con), con.close, con)
    from openphm.engine import spark

    if not (folder / PARQUET).is_dir():
        raise EngineError(
            f"{folder} has no Parquet copy of the zone for Spark; export it first "
            "(openphm.engine.zones.export_linked)"
        )
    session = spark.session(folder / SPARK_WORK, master=spark_master, existing=spark_session)
    spark.use_keys(session, {key_name: key}, write_key=None if read_only else key_name)
    spark.attach_zone(session, folder / PARQUET)
    backend = spark.ZoneBackend(spark.ibis_backend(session), folder / PARQUET)

    def close() -> None:
        backend.release()
        spark.detach_zone(session)
        spark.forget_keys(session, [key_name])

    return OpenZone("spark", backend, close, session)


def export_linked(folder: Path, key_name: str, key: bytes) -> dict[str, int]:
    """Copy the linked zone's tables from its DuckDB file to encrypted Parquet under the same
    data key (folder/parquet/<table>/), for Spark. Table name → rows."""
    from openphm.engine.parquet import export_duckdb_zone

    folder = Path(folder)
    con = connect(temp_directory=folder / ".spill")
    try:
        attach_encrypted(con, folder / LINKED_DB, "linked", key, read_only=True)
        return export_duckdb_zone(con, "linked", folder / PARQUET, {key_name: key}, key_name)
    finally:
        con.close()


def import_linked(
    folder: Path,
    key_name: str,
    key: bytes,
    tables: Iterable[str],
    before_commit: Callable[[object], None] | None = None,
) -> dict[str, int]:
    """Copy `tables`, as an engine wrote them into the zone's Parquet copy, into the zone's
    DuckDB file (replacing what was there): the way results computed on Spark reach the stages
    that read the DuckDB file (risk, cohorts, releases, the web service). `before_commit(con)`
    runs in the same transaction, after the copy (the caller's objections hook: the copy was
    taken before, and an objection applied to the file since must not be undone by it).
    Table name → rows."""
    from openphm.engine.parquet import read_table

    folder = Path(folder)
    con = connect(temp_directory=folder / ".spill")
    rows: dict[str, int] = {}
    try:
        attach_encrypted(con, folder / LINKED_DB, "linked", key)
        con.execute("BEGIN")
        for name in tables:
            arrow = _microseconds(read_table(folder / PARQUET / name, {key_name: key}))
            con.register("imported", arrow)
            quoted = name.replace('"', '""')
            con.execute(f'CREATE OR REPLACE TABLE linked."{quoted}" AS SELECT * FROM imported')
            con.unregister("imported")
            rows[name] = arrow.num_rows
        if before_commit is not None:
            before_commit(con)
        con.execute("COMMIT")
    finally:
        con.close()
    return rows


def _microseconds(table):
    """Spark's Parquet timestamps arrive in nanoseconds; DuckDB's own tables hold TIMESTAMP
    (microseconds), and the copy must have the same types as a DuckDB build."""
    import pyarrow as pa

    schema = pa.schema(
        field.with_type(pa.timestamp("us", field.type.tz))
        if pa.types.is_timestamp(field.type) and field.type.unit == "ns"
        else field
        for field in table.schema
    )
    return table.cast(schema)


def discard_parquet(folder: Path) -> None:
    """Delete the zone's Parquet copy. It is a working copy: the DuckDB file stays the zone of
    record, and a copy left behind would keep rows a later objection removes from the file.
    Raises EngineError if it cannot be deleted, so the caller cannot miss it."""
    copy = Path(folder) / PARQUET
    shutil.rmtree(copy, ignore_errors=True)
    if copy.exists():
        raise EngineError(
            f"the Parquet copy of the linked zone at {copy} could not be deleted: delete it "
            "by hand (it is encrypted, and `phm close` destroys its key with the zone's)"
        )
