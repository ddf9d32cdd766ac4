"""DuckDB: connections, encrypted zone files, the Ibis backend over them, and the DuckDB
engine object (`DuckDB`), which builds in the zone file itself.

DuckDB 1.4 writes AES-GCM encrypted database files (data, WAL and temporary files) when a
database is attached with ENCRYPTION_KEY, but only with its httpfs extension loaded (it supplies
the OpenSSL cipher). We load that extension from the `duckdb-ext-httpfs` wheel on disk, so this
works offline. See docs/dependencies.md.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb

from openphm.engine.base import Building, Engine, EngineError

_ALIAS = re.compile(r"^[a-z_][a-z0-9_]*$")
LINKED_FILE = "linked.duckdb"  # zone 3's file of record, in the workspace's linked/


@functools.cache
def _httpfs_extension() -> Path:
    import duckdb_ext  # the namespace the duckdb-ext-httpfs wheel installs

    root = Path(next(iter(duckdb_ext.__path__))) / "extensions" / f"v{duckdb.__version__}"
    found = sorted(root.glob("*/httpfs.duckdb_extension"))
    if not found:
        raise EngineError(
            f"the DuckDB httpfs extension for duckdb {duckdb.__version__} is not installed "
            "(package duckdb-ext-httpfs); encrypted zones cannot be opened without it"
        )
    return found[0]


def connect(
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: Path | None = None,
):
    """A DuckDB connection able to read and write encrypted zone files.

    Work that does not fit in memory spills to temporary files; those are encrypted (DuckDB
    encrypts them once an encrypted database is attached, with `temp_file_encryption`) and
    written under `temp_directory`, which callers holding patient data point inside the zone
    rather than the current folder."""
    con = duckdb.connect(config={"autoinstall_known_extensions": False})
    con.execute(f"LOAD '{_httpfs_extension()}'")
    con.execute("SET temp_file_encryption = true")
    if temp_directory is not None:
        con.execute("SET temp_directory = ?", [str(temp_directory)])
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute("SET memory_limit = ?", [memory_limit])
    return con


def memory_only():
    """An in-memory DuckDB connection that may not spill (no temporary folder), for
    identifiable pairs, which must never reach a disk unencrypted: it fails out of memory
    instead (tracing's u, and its models' training when it scores on Spark)."""
    return duckdb.connect(":memory:", config={"temp_directory": ""})


def attach_encrypted(con, path: Path, alias: str, key: bytes, *, read_only: bool = False) -> None:
    """Attach the zone file at `path` as `alias`, encrypted with `key` (created if absent)."""
    if not _ALIAS.match(alias):
        raise EngineError(f"{alias!r} is not a valid schema alias")
    mode = ", READ_ONLY" if read_only else ""
    # The key travels in the statement text: DuckDB does not log statements, and neither do
    # we. Never print or log this statement.
    statement = f"ATTACH '{_quote(path)}' AS {alias} (ENCRYPTION_KEY '{key.hex()}'{mode})"
    try:
        con.execute(statement)
    except duckdb.Error as err:
        # The message from DuckDB can echo the statement; replace it with one that cannot.
        raise EngineError(_describe_attach_failure(path, err)) from None


def _describe_attach_failure(path: Path, err: Exception) -> str:
    text = str(err).lower()
    if "encryption" in text and "key" in text:
        return f"{path} cannot be opened with the key given (wrong or destroyed key)"
    if "not a valid duckdb database" in text or "not a duckdb" in text:
        return f"{path} is not a DuckDB zone file"
    return f"{path} could not be opened ({type(err).__name__})"


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")


def ibis_backend(con):
    """An Ibis backend over an existing connection, so relational code runs through Ibis."""
    import ibis

    return ibis.duckdb.from_connection(con)


def connect_linked(ws, *, read_only: bool = False, alias: str = "linked"):
    """A connection with workspace `ws`'s zone 3 file attached as `alias` (normally `linked`;
    a stage that builds a scratch `linked` catalogue of its own attaches it under another
    name), opened with the linked data key from the workspace's key store."""
    from openphm.keystore import KeyName

    ws.require_open()
    folder = ws.zone("linked")
    key = ws.keystore.get(KeyName.LINKED_DATA)
    # Capped so that a 1M-person link or analysis stays well inside a 6 GB budget: what does
    # not fit spills to encrypted temporary files in the zone.
    con = connect(temp_directory=folder / ".spill", memory_limit="4GB")
    try:
        attach_encrypted(con, folder / LINKED_FILE, alias, key, read_only=read_only)
    except BaseException:
        con.close()
        raise
    return con


# One DuckDB instance per process for short reads of zone 3 (the web service's page views),
# with the httpfs extension loaded once: a fresh connection spends about 0.1 s loading it, more
# than reading a built table takes. Zone 3 is attached for each read and detached after it,
# under a lock, so the file is held only while a page reads it and `phm analyse` can still
# write it between views.
_READER: list = []
_READER_LOCK = threading.Lock()
_READING = threading.local()  # whether this thread is inside `reading_linked`


@contextlib.contextmanager
def reading_linked(ws) -> Iterator[object]:
    """A cursor with workspace `ws`'s zone 3 attached read-only as `linked`, for one short read
    (one at a time in the process: the attachment is the instance's); detached afterwards."""
    from openphm.keystore import KeyName

    ws.require_open()
    if getattr(_READING, "now", False):  # the lock is not re-entrant: say so, never hang
        raise EngineError("zone 3 is already being read in this thread; read it once")
    folder = ws.zone("linked")
    key = ws.keystore.get(KeyName.LINKED_DATA)
    with _READER_LOCK:
        if not _READER:
            _READER.append(connect(memory_limit="1GB"))
        cursor = _READER[0].cursor()
        _READING.now = True
        try:
            # Anything that spills goes, encrypted, into this zone's own spill folder; DuckDB
            # keeps the first folder once something has spilled there (still encrypted).
            with contextlib.suppress(duckdb.Error):
                cursor.execute("SET temp_directory = ?", [str(folder / ".spill")])
            attach_encrypted(cursor, folder / LINKED_FILE, "linked", key, read_only=True)
            try:
                yield cursor
            finally:
                cursor.execute("DETACH linked")
        finally:
            cursor.close()
            _READING.now = False


def scratch_catalogue(con, source: str, tables) -> None:
    """(Re)create an in-memory catalogue `linked` in `con` whose tables `tables` are views of
    `source`'s (the zone attached under another name): a build into `linked` then writes to
    memory (and the zone's encrypted spill), never to the zone file."""
    if source == "linked":
        raise EngineError("a scratch catalogue needs the zone attached under another name")
    attached = {
        row[0] for row in con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    }
    if "linked" in attached:
        con.execute("DETACH linked")
    con.execute("ATTACH ':memory:' AS linked")
    for table in tables:
        con.execute(f"CREATE VIEW linked.main.{table} AS SELECT * FROM {source}.main.{table}")


class DuckDB(Engine):
    """One machine, no server: zone 3 is read and built in place, in its encrypted file, and
    Splink works in a DuckDB connection (the caller's, so that its spill is the caller's)."""

    name = "duckdb"
    splink_dialect = "duckdb"

    @contextlib.contextmanager
    def reading(self, ws) -> Iterator[object]:
        con = connect_linked(ws, read_only=True)
        try:
            yield con
        finally:
            con.close()

    @contextlib.contextmanager
    def alongside(self, ws, *, taken=None) -> Iterator[None]:
        yield None  # read in place, through the caller's own connection

    @contextlib.contextmanager
    def building(self, ws, tables, check=None, *, taken=None, record=None,
                 say=lambda text: None) -> Iterator[Building]:  # fmt: skip
        con = connect_linked(ws)
        try:
            if record is not None:
                con.execute(f'DROP TABLE IF EXISTS linked.main."{record}"')
            yield Building(con, None if taken is None else lambda: taken(con))
        finally:
            con.close()

    @contextlib.contextmanager
    def scratch(self, zone, tables, *, source: str = "linked") -> Iterator[object]:
        # The catalogue stays attached until the next scratch over `zone` replaces it, or the
        # connection closes: it holds no row of its own until a build writes one.
        scratch_catalogue(zone, source, tables)
        yield zone

    @contextlib.contextmanager
    def tracing(self, folder=None, connection=None, *,
                shuffle_partitions: int | None = None) -> Iterator[object]:  # fmt: skip
        """In a cursor of `connection` (its spill folder, encrypted, is then Splink's), or a
        fresh in-memory database (None: Splink makes one, which spills to the current
        folder). Splink's tables (predictions, term frequencies of names and postcodes) are
        dropped from the connection as soon as the `with` ends."""
        if connection is None:
            yield None
            return
        with connection.cursor() as cursor:
            try:
                yield cursor
            finally:
                for (name,) in cursor.execute(
                    "SELECT table_name FROM duckdb_tables() "
                    "WHERE database_name = 'memory' AND table_name LIKE '__splink__%'"
                ).fetchall():
                    cursor.execute(f'DROP TABLE IF EXISTS memory.main."{name}"')

    def splink(self, connection):
        from splink import DuckDBAPI

        return DuckDBAPI(connection if connection is not None else ":memory:")
