"""`phm status`'s reading of a programme: its dates and days left, what each zone and the key
store hold, what the schedule will destroy and when, the latest refresh, and the records kept in
the landing zone by the sensitive lists (counts only), recorded in the audit log as read.

It lives here rather than in programme/ because it reads the refresh's records: programme/
importing refresh/, which imports every stage, would be a cycle. Reads only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from openphm import clock
from openphm.governance.due import Due
from openphm.governance.schedule import timetable
from openphm.governance.withheld import Withheld, withheld
from openphm.programme.workspace import ZONES
from openphm.refresh.shown import status_lines


@dataclass(frozen=True)
class Status:
    programme: Any  # the programme's settings (name, dates, retention)
    days_left: int
    zones: dict[str, dict[str, int]]  # files and bytes per zone
    keys_held: int
    keys_destroyed: int
    due: list[Due]
    refresh_rows: list[tuple[str, str]]
    refresh_json: dict | None
    resume: str
    withheld: Withheld


def programme_status(ws, actor) -> Status:
    """The programme at `ws` as `phm status` shows it, read for `actor` and audited."""
    programme = ws.config.programme
    zones = {}
    for zone in ZONES:
        files = [p for p in ws.zone(zone).rglob("*") if p.is_file()]
        zones[zone] = {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
    refresh_rows, refresh_json, resume = status_lines(ws)
    status = Status(
        programme=programme,
        days_left=max((programme.end_date - clock.today()).days, 0),
        zones=zones,
        keys_held=len(ws.keystore.names()),
        keys_destroyed=len(ws.keystore.destroyed()),
        due=timetable(ws),
        refresh_rows=refresh_rows,
        refresh_json=refresh_json,
        resume=resume,
        withheld=withheld(ws.audit),
    )
    ws.audit.record(actor, "workspace.status")
    return status
