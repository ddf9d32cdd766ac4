"""The JSON API: the same figures and records as the pages, for the same roles, described at
/api/openapi.json. Read-only (every change goes through a page's form, with its CSRF token);
/api/sql runs an analyst's query as the SQL page does (web.sql), and writes only its audit
entry; /api/outcomes keeps a practice's outcomes (token and outcome), sent from its list's page
with the session's CSRF token in the X-CSRF-Token header, as a form carries it."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from openphm.analytics import REGISTERS
from openphm.cohorts.outcomes import OUTCOMES, OutcomeError, record_outcomes
from openphm.disclosure.releases import list_releases
from openphm.governance.withheld import withheld
from openphm.linked.query import MOST_SHOWN_ROWS, SHOWN_ROWS, QueryError, run_sql
from openphm.web import figures, measures
from openphm.web import risk as risk_figures
from openphm.web.deps import Context, authorised, refuse, session_of, viewed
from openphm.web.dpo import objections_applied, programme_status
from openphm.web.failures import CSRF_REFUSED
from openphm.web.practice import cohort_lists, describe
from openphm.web.security import csrf_ok
from openphm.web.sql import signed_in

router = APIRouter(prefix="/api", tags=["OpenPHM"])


def _dated(ws) -> dict:
    """The reference date and data's end of the latest `phm analyse`, whose tables the
    population and activity figures are read from."""
    cover = figures.built_coverage(ws)
    if cover is None:
        return {"reference_date": None, "data_end": None}
    end = cover.data_end.isoformat() if cover.data_end else None
    return {"reference_date": cover.reference_date.isoformat(), "data_end": end}


@router.get("/population", summary="Registered population (disclosure-controlled)")
def population(request: Request, ctx: Context = Depends(authorised("linked.query"))) -> dict:
    ctx.ws.require_open()
    found = figures.population(ctx.ws)
    viewed(request, ctx, ("linked.people",))
    return {
        **_dated(ctx.ws),
        "disclosure_control": "counts 1-7 redacted (null), others rounded to the nearest 5",
        **{key: {"title": f.title, "rows": f.records()} for key, f in found.items()},
    }


@router.get("/activity", summary="Activity and deaths per 1,000 people (disclosure-controlled)")
def activity(
    request: Request, by: str = "imd_decile", ctx: Context = Depends(authorised("linked.query"))
) -> dict:
    ctx.ws.require_open()
    figure = figures.activity(ctx.ws, "practice" if by == "practice" else "imd_decile")
    viewed(request, ctx, ("linked.people", "linked activity"))
    return {"title": figure.title, "rows": figure.records()}


CONTROL = (
    "counts 1-7 redacted (null), others rounded to the nearest 5; crude % and its Wilson 95% "
    "interval from the published counts; DSR, SII and RII as analytics built them, null "
    "wherever their numerator or denominator is hidden"
)


def _proportion(p: measures.Proportion) -> dict:
    return {
        "measure": p.measure,
        "label": p.label,
        "by": {grouping: f.records() for grouping, f in p.by.items()},
        **p.inequality,
    }


@router.get("/registers", summary="Recorded prevalence per register (disclosure-controlled)")
def registers(request: Request, ctx: Context = Depends(authorised("analytics.read"))) -> dict:
    ctx.ws.require_open()
    found = measures.proportions(ctx.ws, [f"prevalence_{r.name}" for r in REGISTERS])
    viewed(request, ctx, ("linked.measures",))
    return {
        "disclosure_control": CONTROL,
        "per": 100,
        "registers": [_proportion(p) for p in found.values()],
    }


@router.get(
    "/multimorbidity",
    summary="Long-term conditions, CMS, eFI and segments (disclosure-controlled)",
)
def multimorbidity(request: Request, ctx: Context = Depends(authorised("analytics.read"))) -> dict:
    ctx.ws.require_open()
    found = measures.distributions(ctx.ws)
    gradients = measures.proportions(ctx.ws, list(measures.MULTIMORBIDITY_MEASURES))
    viewed(request, ctx, ("linked.measures", "linked.person_scores", "linked.person_segments"))
    return {
        "disclosure_control": CONTROL,
        "distributions": {k: {"title": f.title, "rows": f.records()} for k, f in found.items()},
        "proportions": [_proportion(p) for p in gradients.values()],
    }


@router.get(
    "/risk",
    summary="Risk distribution, rising risk and the published model card (disclosure-controlled)",
)
def risk(request: Request, ctx: Context = Depends(authorised("risk.read"))) -> dict:
    ctx.ws.require_open()
    found = risk_figures.distribution(ctx.ws)
    card, _ = risk_figures.model_card(ctx.ws)
    viewed(request, ctx, ("linked.person_risk", "linked.risk_models"))
    return {
        "disclosure_control": "counts 1-7 redacted (null), others rounded to the nearest 5",
        "reference_date": found["reference_date"].isoformat(),
        "previous_reference_date": (
            found["previous_reference_date"].isoformat()
            if found["previous_reference_date"]
            else None
        ),
        "model_id": found["model_id"],
        **{key: found[key].records() for key in ("deciles", "bands", "rising")},
        "model_card": card,
    }


@router.get("/status", summary="Programme status, retention and destruction")
def status(request: Request, ctx: Context = Depends(authorised("governance.status"))) -> dict:
    viewed(request, ctx)
    return {
        **programme_status(ctx.ws),
        "objections_applied": objections_applied(ctx.ws),
        "sensitive_withheld": withheld(ctx.ws.audit).as_dict(),
    }


@router.get("/releases", summary="Releases and their approval status")
def releases(request: Request, ctx: Context = Depends(authorised("release.list"))) -> list[dict]:
    viewed(request, ctx, ("outputs/releases",))
    return list_releases(ctx.ws)


@router.get("/cohorts", summary="The signed-in practice's own cohort lists")
def cohorts(request: Request, ctx: Context = Depends(authorised("cohort.inbox"))) -> list[dict]:
    viewed(request, ctx)
    return [describe(ctx.ws, p) for p in cohort_lists(ctx.ws, ctx.user.ods)]


class Query(BaseModel):
    query: str = Field(description="One read-only statement on the linked zone.")
    rows: int = Field(SHOWN_ROWS, ge=1, le=MOST_SHOWN_ROWS, description="Rows to return.")


def signed_in_json(request: Request, ctx: Context = Depends(signed_in)) -> Context:
    """A signed-in user sending JSON: a form another site's page could post is never run (the
    session cookie is SameSite=Strict as well, so such a post is not signed in)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the query as JSON: Content-Type application/json")
    return ctx


@router.post(
    "/sql",
    summary="Run one read-only query on the linked zone, as phm sql does (audited with its text)",
)
def sql(body: Query, ctx: Context = Depends(signed_in_json)):
    try:
        result = run_sql(ctx.ws, ctx.actor, body.query, keep=body.rows)
    except QueryError as err:
        return JSONResponse({"detail": str(err)}, status_code=400)
    answer = result.frame.to_json(
        orient="split", index=False, date_format="iso", default_handler=str
    )
    table = json.loads(answer)
    return {
        "columns": table["columns"],
        "rows": table["data"],
        "rows_returned": result.rows,
        "rows_shown": len(result.frame),
    }


CSRF_HEADER = "X-CSRF-Token"


def signed_in_json_csrf(request: Request, ctx: Context = Depends(signed_in_json)) -> Context:
    """JSON from a page of this site: it carries the session's CSRF token in a header (the
    page has it; another site's page cannot read it), or it is refused and audited."""
    if not csrf_ok(session_of(request), request.headers.get(CSRF_HEADER)):
        refuse(request, CSRF_REFUSED)
    return ctx


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")  # token and outcome, nothing else
    token: str = Field(description="A token from one of the practice's own lists.")
    outcome: str = Field(description=f"One of: {', '.join(OUTCOMES)}.")


class Outcomes(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cohort: str = Field(description="The cohort the list is of (its file name without .csv).")
    outcomes: list[Outcome] = Field(max_length=100_000)


@router.post(
    "/outcomes",
    summary="The signed-in practice's outcomes for people on one of its lists: token and "
    "outcome only, never an identity",
)
def outcomes(body: Outcomes, ctx: Context = Depends(signed_in_json_csrf)) -> dict:
    # The practice is the account's, never the body's; another role is refused (audited).
    try:
        counts = record_outcomes(
            ctx.ws, ctx.actor, ctx.user.ods, body.cohort,
            [(o.token, o.outcome) for o in body.outcomes],
        )  # fmt: skip
    except OutcomeError as err:
        return JSONResponse({"detail": str(err)}, status_code=400)
    return {"recorded": {k: v for k, v in counts.items() if k in OUTCOMES},
            "not_on_list": counts["not_on_list"]}  # fmt: skip
