"""The Refreshes page: every monthly refresh recorded (`phm refresh`, docs/refresh.md), newest
first, and the stages of the latest with the time each took, for the processor's engineers and
the data protection officer. Read through `refresh.record` (the JSON records, never a zone);
shows a failed stage's kind of error, never its message (refresh.record.failure_kind), and no
stage's note: a note can count people (link's, risk's), unrounded, and every figure a page shows
has passed disclosure control (`phm refresh --history --json` gives the notes)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from openphm.refresh.record import STOPPED, UNFINISHED, RefreshRecordError, duration, refreshes
from openphm.web.deps import Context, authorised, render, viewed

router = APIRouter(include_in_schema=False)
# The command line's `phm refresh WORKSPACE --history` is the same action.
ACTION = "refresh.history"


def _where(r: dict) -> str:
    at = r["at"]
    return f"stage {at['number']} of {at['of']}, {at['stage']} ({at['status']})" if at else ""


def _kind(item: dict | None) -> str:
    if not item or not item["failure"]:
        return ""
    return item["failure"] + (" (unexpected)" if item["unexpected"] else "")


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:,.2f}"  # as recorded, to the hundredth


def _time(moment: str | None) -> str:
    """A recorded time (ISO, UTC) as the page shows it: 2026-11-06 02:00:11."""
    return moment[:19].replace("T", " ") if moment else ""


@router.get("/refreshes")
def refreshes_page(request: Request, ctx: Context = Depends(authorised(ACTION))):
    problem = ""
    try:
        shown = refreshes(ctx.ws)
    except PermissionError:
        problem = (
            "This service's account cannot read WORKSPACE/refresh (with key custody the folder "
            "is the processor's account's, and the programme group may read it: add this "
            "service's account to the group). `phm refresh WORKSPACE --history` lists them."
        )
        shown = []
    except RefreshRecordError as err:
        shown, problem = [], str(err)
    viewed(request, ctx, ("refresh",))
    rows = [
        [r["id"], r["status"], _time(r["started"]), _time(r["ended"]), duration(r["seconds"]),
         r["reference_date"] or "", _where(r), _kind(r["at"])]
        for r in shown
    ]  # fmt: skip
    latest = shown[0] if shown else None
    stages = [
        [s["name"], s["status"], _time(s["started"]), _time(s["ended"]), _seconds(s["seconds"]),
         _kind(s)]
        for s in (latest["stages"] if latest else [])
    ]  # fmt: skip
    unfinished = latest is not None and latest["status"] in (STOPPED, UNFINISHED)
    return render(
        request,
        "refreshes.jinja",
        title="Refreshes",
        rows=rows,
        latest=latest,
        stages=stages,
        unfinished=unfinished,
        problem=problem,
        workspace=str(ctx.ws.root),
    )
