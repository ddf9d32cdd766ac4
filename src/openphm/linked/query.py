"""Read-only, sandboxed access to the linked zone for analysts (`phm tables`, `phm sql`).

Two walls. Before the zone is opened, DuckDB's own parser must find one read: a SELECT (which
in DuckDB also covers WITH, VALUES, FROM-first queries, DESCRIBE, SHOW and SUMMARIZE) whose
table functions are only the few that make rows from their arguments. Everything else is
refused by its kind, not by a list of known dangers: a CALL, a PRAGMA, a SET, a COPY, an ATTACH,
or a SELECT over a table function such as `enable_logging` or `read_csv`. The second wall is the
sandboxed connection itself (read-only, no external access, configuration locked).

The first wall is what keeps the process alive. In DuckDB 1.4.4, `CALL enable_logging(storage =
'file', …)` (or `SELECT * FROM enable_logging(…)`) is accepted even with the configuration
locked. The next statement on that connection is logged: the file log tries to create its
folder, which the disabled external access forbids, and when the connection closes the log's
flush throws that exception again where nothing can catch it, so the C++ runtime calls
std::terminate and the whole process aborts (SIGABRT). Before this wall, one string holding
`CALL enable_logging(storage = 'file', …); SELECT 1` was enough.

Every query is audited with its text and the rows it returned, refusals and failures included.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pandas as pd
import pyarrow as pa

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

# What DuckDB's parser calls a read. DESCRIBE, SHOW, SUMMARIZE, VALUES and WITH parse as SELECT.
READ_STATEMENTS = frozenset({duckdb.StatementType.SELECT})
# Table functions that only make rows from their arguments: no file, setting or other statement.
ROW_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
ROWS_PER_BATCH = 2048
# How many of a result's rows an analyst is shown (`phm sql --rows`, the query page, /api/sql):
# by default, and at most. The rest stays in the zone (a draft takes the whole result).
SHOWN_ROWS = 50
MOST_SHOWN_ROWS = 500


class QueryError(UserFacingError):
    """A query the linked zone cannot answer as written. `audited` is what the audit log may
    say of it: never DuckDB's message, which can quote a value (a failed cast)."""

    def __init__(self, message: str, *, audited: str) -> None:
        super().__init__(message)
        self.audited = audited


class QueryRefused(QueryError):
    """A query the sandbox will not run at all."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"query refused: {reason}", audited=reason)


@dataclass(frozen=True)
class TableInfo:
    name: str
    rows: int
    columns: list[str]


@dataclass(frozen=True)
class QueryResult:
    frame: pd.DataFrame  # the rows kept (all, or the first `keep`)
    rows: int  # every row the query returned


def sandboxed(ws: Workspace):
    """A connection that sees the linked zone read-only and nothing else: external access is
    switched off and the configuration locked, so a query cannot read a landing file, write a
    CSV outside a release, or attach another database."""
    con = ws.connect_linked(read_only=True)
    con.execute("USE linked")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def list_tables(ws: Workspace, actor: Actor) -> list[TableInfo]:
    """`phm tables` as a stage: the linked zone's tables, and the audit entry (linked.tables,
    how many). The caller authorises (linked.tables)."""
    found = tables(ws)
    ws.audit.record(actor, "linked.tables", counts={"tables": len(found)})
    return found


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


def run_sql(ws: Workspace, actor: Actor, sql: str, *, keep: int | None = None) -> QueryResult:
    """Run one analyst query on the linked zone, keeping all its rows or the first `keep`, and
    audit it: its text, and the rows returned or why it was refused or failed."""
    ws.authorise(actor, "linked.query", query=sql)
    try:
        check_read_only(sql)
        result = _run(ws, sql, keep)
    except QueryError as err:
        outcome = "refused" if isinstance(err, QueryRefused) else "failed"
        _audit(ws, actor, sql, outcome=outcome, reason=err.audited)
        raise
    _audit(ws, actor, sql, rows=result.rows)
    return result


def check_read_only(sql: str) -> None:
    """Refuse anything but one read of the zone, using DuckDB's own parser on a scratch
    in-memory database: nothing is run and the zone is not opened."""
    scratch = duckdb.connect()
    try:
        statements = scratch.extract_statements(sql)
        if not statements:
            raise QueryRefused("the query is empty")
        if len(statements) > 1:
            raise QueryRefused(
                f"one statement at a time, not {len(statements)} (a PIVOT counts as two "
                "unless its values are listed: ON column IN (…))"
            )
        kind = statements[0].type
        if kind not in READ_STATEMENTS:
            raise QueryRefused(
                f"{kind.name} statements are not reads; queries may only read the linked zone "
                "(SELECT, WITH, VALUES, DESCRIBE, SHOW, SUMMARIZE)"
            )
        tree = json.loads(scratch.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0])
    except duckdb.ParserException as err:
        raise QueryError(
            f"the query could not be read: {str(err).splitlines()[0]}",
            audited="DuckDB could not parse it",
        ) from None
    finally:
        scratch.close()
    if tree.get("error"):
        # A PRAGMA parses as a SELECT but is run as a call: the serialiser says it is not one.
        raise QueryRefused(f"not a plain read ({tree.get('error_message', 'unknown')})")
    unknown = sorted(set(_table_functions(tree)) - ROW_FUNCTIONS)
    if unknown:
        raise QueryRefused(
            f"table function {', '.join(unknown)} is not allowed: queries read the linked "
            f"zone's tables, and rows made by {', '.join(sorted(ROW_FUNCTIONS))} only"
        )


def _table_functions(node: object) -> Iterator[str]:
    """The name of every table function anywhere in a parsed statement: in FROM, joins,
    subqueries, common table expressions, set operations, lateral joins."""
    if isinstance(node, dict):
        if node.get("type") == "TABLE_FUNCTION":
            yield str(node["function"]["function_name"]).lower()
        for value in node.values():
            yield from _table_functions(value)
    elif isinstance(node, list):
        for value in node:
            yield from _table_functions(value)


def _run(ws: Workspace, sql: str, keep: int | None) -> QueryResult:
    con = sandboxed(ws)
    try:
        return _fetch(con.execute(sql), keep)
    except duckdb.PermissionException:
        # e.g. FROM '/etc/passwd': a file read through a replacement scan, which the parser
        # sees as a table name; the sandbox stops it.
        raise QueryRefused(
            "queries may read only the linked zone; files and other databases are out of reach"
        ) from None
    except duckdb.Error as err:
        # Shown only to the analyst who ran the query and can read the zone anyway.
        raise QueryError(
            f"the query failed: {str(err).splitlines()[0]}",
            audited=f"DuckDB {type(err).__name__}",
        ) from None
    finally:
        con.close()


def _fetch(cursor, keep: int | None) -> QueryResult:
    """All rows, or the first `keep` while counting the rest batch by batch, so that showing
    50 rows of a million-row answer never holds the million in memory."""
    if keep is None:
        frame = cursor.df()
        return QueryResult(frame, len(frame))
    reader = cursor.fetch_record_batch(ROWS_PER_BATCH)
    kept: list[pa.RecordBatch] = []
    rows = 0
    for batch in reader:
        if rows < keep:
            kept.append(batch.slice(0, keep - rows))
        rows += batch.num_rows
    frame = pa.Table.from_batches(kept, schema=reader.schema).to_pandas()
    return QueryResult(frame, rows)


def _audit(ws: Workspace, actor: Actor, sql: str, *, outcome="ok", reason="", rows=None) -> None:
    ws.audit.record(
        actor,
        "linked.query",
        outcome=outcome,
        reads=("linked",),
        counts={} if rows is None else {"rows": rows},
        reason=reason,
        query=sql,
    )
