"""A GP practice's pages: its own cohort lists (WORKSPACE/outputs/cohorts/<ODS code>/*.csv),
to download and open with `phm practice reidentify`. Nothing about any other practice.

The practice comes from the signed-in account, never from the URL, and a file is served only if
it is one of the names listed in that practice's own folder: a guessed name, another practice's
file or a path with `..` or `/` in it is refused and audited.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse

from openphm.programme.workspace import Workspace
from openphm.web.deps import Context, authorised, refuse, render, viewed
from openphm.web.failures import FailureKind

router = APIRouter(prefix="/practice", include_in_schema=False)
COHORTS = "cohorts"
# In fixed words: the name asked for is the caller's text (the account says which practice).
NOT_OWN_LIST = FailureKind(
    "cohort.download", "refused", "asked for a file that is not one of the practice's own lists"
)


def cohort_folder(ws: Workspace, ods: str) -> Path:
    return ws.zone("outputs") / COHORTS / ods


def cohort_lists(ws: Workspace, ods: str) -> list[Path]:
    """The practice's own cohort list files (plain files only, no links)."""
    folder = cohort_folder(ws, ods)
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix == ".csv" and p.is_file() and not p.is_symlink()
    )


def describe(path: Path) -> dict:
    stat = path.stat()
    return {
        "name": path.name,
        "bytes": stat.st_size,
        "modified": dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC).isoformat(timespec="seconds"),
    }


@router.get("/cohorts")
def inbox(request: Request, ctx: Context = Depends(authorised("cohort.inbox"))):
    files = [describe(p) for p in cohort_lists(ctx.ws, ctx.user.ods)]
    viewed(request, ctx)
    return render(request, "practice_cohorts.jinja", title="Cohort lists", files=files)


@router.get("/cohorts/{name:path}")
def download(name: str, request: Request, ctx: Context = Depends(authorised("cohort.download"))):
    own = {p.name: p for p in cohort_lists(ctx.ws, ctx.user.ods)}
    path = own.get(name)
    if path is None:
        refuse(request, NOT_OWN_LIST)
    ctx.ws.audit.record(
        ctx.actor, "cohort.download", reads=(f"outputs/{COHORTS}/{ctx.user.ods}/{path.name}",)
    )
    return FileResponse(path, media_type="text/csv", filename=path.name)
