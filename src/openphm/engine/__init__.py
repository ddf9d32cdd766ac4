"""The engine: the one place that knows which database runs OpenPHM's relational work.

DuckDB is the embedded default (one machine, no server); Spark runs the same Ibis code for a
region or a nation. A stage asks `engine_for(programme or name)` for the engine object
(`engine.base.Engine`: `engine.duckdb.DuckDB` or `engine.spark.Spark`, one per engine, as Splink
keeps one database API per backend) and uses it the same way whichever it is: zone 3 opened
for reading or for building (`with engine.building(ws, TABLES, check) as zone:`), scratch
space, the place Splink works and Splink's own backend. No module outside this package names an
engine (tests/foundation/test_architecture.py).

Underneath: `engine.duckdb` (connections, encrypted zone files), `engine.zones` (a zone's files
opened on an engine by name), `engine.parquet` (encrypted Parquet, the form of a zone Spark
reads) and `engine.spark` (sessions and keys). A feature one engine lacks raises
`EngineUnsupported` naming it. The linked data key is fetched from the workspace's key store
here, when a stage opens zone 3; zone 1's batch keys are passed in by landing; the linkage key
never comes here. `engine.spark` and `engine.parquet` are imported on use (pyspark, pyarrow and
the JVM are heavy), not here.
"""

from openphm.engine.base import (
    DEFAULT,
    ENGINES,
    Building,
    Engine,
    EngineError,
    check_engine,
    engine_for,
    engine_of,
)
from openphm.engine.duckdb import (
    attach_encrypted,
    connect,
    connect_linked,
    ibis_backend,
    memory_only,
    reading_linked,
)
from openphm.engine.zones import (
    EngineUnsupported,
    OpenZone,
    discard_parquet,
    export_linked,
    import_linked,
    open_linked,
)

__all__ = [
    "DEFAULT",
    "ENGINES",
    "Building",
    "Engine",
    "EngineError",
    "EngineUnsupported",
    "OpenZone",
    "attach_encrypted",
    "check_engine",
    "connect",
    "connect_linked",
    "discard_parquet",
    "engine_for",
    "engine_of",
    "export_linked",
    "ibis_backend",
    "import_linked",
    "memory_only",
    "open_linked",
    "reading_linked",
]
