"""Spark: sessions, the linked zone as encrypted Parquet, and the Ibis backend over them.

One computation, two engines: the analytics written with Ibis run here unchanged, over the
same tables that DuckDB holds in its encrypted database file. What cannot be portable lives in
this module and `engine.parquet`, one implementation per engine:

- where a zone's tables are: on DuckDB one encrypted database file (`linked.duckdb`); on Spark
  a folder of Parquet files, one folder per table, encrypted with Parquet modular encryption
  (AES-GCM) under the zone's data key from the key store;
- how keys reach the engine: DuckDB takes the key in ATTACH; Spark's Parquet reader and writer
  get it through `KeyStoreKms` (java/KeyStoreKms.java), a KMS client that serves only the keys
  this module put in the session's Hadoop configuration. Destroying the key in the key store
  (phm close) leaves every file unreadable, as on DuckDB.

A local session by default (`local[2]`, UI off, listening on loopback only, UTC, every file it
writes inside the folder it is given); a cluster's session when a master URL or a session is
passed in. docs/spark.md has the figures and what a national run needs.

`Spark` is the engine object: it works on an encrypted Parquet copy of zone 3 taken for the
stage and deleted after it, brings what a build made back into the zone file, and runs Splink
on a session whose files live in a folder of the caller's.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from openphm.engine.base import Building, Engine, EngineError

ENGINE = "spark"
DATABASE = "linked"
KMS_CLASS = "org.openphm.kms.KeyStoreKms"
KMS_KEY_PREFIX = "openphm.kms.key."
READ_ONLY_KEY = "NO-WRITES"  # upper case: never a key-store name, so writes under it fail
CRYPTO_FACTORY = "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
_JAVA_SOURCE = Path(__file__).with_name("java") / "KeyStoreKms.java"


class SparkUnavailable(EngineError):
    """Spark cannot run here (no Java, no compiler for the KMS class, no pyspark)."""


def session(
    folder: Path,
    *,
    master: str | None = None,
    existing=None,
    driver_memory: str | None = None,
    shuffle_partitions: int | None = None,
    app_name: str = "openphm",
):
    """A Spark session whose every file (warehouse, spill, shuffle, JVM temp) is inside
    `folder`.

    `existing`: a session from a cluster's own launcher (spark-submit, Databricks, Dataproc);
    it is configured for the zone's encryption, not rebuilt. `master`: a cluster URL
    (spark://…, yarn, k8s://…); default local[2] with `driver_memory` (default: a quarter of
    the machine's memory, 2 to 8 GB: in local mode the driver's heap is also the executors',
    and tracing a million people did not fit in 2 GB every time). Shuffle and spill files
    are encrypted with a per-session key (spark.io.encryption.enabled), so no plaintext row
    reaches the disk even in temporary files."""
    folder = Path(folder).absolute()
    if existing is not None:
        # The driver must load the class too (it reads Parquet footers): a cluster's own
        # session names the jar in spark.jars at launch (docs/spark.md); executors get it here.
        if "openphm-kms.jar" not in existing.conf.get("spark.jars", ""):
            existing.sparkContext.addJar(str(kms_jar(folder / "jars")))
        return existing
    jar = kms_jar(folder / "jars")
    _require_java()
    from pyspark.sql import SparkSession

    local = master is None or master.startswith("local")
    scratch = folder / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    java_options = f"-Djava.io.tmpdir={scratch} -Dlog4j2.configurationFile={_log_config(folder)}"
    builder = (
        SparkSession.builder.appName(app_name)
        .master(master or "local[2]")
        # Splink's similarity functions (Jaro-Winkler and others) for tracing on Spark.
        .config("spark.jars", f"{jar},{_splink_jar()}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.local.dir", str(scratch))
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.executor.extraJavaOptions", java_options)
        .config("spark.io.encryption.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.eventLog.enabled", "false")
        # Locally, 16 shuffle partitions (adaptive execution coalesces small ones): with 4, a
        # million people's feature joins ran out of execution memory in a task.
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions or (16 if local else 200)))
        # Cached scratch views (MEMORY_AND_DISK) may be pushed to disk by a task that needs the
        # memory: with half the memory kept for them (the default), the joins of a million
        # people's risk features could not get the memory they needed.
        .config("spark.memory.storageFraction", "0.1")
        .config("spark.sql.adaptive.enabled", "true")
    )
    if local:
        # Python workers (per-person computations, engine.spark.ZoneBackend.per_person) run
        # in this interpreter's environment, whose packages they need, not whichever python3
        # is first on the PATH.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        # The driver binds to loopback (below); said here too, Spark stops warning that the
        # host name resolves there.
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # Nothing listens beyond loopback: the driver's RPC and block manager bind there.
        builder = (
            builder.config("spark.driver.memory", driver_memory or local_memory())
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            # Even on loopback, the driver's RPC (which carries the I/O encryption key and
            # the tasks' Hadoop configuration, data keys included) is authenticated and
            # encrypted; a cluster sets these for itself (docs/spark.md).
            .config("spark.authenticate", "true")
            .config("spark.authenticate.secret", secrets.token_hex(32))
            .config("spark.network.crypto.enabled", "true")
        )
    built = builder.getOrCreate()
    # Spark's warnings (task sizes, plan strings) are noise to a data engineer, and a plan's
    # text can quote literals: errors only.
    built.sparkContext.setLogLevel("ERROR")
    return built


def local_memory() -> str:
    """A local session's heap: a quarter of this machine's memory, at least 2 GB and at most
    8 GB (the JVM takes it as it needs it, so a small job stays small)."""
    import psutil

    quarter = psutil.virtual_memory().total // 4 // 2**30
    return f"{max(2, min(8, quarter))}g"


_LOG_CONFIG = """\
# Errors only, from the JVM's start: Spark's warnings are noise to a data engineer, and a
# plan's text can quote literals (openphm.engine.spark.session).
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.stderr.type = Console
appender.stderr.name = stderr
appender.stderr.target = SYSTEM_ERR
appender.stderr.layout.type = PatternLayout
appender.stderr.layout.pattern = %d{yy/MM/dd HH:mm:ss} %p %c{1}: %m%n
"""


def _log_config(folder: Path) -> Path:
    path = folder / "log4j2.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_LOG_CONFIG)
    return path


def _splink_jar() -> str:
    from splink.internals.spark.jar_location import similarity_jar_location

    return similarity_jar_location()


def _require_java() -> None:
    if shutil.which("java") is None:
        raise SparkUnavailable(
            "the spark engine needs a Java 17 runtime (java on PATH); run `make java` or "
            'choose engine kind = "duckdb" in programme.toml'
        )


def kms_jar(folder: Path) -> Path:
    """The KeyStoreKms class as a jar, compiled from java/KeyStoreKms.java against the
    Parquet jars pyspark ships (once per folder)."""
    jar = folder / "openphm-kms.jar"
    if jar.is_file():
        return jar
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if javac is None or jar_tool is None:
        raise SparkUnavailable(
            "the spark engine compiles its key-store KMS class (engine/java/KeyStoreKms.java) "
            "and needs a Java 17 JDK for that (javac, jar; Debian: openjdk-17-jdk-headless)"
        )
    classpath = ":".join(str(p) for p in _pyspark_jars())
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder) as build:
        compiled = subprocess.run(
            [javac, "--release", "17", "-nowarn", "-cp", classpath, "-d", build,
             str(_JAVA_SOURCE)],
            capture_output=True, text=True,
        )  # fmt: skip
        if compiled.returncode:
            raise SparkUnavailable(f"{_JAVA_SOURCE.name} did not compile:\n{compiled.stderr}")
        staged = Path(build) / jar.name
        subprocess.run([jar_tool, "cf", str(staged), "-C", build, "org"], check=True)
        staged.replace(jar)
    return jar


@functools.cache
def _pyspark_jars() -> tuple[Path, ...]:
    import pyspark

    jars = Path(next(iter(pyspark.__path__))) / "jars"
    wanted = ("parquet-hadoop-", "parquet-column-", "parquet-common-", "hadoop-client-api-")
    return tuple(p for p in sorted(jars.glob("*.jar")) if p.name.startswith(wanted))


# ----- keys ---------------------------------------------------------------------------------


def use_keys(spark, keys: dict[str, bytes], *, write_key: str | None = None) -> None:
    """Give the session's Parquet reader the data keys `keys` (key-store name → bytes), and
    encrypt every Parquet file it writes, footer and all columns, under `write_key` (none:
    the session cannot write Parquet at all).

    The keys go into the Hadoop configuration only (never the SQL configuration, which
    `SET` lists and plans print); tasks carry that configuration to executors, so on a
    cluster turn on spark.network.crypto.enabled (docs/spark.md)."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    conf.set("parquet.crypto.factory.class", CRYPTO_FACTORY)
    conf.set("parquet.encryption.kms.client.class", KMS_CLASS)
    conf.set("parquet.encryption.double.wrapping", "true")
    for name, key in keys.items():
        conf.set(KMS_KEY_PREFIX + name, base64.b64encode(key).decode())
    if write_key is not None and write_key not in keys:
        raise EngineError(f"the write key {write_key!r} is not among the keys given")
    # Without a write key, writes name a key that is never given, so they fail rather than
    # write plaintext: a read-only zone stays read-only, and nothing leaves it unencrypted.
    conf.set("parquet.encryption.uniform.key", write_key or READ_ONLY_KEY)
    _empty_key_caches(spark)


def forget_keys(spark, names: list[str] | None = None) -> None:
    """Take data keys out of the session, and empty parquet-mr's key caches, so that nothing
    it reads or writes afterwards can use them."""
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    iterator = conf.iterator()
    held = []
    while iterator.hasNext():
        entry = iterator.next()
        if entry.getKey().startswith(KMS_KEY_PREFIX):
            held.append(entry.getKey())
    for key in held:
        if names is None or key.removeprefix(KMS_KEY_PREFIX) in names:
            conf.unset(key)
    conf.set("parquet.encryption.uniform.key", READ_ONLY_KEY)
    _empty_key_caches(spark)


def _empty_key_caches(spark) -> None:
    # parquet-mr caches KMS clients (each with the configuration it was made from) and
    # unwrapped keys for ten minutes; emptied, the next read or write sees the keys as now.
    spark._jvm.org.apache.parquet.crypto.keytools.KeyToolkit.removeCacheEntriesForAllTokens()


# ----- the linked zone as Parquet ----------------------------------------------------------


def attach_zone(spark, folder: Path, database: str = DATABASE) -> list[str]:
    """Register every table of the zone in `folder` (one sub-folder of Parquet files per
    table) in Spark database `database`, replacing whatever zone the session had there. Every
    table is external (its files are the zone's, never the catalogue's), so detaching a zone
    deletes no data. The table names."""
    folder = Path(folder).absolute()
    if not folder.is_dir():
        raise EngineError(f"{folder} holds no Parquet zone; export one with engine.parquet")
    detach_zone(spark, database)
    # Not LOCATION folder: Spark's catalogue deletes a database's location when it drops it.
    spark.sql(f"CREATE DATABASE {database}")
    names = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    for name in names:
        spark.sql(
            f"CREATE TABLE {database}.{name} USING parquet LOCATION '{_quote(folder / name)}'"
        )
    return names


def detach_zone(spark, database: str = DATABASE) -> None:
    """Forget the zone registered as `database` (its files stay where they are)."""
    if not spark.catalog.databaseExists(database):
        return
    for table in spark.catalog.listTables(database):
        if table.isTemporary:  # Ibis's in-memory tables, views: no files
            continue
        if table.tableType != "EXTERNAL":
            raise EngineError(
                f"{database}.{table.name} is a managed Spark table: dropping it would delete "
                "data, so the zone was not detached (zone tables are written through ZoneBackend)"
            )
        spark.sql(f"DROP TABLE {database}.{table.name}")
    spark.sql(f"DROP DATABASE {database}")


def _quote(path: Path) -> str:
    return str(path).replace("\\", "\\\\").replace("'", "\\'")


def ibis_backend(spark):
    """An Ibis backend over a Spark session. Ibis sends a frame held in memory (a memtable) to
    Spark row by row, where pandas' missing value in a typed column (pd.NA: a date column with
    no date, such as an empty zone's data end in analytics_runs) is not None, and Spark
    refuses the row; such a frame goes with None in its place (`_without_pandas_na`)."""
    import ibis

    backend = ibis.pyspark.connect(spark)
    register = backend._register_in_memory_table
    backend._register_in_memory_table = lambda op: register(_without_pandas_na(op))
    return backend


def _without_pandas_na(op):
    """The in-memory table `op` with None for pandas' missing values (pd.NA, NaT) in its typed
    (extension) columns; columns with no missing value, and NumPy columns (a float's NaN is a
    value to Spark, as it is to DuckDB), are left as they are."""
    import pandas as pd
    from ibis.formats.pandas import PandasDataFrameProxy

    if not isinstance(op.data, PandasDataFrameProxy):
        return op
    frame = op.data.to_frame()
    typed = [
        name
        for name, column in frame.items()
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and column.isna().any()
    ]
    if not typed:
        return op
    nulls = {
        name: pd.Series([None if _missing(v) else v for v in frame[name].tolist()],
                        index=frame.index, dtype=object)
        for name in typed
    }  # fmt: skip
    frame = frame.assign(**nulls)
    return op.copy(data=PandasDataFrameProxy(frame))


def _missing(value) -> bool:
    import pandas as pd

    return pd.api.types.is_scalar(value) and bool(pd.isna(value))


@dataclass
class ZoneBackend:
    """The Ibis PySpark backend as `openphm.analytics.zone.Zone` expects a zone's backend.

    Zone names the linked zone ("linked", "main"), DuckDB's catalogue and schema; on Spark it
    is database `linked` of the session catalogue. Zone's scratch tables are temporary tables,
    which Ibis's PySpark backend does not create (it raises); here they are temporary views,
    cached (memory, then encrypted disk) so that each is computed once, as on DuckDB. Until
    Zone asks the engine for the zone's database (docs/spark.md, "What blocks portability"),
    this is the one place that translates."""

    backend: object
    folder: Path
    database: str = DATABASE
    _cached: list[str] = field(default_factory=list)
    _views: list[str] = field(default_factory=list)  # uncached views the cached ones read

    def _db(self, database):
        if database is None:
            return None
        parts = (database,) if isinstance(database, str) else tuple(database)
        return self.database if parts[0] in (DATABASE, self.database) else database

    def table(self, name: str, database=None):
        return self.backend.table(name, database=self._db(database))

    def list_tables(self, *, like: str | None = None, database=None):
        return self.backend.list_tables(like=like, database=self._db(database))

    def create_table(self, name: str, obj=None, *, database=None, temp: bool = False,
                     overwrite: bool = False, **kwargs):  # fmt: skip
        if not temp:
            return self._write(name, obj, self._db(database), overwrite)
        session = self.backend._session
        if name in self._cached:
            session.catalog.uncacheTable(name)
        view = self.backend.create_view(name, obj, overwrite=overwrite)
        from pyspark import StorageLevel

        session.catalog.cacheTable(name, StorageLevel.MEMORY_AND_DISK)
        if name not in self._cached:
            self._cached.append(name)
        return view

    def _write(self, name: str, obj, database, overwrite: bool):
        """A zone table written as encrypted Parquet into the zone's folder, registered as an
        external table (Ibis would make a managed one, whose files Spark deletes on drop)."""
        if database != self.database:
            return self.backend.create_table(name, obj, database=database, overwrite=overwrite)
        import ibis

        session = self.backend._session
        staged = f"_openphm_write_{name}"
        self.backend.create_view(staged, obj if isinstance(obj, ibis.Expr) else ibis.memtable(obj),
                                 overwrite=True)  # fmt: skip
        try:
            session.table(staged).write.saveAsTable(
                f"{self.database}.{name}",
                format="parquet",
                mode="overwrite" if overwrite else "errorifexists",
                path=str(Path(self.folder) / name),
            )
        finally:
            session.catalog.dropTempView(staged)
        return self.table(name, database=self.database)

    def per_person(self, name: str, rows, compute, schema):
        """`compute` (pyarrow Table → pyarrow Table of `schema`) run on the executors over
        `rows` (an Ibis expression with a `pseudonym` column), partitioned by pseudonym so that
        each person's rows meet in one task: the counterpart of `Zone.per_person`'s one-machine
        path, for Python computations (pycomorb) that are not SQL. Nothing passes through the
        driver. The result is a cached scratch view, like every other."""
        from pyspark.sql.pandas.types import from_arrow_schema

        session = self.backend._session
        staged = f"{name}_rows"
        self.backend.create_view(staged, rows, overwrite=True)
        computed = f"{name}_computed"
        (
            session.table(staged)
            .repartition("pseudonym")
            .mapInArrow(_each_partition(compute, schema), from_arrow_schema(schema))
            .createOrReplaceTempView(computed)
        )
        self._views += [staged, computed]
        return self.create_table(name, self.backend.table(computed), temp=True, overwrite=True)

    def release(self) -> None:
        """Drop the cached scratch views (they would otherwise live as long as the session)."""
        session = self.backend._session
        for name in self._cached:
            session.catalog.uncacheTable(name)
            session.catalog.dropTempView(name)
        for name in self._views:
            session.catalog.dropTempView(name)
        self._cached.clear()
        self._views.clear()

    def __getattr__(self, name):
        return getattr(self.backend, name)


def _each_partition(compute, schema):
    """The function mapInArrow runs on each partition: all of the partition's rows (every row
    of the people hashed to it) through `compute` at once, since a person's rows may arrive in
    more than one Arrow batch."""

    def run(batches):
        import pyarrow as pa

        batches = list(batches)
        if not sum(b.num_rows for b in batches):
            return
        yield from compute(pa.Table.from_batches(batches)).cast(schema).to_batches()

    return run


@dataclass
class ScratchZone:
    """A zone backend whose writes stay in the session: each table written becomes a cached
    temporary view that shadows the zone's table of that name, and reads fall through to the
    zone otherwise. The risk stage builds analytics at a past reference date this way without
    touching the zone's own tables (DuckDB's counterpart: `engine.duckdb.scratch_catalogue`)."""

    zone: ZoneBackend
    _written: dict[str, str] = field(default_factory=dict)

    def table(self, name: str, database=None):
        if name in self._written:
            return self.zone.backend.table(self._written[name])
        return self.zone.table(name, database=database)

    def list_tables(self, *, like: str | None = None, database=None):
        names = set(self.zone.list_tables(like=like, database=database))
        return sorted(names | {n for n in self._written if like is None or re.search(like, n)})

    def create_table(self, name: str, obj=None, *, database=None, temp: bool = False,
                     overwrite: bool = False, **kwargs):  # fmt: skip
        if temp:
            return self.zone.create_table(name, obj, temp=True, overwrite=overwrite)
        view = f"_scratch_{name}"
        self.zone.create_table(view, obj, temp=True, overwrite=True)
        self._written[name] = view
        return self.table(name)

    def release(self) -> None:
        self.zone.release()
        self._written.clear()

    def __getattr__(self, name):
        return getattr(self.zone, name)


class Spark(Engine):
    """Spark, on the programme's master (None: a local session) or on a session already made
    (`session`: a cluster's launcher's, or a test's), which it configures and leaves running.

    Zone 3 is worked on as an encrypted Parquet copy of the zone file under the same data key,
    made when a stage opens it and deleted when the stage is done, whatever happens: the file
    stays the zone of record, and a copy left behind would keep rows a later objection
    removes from it (`zones.discard_parquet`)."""

    name = "spark"
    splink_dialect = "spark"

    def __init__(self, master: str | None = None, session=None) -> None:
        super().__init__(master)
        self.session = session

    @contextlib.contextmanager
    def _copy(self, ws, *, read_only: bool) -> Iterator[object]:
        from openphm.engine.zones import discard_parquet, export_linked, open_linked
        from openphm.keystore import KeyName

        ws.require_open()
        folder, key = ws.zone("linked"), ws.keystore.get(KeyName.LINKED_DATA)
        try:
            export_linked(folder, KeyName.LINKED_DATA, key)
            opened = open_linked(ENGINE, folder, KeyName.LINKED_DATA, key, read_only=read_only,
                                 spark_master=self.master, spark_session=self.session)  # fmt: skip
            with opened as zone:
                yield zone
        finally:
            discard_parquet(folder)

    @contextlib.contextmanager
    def reading(self, ws) -> Iterator[object]:
        with self._copy(ws, read_only=True) as zone:
            yield zone.backend

    @contextlib.contextmanager
    def alongside(self, ws, *, taken=None) -> Iterator[Building]:
        value = _read_file(ws, taken)
        with self._copy(ws, read_only=True) as zone:
            yield Building(zone.backend, None if taken is None else lambda: value)

    @contextlib.contextmanager
    def building(self, ws, tables, check=None, *, taken=None, record=None,
                 say=lambda text: None) -> Iterator[Building]:  # fmt: skip
        """Built on a copy: `taken` reads the zone file just before the copy is taken, and
        `tables` come back into the file in one transaction, with `check(con, taken)` in it
        after the copy (`zones.import_linked`); nothing comes back from a build that fails.
        `record` needs nothing here: every table comes back at once, or none."""
        from openphm.engine.zones import import_linked
        from openphm.keystore import KeyName

        tables = tuple(tables)
        value = _read_file(ws, taken)
        say("Copying the linked zone to encrypted Parquet for Spark…")
        with self._copy(ws, read_only=False) as zone:
            yield Building(zone.backend, None if taken is None else lambda: value)
            say("Bringing the tables built back into the zone…")
            guard = None if check is None else (lambda con: check(con, value))
            import_linked(ws.zone("linked"), KeyName.LINKED_DATA,
                          ws.keystore.get(KeyName.LINKED_DATA), tables,
                          before_commit=guard)  # fmt: skip

    @contextlib.contextmanager
    def scratch(self, zone, tables, *, source: str = DATABASE) -> Iterator[object]:
        scratch = ScratchZone(zone)
        try:
            yield scratch
        finally:
            scratch.release()

    @contextlib.contextmanager
    def tracing(self, folder=None, connection=None, *,
                shuffle_partitions: int | None = None) -> Iterator[object]:  # fmt: skip
        """A session whose files (encrypted spill and shuffle) live in a folder made inside
        `folder` and deleted after (none: a temporary folder of the system's). A session
        already running in this process (or the engine's own) is used as it is and left
        running; one made here is stopped. `folder` is the caller's alone (`phm link` holds
        the landing zone's lock): folders a killed run left in it are cleared first, their
        spill encrypted under a key that died with that run. `connection` (the caller's DuckDB
        connection) is not used: Splink runs on Spark, not where the records were read."""
        from pyspark.sql import SparkSession

        running = self.session or SparkSession.getActiveSession()
        with contextlib.ExitStack() as stack:
            if folder is None:
                work = stack.enter_context(tempfile.TemporaryDirectory(prefix="openphm-trace-"))
            else:
                folder = Path(folder)
                folder.mkdir(parents=True, exist_ok=True)
                for stale in folder.glob(".spark-trace-*"):
                    shutil.rmtree(stale, ignore_errors=True)
                work = stack.enter_context(
                    tempfile.TemporaryDirectory(dir=folder, prefix=".spark-trace-")
                )
            made = session(Path(work), master=self.master, existing=running,
                           shuffle_partitions=shuffle_partitions)  # fmt: skip
            try:
                yield made
            finally:
                if running is None:
                    made.stop()

    def splink(self, connection):
        """Splink's Spark backend on `connection` (a session from `tracing`, whose shuffle and
        spill files are encrypted and kept in its folder, and which loads Splink's similarity
        functions). Intermediate tables are persisted (memory, then that encrypted spill)
        instead of Splink's default, plain Parquet files, which would put names, dates of birth
        and postcodes on disk unencrypted."""
        if connection is None:
            raise EngineError("tracing on spark needs a Spark session (Spark().tracing)")
        from splink import SparkAPI

        return SparkAPI(spark_session=connection, break_lineage_method="persist")

    def splink_table(self, db, frame):
        """`frame` (an Arrow table, every column text) as a Spark DataFrame of string
        columns, typed (Spark cannot infer a column with no value), crossing to the JVM as
        Arrow (1M rows of ten columns: 4.4 s, against 9.0 s row by row)."""
        import pyarrow as pa
        from pyspark.sql.types import StringType, StructField, StructType

        columns = frame.column_names
        schema = StructType([StructField(c, StringType(), True) for c in columns])
        table = frame.cast(pa.schema([(c, pa.string()) for c in columns]))
        return db.spark.createDataFrame(table, schema=schema)

    def splink_lookup(self, db, table):
        """`table` as pandas, which Splink's Spark API turns into a DataFrame with its types
        (`splink_table` is for text alone)."""
        return table.to_pandas()

    def splink_done(self, db) -> None:
        """Drop the session's views of the inputs and every table Splink made, and every cached
        row: nothing identifiable stays in a session once the pairs are out. Splink persists
        its intermediate frames apart from their views, so only clearing the whole cache
        reaches them; whatever else the session had cached is recomputed when next read."""
        spark = db.spark
        for table in spark.catalog.listTables():
            if table.isTemporary and table.name.startswith(("__splink__", "trace_")):
                spark.catalog.dropTempView(table.name)
        spark.catalog.clearCache()


def _read_file(ws, taken):
    """`taken(con)` on a read-only connection to the zone file (None without one)."""
    if taken is None:
        return None
    from openphm.engine.duckdb import connect_linked

    con = connect_linked(ws, read_only=True)
    try:
        return taken(con)
    finally:
        con.close()
