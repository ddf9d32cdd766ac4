"""Read-only, sandboxed access to the linked zone for analysts (`phm tables`, `phm sql`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from openphm.console import UserFacingError

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace


class QueryError(UserFacingError):
    """A query the linked zone cannot answer as written."""


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: list[str]


def sandboxed(ws: Workspace):
    """A connection that sees the linked zone read-only and nothing else: external access is
    switched off and the configuration locked, so a query cannot read a landing file, write a
    CSV outside a release, or attach another database."""
    con = ws.connect_linked(read_only=True)
    con.execute("USE linked")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def tables(ws: Workspace) -> list[TableInfo]:
    con = sandboxed(ws)
    found = con.execute(
        "SELECT table_name, estimated_size FROM duckdb_tables() "
        "WHERE database_name = 'linked' ORDER BY table_name"
    ).fetchall()
    result = []
    for name, _ in found:
        rows = con.execute(f'SELECT count(*) FROM linked."{name}"').fetchone()[0]
        columns = [c[0] for c in con.execute(f'DESCRIBE linked."{name}"').fetchall()]
        result.append(TableInfo(name, rows, columns))
    con.close()
    return result


def run_sql(ws: Workspace, sql: str):
    """Run one analyst query; returns a pandas DataFrame."""
    con = sandboxed(ws)
    try:
        return con.execute(sql).df()
    except duckdb.PermissionException:
        raise QueryError(
            "queries may read only the linked zone; files and other databases are out of reach"
        ) from None
    except duckdb.Error as err:
        # DuckDB's message can quote a value (a failed cast): shown only to the analyst who
        # ran the query and can read the zone anyway; never logged or audited.
        raise QueryError(f"the query failed: {str(err).splitlines()[0]}") from None
    finally:
        con.close()
