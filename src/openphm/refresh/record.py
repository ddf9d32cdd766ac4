"""The refresh record: WORKSPACE/refresh/<id>.json, one per refresh, holding each stage's
status, start, end, seconds, counts and the fingerprints of the workspace before and after it.
Written atomically after every change, so a refresh killed at any point leaves a record that
says which stages were done. No patient value is written: names of stages, dates, counts,
fingerprints and the messages of errors a person can fix.

What people are shown of it (`phm status`, `phm refresh --history`, the web's Refreshes page)
is `described`: each refresh's status (done, running, stopped, abandoned), times, reference
date and each stage's status and seconds, and a failed stage's kind of error (`failure_kind`),
never its message."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from openphm import clock
from openphm.errors import UserFacingError

FOLDER = "refresh"
LOCK_FILE = ".lock"
PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
# Reading every refresh recorded: the processor's engineers, whose job it is, and the DPO, who
# oversees it. The records hold no patient value; `phm status` shows every role the latest
# one's state.
HISTORY = "refresh.history"
# A refresh's own status: running (or stopped part way: killed or failed), done, or abandoned
# (replaced by `--restart`).
ABANDONED = "abandoned"
# What people are shown for a refresh recorded as running: whether a process holds the lock.
STOPPED = "stopped"
# The lock's holder is not known to this account (it may not read WORKSPACE/refresh/.lock).
UNFINISHED = "unfinished"
# How an unexpected error is recorded (refresh.run._error): its kind, then these words.
UNEXPECTED = " (an unexpected error: its traceback is printed above)"
# How long a refresh waits for the lock before it is refused: a reader (`running_now`) holds it
# shared for an instant; a refresh holds it for the whole run.
LOCK_WAIT_SECONDS = 1.0


class RefreshRefused(UserFacingError):
    """A refresh that may not start (or resume) as asked; the message says what to do."""


class RefreshRecordError(UserFacingError):
    """A file in WORKSPACE/refresh that is not a refresh record (edited by hand, or damaged)."""


def folder(ws) -> Path:
    path = ws.root / FOLDER
    try:
        path.mkdir(mode=0o750, exist_ok=True)
    except PermissionError:
        raise RefreshRefused(
            f"this account may not make {path}: the refresh runs as the processor's account, "
            "to which `phm custody assign` hands it"
        ) from None
    return path


@contextlib.contextmanager
def locked(ws) -> Iterator[None]:
    """Held for a whole refresh: a second refresh started meanwhile is refused, once it has
    waited LOCK_WAIT_SECONDS for a reader's instant (`running_now`) to pass."""
    with open(folder(ws) / LOCK_FILE, "a") as lock:
        waited = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= waited:
                    raise RefreshRefused(
                        f"a refresh of {ws.root} is running now (another process holds "
                        f"{folder(ws) / LOCK_FILE}); wait for it to end"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def new(stages: tuple[str, ...], user: str) -> dict:
    now = clock.now()
    return {
        "id": f"{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}",
        "status": RUNNING,
        "started": now.isoformat(timespec="seconds"),
        "ended": None,
        "by": user,
        "reference_date": None,
        "resumed": [],
        "stages": [
            {
                "name": s,
                "status": PENDING,
                "started": None,
                "ended": None,
                "seconds": None,
                "inputs": None,
                "outputs": None,
                "counts": {},
                "note": "",
                "error": "",
                "error_kind": "",
            }
            for s in stages
        ],
    }


def save(ws, record: dict) -> None:
    path = folder(ws) / f"{record['id']}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(tmp, path)


def history(ws) -> list[dict]:
    """Every refresh recorded, oldest first (none if no refresh has run: nothing is made).
    Raises PermissionError if this account may not read the folder (key custody gives it to
    the processor's account and the programme group)."""
    return [_read(p) for p in sorted((ws.root / FOLDER).glob("*.json"))]


def _read(path: Path) -> dict:
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise RefreshRecordError(
            f"{path} is not a refresh record: not JSON ({type(err).__name__}); it was edited "
            "or damaged. Move it out of the folder (a refresh writes each record whole)"
        ) from None
    if not isinstance(record, dict) or not isinstance(record.get("stages"), list):
        raise RefreshRecordError(f"{path} is not a refresh record: it has no list of stages")
    missing = [k for k in ("id", "status", "started") if k not in record] + [
        f"stages[{i}].{k}"
        for i, s in enumerate(record["stages"])
        for k in ("name", "status")
        if not isinstance(s, dict) or k not in s
    ]
    if missing:
        raise RefreshRecordError(f"{path} is not a refresh record: it lacks {', '.join(missing)}")
    return record


def unfinished(ws) -> dict | None:
    """The latest refresh if it stopped before its end (failed or killed), else None."""
    records = history(ws)
    return records[-1] if records and records[-1]["status"] == RUNNING else None


def last_done(ws) -> dict | None:
    """The latest refresh that ran to its end: its stages' seconds estimate the next one's."""
    return next((r for r in reversed(history(ws)) if r["status"] == DONE), None)


def state(ws) -> str:
    """A fingerprint of what the stages read and write besides their own tables: the landing
    catalog (every file landed, its state) and the contents of the linked zone's input tables
    (`analytics.runs.inputs_fingerprint`: every row linked, objections applied)."""
    from openphm.analytics.runs import inputs_fingerprint
    from openphm.landing.catalog import CATALOG_FILE

    digest = hashlib.sha256()
    catalog = ws.zone("landing") / CATALOG_FILE
    digest.update(catalog.read_bytes() if catalog.is_file() else b"no catalog")
    con = ws.connect_linked(read_only=True)
    try:
        digest.update(inputs_fingerprint(con, "linked").encode())
    finally:
        con.close()
    return digest.hexdigest()


# ----- what people are shown -------------------------------------------------------------------


def running_now(ws) -> bool | None:
    """Whether a refresh of the workspace is running now: whether a process holds the lock.
    None when this account may not read the lock file. The lock is taken shared for an instant
    and given back; a refresh starting in that instant waits for it (`locked`)."""
    try:
        lock = open(ws.root / FOLDER / LOCK_FILE)  # noqa: SIM115 (closed below)
    except FileNotFoundError:
        return False  # no refresh has ever run
    except PermissionError:
        return None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False


def failure_kind(stage: dict) -> str | None:
    """A failed stage's kind of error (the exception's class name), never its message: a
    refusal's or an error's message is for the terminal that ran the refresh, and an unexpected
    error's may quote a value from the data. None if the stage did not fail."""
    if stage["status"] != FAILED:
        return None
    if stage.get("error_kind"):
        return stage["error_kind"]
    # A record written before the kind was kept: the kind is in the words of an unexpected error.
    error = stage.get("error") or ""
    if error == "interrupted":
        return "KeyboardInterrupt"
    if error.endswith(UNEXPECTED):
        return error.removesuffix(UNEXPECTED)
    return "UserFacingError" if error else "unknown"


def unexpected(kind: str | None, stage: dict) -> bool:
    """Whether a failure was unexpected (a traceback in the job's log) rather than an error
    whose message says what to fix, or an interruption."""
    return kind is not None and (stage.get("error") or "").endswith(UNEXPECTED)


def described(record: dict, running: bool | None = False) -> dict:
    """What people are shown of one refresh: no message of an error, no fingerprint, no counts.
    `running`: whether a process holds the lock (`running_now`), which says whether a refresh
    recorded as running is running or stopped; only the latest refresh can be running."""
    stages = record["stages"]
    status = record["status"]
    if status == RUNNING:
        status = RUNNING if running else STOPPED if running is False else UNFINISHED
    reached = next((s for s in stages if s["status"] not in (DONE, SKIPPED)), None)
    at = None
    if record["status"] != DONE and reached is not None:
        kind = failure_kind(reached)
        at = {
            "stage": reached["name"],
            "number": stages.index(reached) + 1,
            "of": len(stages),
            "status": reached["status"],
            "failure": kind,
            "unexpected": unexpected(kind, reached),
        }
    shown_stages = []
    for stage in stages:
        kind = failure_kind(stage)
        shown_stages.append({
            "name": stage["name"],
            "status": stage["status"],
            "started": stage.get("started"),
            "ended": stage.get("ended"),
            "seconds": stage.get("seconds"),
            "failure": kind,
            "unexpected": unexpected(kind, stage),
            "note": stage.get("note") or "",
        })  # fmt: skip
    return {
        "id": record["id"],
        "status": status,
        "started": record["started"],
        "ended": record.get("ended"),
        "by": record.get("by"),
        "reference_date": record.get("reference_date"),
        "resumed": list(record.get("resumed") or []),
        "seconds": round(sum(s.get("seconds") or 0 for s in stages), 2),
        "at": at,
        "stages": shown_stages,
    }


def refreshes(ws) -> list[dict]:
    """Every refresh `described`, newest first; the latest says whether it is running now."""
    records = list(reversed(history(ws)))
    if not records:
        return []
    latest = described(records[0], running_now(ws) if records[0]["status"] == RUNNING else False)
    return [latest, *(described(r) for r in records[1:])]


def refreshes_read(ws, actor) -> list[dict]:
    """`refreshes`, for `phm refresh --history`: the reading audited (HISTORY, a count)."""
    shown = refreshes(ws)
    ws.audit.record(actor, HISTORY, reads=("refresh",), counts={"refreshes": len(shown)})
    return shown


def duration(seconds: float | None) -> str:
    """Seconds in words: "42 s", "3 min 05 s", "1 h 02 min"."""
    if seconds is None:
        return "unknown"
    seconds = round(seconds)
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    return f"{hours} h {m:02d} min" if hours else f"{m} min {s:02d} s" if m else f"{s} s"
