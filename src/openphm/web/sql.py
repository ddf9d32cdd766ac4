"""The analyst's SQL page: the authenticated query service through which analysts read the linked
zone without ever holding a key file (docs/ARCHITECTURE.md, threat model). The web service runs
as the analytics account, which holds the linked zone's key; the analyst holds only a session.

Everything `phm sql` promises holds here, because it is the same code: `linked.query.run_sql`
(DuckDB's parser wall, then the sandboxed connection; every query audited with its text and the
rows returned, or why it was refused or failed, a role refusal included) and
`disclosure.releases.draft_from_query` for "save as a draft". A bounded number of rows is shown
(50, at most 500), every value escaped for HTML with control characters shown as their escapes
(`console.visible`). There is no download: a result leaves only as a draft, through a release
request and output checking. /api/sql (web.api) answers the same queries as JSON.
"""

from __future__ import annotations

import math

import pandas as pd
from fastapi import APIRouter, Depends, Request

from openphm.console import visible
from openphm.disclosure.releases import ReleaseError, draft_from_query
from openphm.linked.query import (
    MOST_SHOWN_ROWS,
    SHOWN_ROWS,
    QueryError,
    QueryResult,
    run_sql,
    tables,
)
from openphm.web.deps import (
    Context,
    actor_of,
    authorised,
    check_csrf,
    open_workspace,
    render,
    user_of,
    viewed,
)

router = APIRouter(prefix="/analyst/sql", include_in_schema=False)
NULL = "NULL"  # how a missing value is shown, so that it is not taken for an empty string


def shown_rows(value: object) -> int:
    """The rows to show, as asked, kept between 1 and MOST_SHOWN_ROWS."""
    try:
        asked = int(str(value))
    except ValueError:
        return SHOWN_ROWS
    return min(max(asked, 1), MOST_SHOWN_ROWS)


def query_text(value: object) -> str:
    """A query as posted: browsers send a textarea's line breaks as CRLF; the analyst typed LF."""
    return str(value or "").replace("\r\n", "\n")


def cell_text(value: object) -> str:
    """A value as the text it is: control characters shown as escapes, a missing value as
    NULL (HTML escaping is the template's)."""
    missing = value is None or value is pd.NA or value is pd.NaT
    if missing or (isinstance(value, float) and math.isnan(value)):
        return NULL
    return visible(value)


def result_view(result: QueryResult) -> dict:
    frame = result.frame
    return {
        "columns": [visible(c) for c in frame.columns],
        # The draft form's checkboxes: each column's name as posted back, and as shown.
        "options": [(str(c), visible(c)) for c in frame.columns],
        "rows": [[cell_text(v) for v in row] for row in frame.itertuples(index=False)],
        "returned": result.rows,
        "shown": len(frame),
    }


def _page(request: Request, ctx: Context, status_code: int = 200, **context):
    return render(
        request,
        "analyst_sql.jinja",
        status_code,
        title="Query the linked zone",
        tables=[
            [visible(t.name), f"{t.rows:,}", visible(", ".join(t.columns))] for t in tables(ctx.ws)
        ],
        shown_default=SHOWN_ROWS,
        most_rows=MOST_SHOWN_ROWS,
        **context,
    )


def signed_in(request: Request) -> Context:
    """The analyst, without a role check here: `run_sql` makes it, so that a refusal is
    audited with the query refused."""
    user = user_of(request)
    return Context(user, actor_of(user), open_workspace(request))


@router.get("")
def sql_page(request: Request, ctx: Context = Depends(authorised("linked.query"))):
    ctx.ws.require_open()
    viewed(request, ctx, ("linked",))
    return _page(request, ctx, rows=SHOWN_ROWS)


@router.post("", dependencies=[Depends(check_csrf)])
async def run(request: Request, ctx: Context = Depends(signed_in)):
    """Run the query (audited by run_sql) and show its first rows."""
    form = await request.form()
    sql, rows = query_text(form.get("query")), shown_rows(form.get("rows"))
    try:
        result = run_sql(ctx.ws, ctx.actor, sql, keep=rows)
    except QueryError as err:
        return _page(request, ctx, 400, query=sql, rows=rows, error=str(err))
    return _page(request, ctx, query=sql, rows=rows, result=result_view(result))


@router.post("/draft", dependencies=[Depends(check_csrf)])
async def save_as_draft(request: Request, ctx: Context = Depends(signed_in)):
    """Run the query again, whole, and keep its result as a release draft: what
    `phm sql --save-draft NAME --counts … --totals-over … --description …` does."""
    form = await request.form()
    sql, rows = query_text(form.get("query")), shown_rows(form.get("rows"))
    name = str(form.get("name") or "").strip()
    counts, totals_over = form.getlist("counts"), form.getlist("totals_over")
    description = str(form.get("description") or "").strip()
    try:
        result = run_sql(ctx.ws, ctx.actor, sql)
    except QueryError as err:
        return _page(request, ctx, 400, query=sql, rows=rows, error=str(err))
    shown = QueryResult(result.frame.head(rows), result.rows)
    try:
        spec = draft_from_query(
            ctx.ws,
            ctx.actor,
            name,
            result.frame,
            query=sql,
            counts=[str(c) for c in counts],
            totals_over=[str(c) for c in totals_over],
            description=description,
        )
    except ReleaseError as err:
        return _page(
            request,
            ctx,
            400,
            query=sql,
            rows=rows,
            result=result_view(shown),
            draft_error=str(err),
            draft={
                "name": name,
                "counts": counts,
                "totals_over": totals_over,
                "description": description,
            },
        )
    return _page(request, ctx, query=sql, rows=rows, result=result_view(shown), saved=spec)
