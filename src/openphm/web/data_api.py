"""The released tables over HTTP, for Power BI, Tableau and scripts: read-only, with an API
token (web.api_tokens) in `Authorization: Bearer …` instead of a browser session.

Only tables of approved releases are served, each checked against the SHA-256 recorded when it
was checked before it is sent; a release that is not approved, or a table not in one, is "not
found" (its existence is not confirmed). Reads are audited as page views (one entry per
person, route and hour, web.views); requests without a valid token as folded failures
(web.failures), so a client retrying with a revoked token cannot flood the log.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from openphm.csvsafe import csv_text
from openphm.disclosure.checking import verify_files
from openphm.disclosure.export import dictionary, read_released, released_outputs_in_place
from openphm.disclosure.releases import RELEASED, ReleaseError, list_releases, release_folder
from openphm.web.api_tokens import ApiTokens
from openphm.web.deps import Context, actor_of, client_address, open_workspace, viewed
from openphm.web.failures import FailureKind

router = APIRouter(prefix="/api/released", tags=["Released tables (API token)"])

NO_TOKEN = FailureKind("web.api_token", "refused", "a data API request without a valid API token")
DEAD_TOKEN = FailureKind(
    "web.api_token",
    "refused",
    "a data API request with a revoked or expired token, or one whose account is disabled",
)
READ = "release.api_read"
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="openphm"'}


def token_context(request: Request) -> Context:
    """The account the request's API token acts as, authorised to read released tables; or 401
    (folded failure) / 403 (refusal audited)."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    root = request.app.state.root
    token_id, user, _why = ApiTokens(root).user_for(presented.strip())
    if scheme.lower() != "bearer" or user is None:
        kind = DEAD_TOKEN if token_id else NO_TOKEN
        request.app.state.failures.failed(kind, client_address(request))
        raise HTTPException(401, "a valid API token is needed (phm api-token)", _CHALLENGE)
    ws = open_workspace(request)
    actor = actor_of(user)
    ws.authorise(actor, READ)
    ws.require_open()
    return Context(user, actor, ws)


@router.get("", summary="The approved releases and their tables")
def releases(request: Request, ctx: Context = Depends(token_context)) -> dict:
    viewed(request, ctx, ("outputs/releases",))
    shown = []
    for manifest in list_releases(ctx.ws):
        if manifest["status"] != RELEASED:
            continue
        base = f"/api/released/{manifest['id']}"
        shown.append(
            {
                "id": manifest["id"],
                "title": manifest["title"],
                "purpose": manifest["purpose"],
                "approved_by": manifest.get("approved_by"),
                "tables": [
                    {
                        "table": item["table"],
                        "description": item.get("description", ""),
                        "rows": item["rows"],
                        "csv": f"{base}/{item['table']}.csv",
                        "json": f"{base}/{item['table']}.json",
                    }
                    for item in manifest["contents"]
                ],
            }
        )
    return {"releases": shown, "dictionary": "/api/released/dictionary.csv"}


@router.get("/dictionary.csv", summary="The data dictionary of every released table (CSV)")
def data_dictionary(request: Request, ctx: Context = Depends(token_context)) -> Response:
    viewed(request, ctx, ("outputs/releases",))
    described = dictionary(ctx.ws, released_outputs_in_place(ctx.ws))
    return Response(csv_text(described), media_type="text/csv; charset=utf-8")


@router.get("/{release_id}/{table}.csv", summary="A released table as released (CSV)")
def table_csv(
    request: Request, release_id: str, table: str, ctx: Context = Depends(token_context)
) -> Response:
    path = _released_file(ctx, release_id, table)
    viewed(request, ctx, (f"outputs/releases/{release_id}",))
    return Response(path.read_bytes(), media_type="text/csv; charset=utf-8")


@router.get("/{release_id}/{table}.json", summary="A released table as released (JSON)")
def table_json(
    request: Request, release_id: str, table: str, ctx: Context = Depends(token_context)
) -> dict:
    path = _released_file(ctx, release_id, table)
    viewed(request, ctx, (f"outputs/releases/{release_id}",))
    frame = read_released(path)
    rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return {"release": release_id, "table": table, "columns": list(frame.columns), "rows": rows}


def _released_file(ctx: Context, release_id: str, table: str):
    """The approved table's file, checked against what was approved; 404 for anything else."""
    try:
        folder = release_folder(ctx.ws, release_id)
    except ReleaseError:
        raise HTTPException(404, "no such released table") from None
    manifest = next(m for m in list_releases(ctx.ws) if m["id"] == release_id)
    item = next((i for i in manifest["contents"] if i["table"] == table), None)
    if manifest["status"] != RELEASED or item is None:
        raise HTTPException(404, "no such released table")
    verify_files(folder, manifest)
    return folder / item["file"]
