"""One line of the destruction timetable (`phm schedule show`, `phm status`, the DPO's page),
and the timetable as JSON records and as a table, which `phm schedule show`, `phm schedule
rehearse` and `phm status` print alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table


@dataclass(frozen=True)
class Due:
    """One thing the schedule will destroy: what, from when, how; `now` once it is due."""

    what: str
    when: str
    how: str
    now: bool


def due_records(plan: list[Due]) -> list[dict]:
    """The timetable as JSON-ready records (`--json`)."""
    return [{"what": d.what, "when": d.when, "how": d.how, "due_now": d.now} for d in plan]


def due_table(plan: list[Due]) -> Table:
    """The timetable as a Rich table (what, when, how, and "now" for what is due)."""
    from rich.table import Table

    table = Table(title="Due for destruction")
    for column in ("what", "when", "how", "due"):
        table.add_column(column)
    for due in plan:
        table.add_row(due.what, due.when, due.how, "now" if due.now else "", style=None)
    return table
