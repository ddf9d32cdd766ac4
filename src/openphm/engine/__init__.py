"""The engine: the one place that knows which database runs OpenPHM's relational work.

DuckDB is the embedded default (one machine, no server); Spark runs the same Ibis code for a
region or a nation. One module per engine, as Splink keeps one dialect per backend
(`engine.duckdb`, `engine.spark`), with what cannot be portable behind `engine.zones` (a zone
opened on either engine) and `engine.parquet` (encrypted Parquet, the form of a zone Spark
reads). A feature one engine lacks raises `EngineUnsupported` naming it. Opening an encrypted
zone needs its data key, which the caller passes in from the key store; this package never
fetches keys itself. `engine.spark` and `engine.parquet` are imported on use (pyspark and the
JVM are heavy), not here.
"""

from openphm.engine.duckdb import (
    EngineError,
    attach_encrypted,
    connect,
    ibis_backend,
)
from openphm.engine.zones import (
    ENGINES,
    EngineUnsupported,
    OpenZone,
    check_engine,
    discard_parquet,
    export_linked,
    import_linked,
    open_linked,
)

__all__ = [
    "ENGINES",
    "EngineError",
    "EngineUnsupported",
    "OpenZone",
    "attach_encrypted",
    "check_engine",
    "connect",
    "discard_parquet",
    "export_linked",
    "ibis_backend",
    "import_linked",
    "open_linked",
]
