"""DuckDB: connections, encrypted zone files, and the Ibis backend over them.

DuckDB 1.4 writes AES-GCM encrypted database files (data, WAL and temporary files) when a
database is attached with ENCRYPTION_KEY, but only with its httpfs extension loaded (it supplies
the OpenSSL cipher). We load that extension from the `duckdb-ext-httpfs` wheel on disk, so this
works offline. See docs/dependencies.md.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import duckdb

from openphm.errors import UserFacingError

_ALIAS = re.compile(r"^[a-z_][a-z0-9_]*$")


class EngineError(UserFacingError):
    """The engine cannot open or use a zone."""


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
