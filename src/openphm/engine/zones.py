"""A zone opened on the engine the programme chose: one implementation per engine.

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

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from openphm.engine.duckdb import EngineError, attach_encrypted, connect, ibis_backend

ENGINES = ("duckdb", "spark")
LINKED_DB = "linked.duckdb"
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


def check_engine(kind: str) -> str:
    if kind not in ENGINES:
        raise EngineError(f"{kind!r} is not an engine; choose one of {', '.join(ENGINES)}")
    return kind


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
