"""The refresh record: WORKSPACE/refresh/<id>.json, one per refresh, holding each stage's
status, start, end, seconds, counts and the fingerprints of the workspace before and after it.
Written atomically after every change, so a refresh killed at any point leaves a record that
says which stages were done. No patient value is written: names of stages, dates, counts,
fingerprints and the messages of errors a person can fix."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from openphm import clock
from openphm.errors import UserFacingError

FOLDER = "refresh"
LOCK_FILE = ".lock"
PENDING, RUNNING, DONE, FAILED, SKIPPED = "pending", "running", "done", "failed", "skipped"
# A refresh's own status: running (or stopped part way: killed or failed), done, or abandoned
# (replaced by `--restart`).
ABANDONED = "abandoned"


class RefreshRefused(UserFacingError):
    """A refresh that may not start (or resume) as asked; the message says what to do."""


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
    """Held for a whole refresh: a second refresh started meanwhile is refused at once."""
    with open(folder(ws) / LOCK_FILE, "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RefreshRefused(
                f"a refresh of {ws.root} is running now (another process holds "
                f"{folder(ws) / LOCK_FILE}); wait for it to end"
            ) from None
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
    """Every refresh recorded, oldest first."""
    return [json.loads(p.read_text()) for p in sorted(folder(ws).glob("*.json"))]


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
