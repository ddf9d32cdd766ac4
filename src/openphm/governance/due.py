"""One line of the destruction timetable (`phm schedule show`, `phm status`, the DPO's page)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Due:
    """One thing the schedule will destroy: what, from when, how; `now` once it is due."""

    what: str
    when: str
    how: str
    now: bool
