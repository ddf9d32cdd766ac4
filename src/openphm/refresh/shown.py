"""A refresh's record in words, for `phm refresh --history` and `phm status` (which every role
may run: `status_lines` says no account, no note, no count and no message). Reads the records
through `refresh.record` only: no stage's code is reached from here, so `phm status` loads none."""

from __future__ import annotations

from openphm.refresh.record import (
    STOPPED,
    UNFINISHED,
    RefreshRecordError,
    duration,
    refreshes,
)


def minute(moment: str | None) -> str:
    """A recorded time (ISO, UTC) to the minute: 2026-11-06T02:00:00+00:00 is 2026-11-06 02:00."""
    return moment[:16].replace("T", " ") if moment else ""


def stage_words(stage: dict) -> str:
    return f"{stage['status']}: {kind(stage)}" if stage["failure"] else stage["status"]


def kind(failed: dict) -> str:
    return failed["failure"] + (", unexpected" if failed["unexpected"] else "")


def status_words(shown: dict) -> str:
    """A refresh's status and, unless done, the stage it reached, its status and failure."""
    at = shown["at"]
    if at is None:
        return shown["status"]
    where = f"stage {at['number']} of {at['of']}, {at['stage']}"
    if shown["status"] == "running":
        return f"running: {where}"
    how = f"failed ({kind(at)})" if at["failure"] else at["status"]
    return f"{shown['status']} at {where}: {how}"


def resume_words(ws, latest: dict) -> str:
    return (
        f"Refresh {latest['id']} did not finish. The processor's account resumes it with: "
        f"phm refresh {ws.root} --resume --role processor-engineer (or abandons it and starts "
        "again with --restart)"
    )


def status_lines(ws) -> tuple[list[tuple[str, str]], dict | None, str]:
    """What `phm status` says of the refreshes, for any role: the latest refresh's id, status,
    times, time taken, reference date and, if it did not finish, where it stopped and the
    failure's kind (no message, no account, no counts); rows for its table, the same as JSON,
    and how to resume it (or "")."""
    try:
        shown = refreshes(ws)
    except PermissionError:
        why = "this account may not read the refresh records (key custody: the processor's)"
        return [("last refresh", why)], {"readable": False, "last": None, "problem": why}, ""
    except RefreshRecordError as err:
        problem = str(err)
        return (
            [("last refresh", problem)],
            {"readable": False, "last": None, "problem": problem},
            "",
        )
    if not shown:
        return [("last refresh", "none yet")], {"readable": True, "last": None}, ""
    last = {k: v for k, v in shown[0].items() if k != "by"}
    last["stages"] = [{k: v for k, v in s.items() if k != "note"} for s in last["stages"]]
    rows = [
        ("last refresh", f"{last['id']}: {status_words(last)}"),
        ("  started", last["started"]),
        ("  ended", last["ended"] or "not yet"),
        ("  took", f"{duration(last['seconds'])} (its stages' time)"),
        ("  data as at", last["reference_date"] or "not yet (set once link has run)"),
    ]
    unfinished = last["status"] in (STOPPED, UNFINISHED)
    resume = resume_words(ws, last) if unfinished else ""
    if unfinished:
        last["resume"] = f"phm refresh {ws.root} --resume --role processor-engineer"
    return rows, {"readable": True, "last": last}, resume
