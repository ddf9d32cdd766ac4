"""The data protection officer's audit view: the log with its chain verified, filtered by person,
role, action, outcome and dates, newest first a page at a time, and exported as CSV that no
spreadsheet runs (csvsafe). Reads the audit log; writes only the entries that record a view
(folded, web.views), a broken chain (one each) and an export (one each)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from openphm.csvsafe import csv_text
from openphm.governance.audit import AuditEntry
from openphm.governance.roles import identity_key
from openphm.web.deps import Context, authorised, render, viewed

router = APIRouter(prefix="/dpo", include_in_schema=False)
PAGE_SIZE = 50
OUTCOMES = ("ok", "refused", "failed")
# A filter's text as the log keeps it when exported (an account name is at most 64 characters).
FILTER_TEXT = 64
# The view's columns: AuditEntry.COLUMNS as people read them.
HEADINGS = ["Entry", "Time (UTC)", "Person (account)", "Role", "Action", "Outcome", "Purpose",
            "Detail"]  # fmt: skip


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to show: each field empty for any. A person matches as an identity
    (roles.identity_key: " ANN" is ann); dates are inclusive, in UTC."""

    person: str = ""
    role: str = ""
    action: str = ""
    outcome: str = ""
    since: dt.date | None = None
    until: dt.date | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> tuple[AuditFilter, list[str]]:
        """The filter a query string asks for, and what is wrong with it (each problem says
        which field); a wrong field is left out of the filter."""
        fields = ("person", "role", "action", "outcome")
        text = {k: (params.get(k) or "").strip()[:FILTER_TEXT] for k in fields}
        problems = []
        if text["outcome"] and text["outcome"] not in OUTCOMES:
            problems.append(f"Outcome must be one of {', '.join(OUTCOMES)}")
            text["outcome"] = ""
        dates: dict[str, dt.date | None] = {}
        for field, label in (("since", "From"), ("until", "To")):
            value = (params.get(field) or "").strip()
            try:
                dates[field] = dt.date.fromisoformat(value) if value else None
            except ValueError:
                problems.append(f"{label}: enter a date as year-month-day, such as 2026-11-20")
                dates[field] = None
        if dates["since"] and dates["until"] and dates["since"] > dates["until"]:
            problems.append("From must be on or before To")
        return cls(**text, **dates), problems

    def matches(self, entry: AuditEntry) -> bool:
        if self.person and identity_key(entry.user) != identity_key(self.person):
            return False
        for field in ("role", "action", "outcome"):
            wanted = getattr(self, field)
            if wanted and getattr(entry, field) != wanted:
                return False
        day = dt.date.fromisoformat(entry.time[:10])
        return not (self.since and day < self.since) and not (self.until and day > self.until)

    def query(self, **more: object) -> str:
        """The filter (and `more`) as a query string, for paging and export links."""
        fields = {
            k: v.isoformat() if isinstance(v, dt.date) else v for k, v in asdict(self).items()
        }
        return urlencode({k: v for k, v in {**fields, **more}.items() if v})

    def describe(self) -> str:
        shown = [f"{k}={v}" for k, v in asdict(self).items() if v]
        return ", ".join(shown) or "none"


def filtered(entries: Iterable[AuditEntry], wanted: AuditFilter) -> list[AuditEntry]:
    """The entries the filter matches, newest first."""
    return [e for e in reversed(list(entries)) if wanted.matches(e)]


def _choices(entries: list[AuditEntry]) -> dict[str, list[str]]:
    return {
        "person": sorted({e.user for e in entries}),
        "role": sorted({e.role for e in entries}),
        "action": sorted({e.action for e in entries}),
        "outcome": list(OUTCOMES),
    }


def _page_number(value: object, pages: int) -> int:
    try:
        asked = int(str(value))
    except ValueError:
        asked = 1
    return min(max(asked, 1), max(pages, 1))


@router.get("/audit")
def audit(request: Request, ctx: Context = Depends(authorised("audit.show"))):
    ctx.ws.authorise(ctx.actor, "audit.verify")
    verification = ctx.ws.audit.verify()
    entries = list(ctx.ws.audit.entries())
    if not verification.ok:  # a finding, one entry each; a clean check is part of the view
        ctx.ws.audit.record(
            ctx.actor,
            "audit.verify",
            outcome="failed",
            counts={"entries": verification.entries, "problems": len(verification.problems)},
        )
    viewed(request, ctx, ("audit",))
    wanted, problems = AuditFilter.from_query(request.query_params)
    found = filtered(entries, wanted)
    pages = math.ceil(len(found) / PAGE_SIZE)
    page = _page_number(request.query_params.get("page", "1"), pages)
    shown = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    return render(
        request,
        "dpo_audit.jinja",
        400 if problems else 200,
        title="Audit log",
        verification=verification,
        headings=HEADINGS,
        rows=[e.row() for e in shown],
        wanted=wanted,
        problems=problems,
        choices=_choices(entries),
        total=len(entries),
        matched=len(found),
        page=page,
        pages=pages,
        first=(page - 1) * PAGE_SIZE + 1,
        previous=f"/dpo/audit?{wanted.query(page=page - 1)}" if page > 1 else None,
        next=f"/dpo/audit?{wanted.query(page=page + 1)}" if page < pages else None,
        export=f"/dpo/audit.csv?{wanted.query()}",
    )


@router.get("/audit.csv")
def export(request: Request, ctx: Context = Depends(authorised("audit.show"))):
    """Every entry the filter matches (not just one page), newest first, as CSV through
    csvsafe: a cell a spreadsheet would run as a formula is kept as text. One audit entry
    each, naming the filter."""
    wanted, problems = AuditFilter.from_query(request.query_params)
    if problems:
        return Response("; ".join(problems), status_code=400, media_type="text/plain")
    found = filtered(ctx.ws.audit.entries(), wanted)
    table = pd.DataFrame([e.row() for e in found], columns=HEADINGS, dtype=str)
    ctx.ws.audit.record(
        ctx.actor,
        "audit.export",
        reads=("audit",),
        counts={"entries": len(found)},
        reason=f"filter: {wanted.describe()}",
    )
    return Response(
        csv_text(table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
