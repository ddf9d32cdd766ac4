"""The analyst's cohort builder: a form with a cohort's criteria and purpose, a preview of its
size and make-up (disclosure-controlled) before anything is written, and a button that builds it
as `phm cohort` does: linked.cohort_members saved, one list per practice written to
WORKSPACE/outputs/cohorts/<ODS>/<name>.csv, audited as cohort.build with the purpose.

The definition is the same immutable CohortDefinition a TOML file makes; building, saving,
writing lists and the make-up are openphm.cohorts' own functions.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.datastructures import FormData

from openphm.cohorts.build import build_cohort, make_up, run_cohort
from openphm.cohorts.definition import SEGMENT_NAMES, CohortDefinition
from openphm.disclosure.releases import rules_for
from openphm.errors import UserFacingError
from openphm.programme.workspace import Workspace
from openphm.web.analyst import REDACTED, cell
from openphm.web.deps import Context, authorised, check_csrf, render

router = APIRouter(prefix="/analyst/cohorts", include_in_schema=False)
# The form's fields: (name, label, hint); the numbers are CohortDefinition's own fields.
NUMBERS = [
    ("min_age", "Aged at least", "years"),
    ("max_age", "Aged at most", "years"),
    ("min_ltc", "Long-term conditions, at least", "registers, palliative care excepted"),
    ("min_emergency_admissions_12m", "Emergency admissions in 12 months, at least", ""),
    ("top_risk_percent", "In the top % of risk of emergency admission", "for example 5"),
]
CHOICES = {"imd_quintiles": [str(q) for q in range(1, 6)], "segments": list(SEGMENT_NAMES)}


def definition_from(form: FormData, ws: Workspace) -> tuple[CohortDefinition | None, list[str]]:
    """The form as a CohortDefinition, or the problems to show (each naming its field)."""
    data: dict = {"name": form.get("name", "").strip(), "purpose": form.get("purpose", "")}
    data["description"] = form.get("description", "").strip()
    data["match"] = form.get("match", "all")
    for field, *_ in NUMBERS:
        value = (form.get(field) or "").strip()
        if value:
            data[field] = value
    for field in CHOICES:
        chosen = form.getlist(field)
        if chosen:  # quintiles are numbers in a definition, as in TOML
            data[field] = tuple(int(c) if c.isdigit() else c for c in chosen)
    try:
        definition = CohortDefinition(**data)
    except ValidationError as err:
        return None, [f"{'.'.join(str(x) for x in e['loc'])}: {e['msg']}" for e in err.errors()]
    problems = []
    if not definition.criteria():
        problems.append("choose at least one criterion")
    purposes = [p.value for p in ws.config.programme.purposes]
    if definition.purpose.value not in purposes:
        problems.append(f"purpose must be one of this programme's: {', '.join(purposes)}")
    return (None if problems else definition), problems


def _form_page(request: Request, ctx: Context, status_code: int = 200, **context):
    form = context.pop("form", None)
    return render(
        request,
        "analyst_cohorts.jinja",
        status_code,
        title="Cohort builder",
        purposes=[(p.value, p.label) for p in ctx.ws.config.programme.purposes],
        numbers=NUMBERS,
        choices=CHOICES,
        values=_values(form),
        **context,
    )


def _values(form: FormData | None) -> dict:
    if form is None:
        return {"match": "all"}
    return {k: (form.getlist(k) if k in CHOICES else form.get(k)) for k in form}


@router.get("")
def builder(request: Request, ctx: Context = Depends(authorised("cohort.preview"))):
    ctx.ws.require_open()
    return _form_page(request, ctx)


@router.post("/preview", dependencies=[Depends(check_csrf)])
async def preview(request: Request, ctx: Context = Depends(authorised("cohort.preview"))):
    """The definition's size and make-up, disclosure-controlled. Nothing is written."""
    ctx.ws.require_open()
    form = await request.form()
    definition, problems = definition_from(form, ctx.ws)
    if definition is None:
        return _form_page(request, ctx, 400, form=form, problems=problems)
    con = ctx.ws.connect_linked(read_only=True)
    try:
        built = build_cohort(con, definition)
    except UserFacingError as err:
        return _form_page(request, ctx, 409, form=form, problems=[str(err)])
    finally:
        con.close()
    ctx.ws.audit.record(
        ctx.actor,
        "cohort.preview",
        purpose=definition.purpose.value,
        reads=("linked",),
        counts={"members": len(built.members)},
    )
    return _form_page(request, ctx, form=form, preview=_make_up(ctx.ws, built))


@router.post("/run", dependencies=[Depends(check_csrf)])
async def run(request: Request, ctx: Context = Depends(authorised("cohort.build"))):
    """Build the cohort exactly as `phm cohort` does, and say which lists were written."""
    ctx.ws.require_open()
    form = await request.form()
    definition, problems = definition_from(form, ctx.ws)
    if definition is None:
        return _form_page(request, ctx, 400, form=form, problems=problems)
    try:
        built, paths = run_cohort(ctx.ws, ctx.actor, definition, ctx.ws.config.engine.kind.value)
    except UserFacingError as err:
        return _form_page(request, ctx, 409, form=form, problems=[str(err)])
    per_practice = built.per_practice()
    rules = rules_for(ctx.ws)
    lists = [[ods, _count(rules, per_practice[ods]), path.name] for ods, path in paths.items()]
    return _form_page(
        request,
        ctx,
        form=form,
        preview=_make_up(ctx.ws, built),
        built=definition.name,
        lists=lists,
    )


def _count(rules, n: int) -> str:
    return cell(rules.publish(n)) if n else "0"


def _make_up(ws: Workspace, built) -> dict:
    rules = rules_for(ws)
    tables = []
    for column, table in make_up(built, rules).items():
        rows = [[str(v), cell(p)] for v, p in zip(table[column], table["people"], strict=True)]
        tables.append({"title": f"By {column.replace('_', ' ')}", "rows": rows})
    size = _count(rules, len(built.members))
    return {
        "size": size if size != REDACTED else f"1–{rules.threshold}",
        "risk_date": built.risk_date,
        "analytics_date": built.analytics_date,
        "tables": tables,
    }
