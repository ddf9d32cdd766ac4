"""The analyst's pages: the registered population (age-sex pyramid, ethnic group, IMD decile)
and activity with its inequality gradient. Every number comes from openphm.web.figures, which
has already put it through disclosure control."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from openphm.web import charts, figures
from openphm.web.deps import Context, authorised, render

router = APIRouter(prefix="/analyst", include_in_schema=False)
REDACTED = "[c]"  # the mark for a redacted cell, as published tables use


def cell(value, decimals: int = 0) -> str:
    if value is None or value != value:  # None or NA/NaN
        return REDACTED
    return f"{value:,.{decimals}f}"


def _value(value):
    return None if value is None or value != value else value


@router.get("/population")
def population(request: Request, ctx: Context = Depends(authorised("linked.query"))):
    ctx.ws.require_open()
    try:
        found = figures.population(ctx.ws)
    except figures.NotBuilt as err:
        return render(request, "not_built.jinja", title="Population", reason=str(err))
    ctx.ws.audit.record(ctx.actor, "linked.query", reads=("linked.people",))
    age_sex = found["age_sex"].records()
    by = {(r["age_band"], r["sex"]): _value(r["people"]) for r in age_sex}
    bands = figures.AGE_BANDS
    pyramid = charts.pyramid(
        found["age_sex"].title,
        bands,
        [by.get((b, "M")) for b in bands],
        [by.get((b, "F")) for b in bands],
    )
    sections = []
    for key, column in (("ethnicity", "ethnic_group"), ("imd", "imd_decile")):
        figure = found[key]
        rows = figure.records()
        sections.append(
            {
                "title": figure.title,
                "chart": charts.bar_chart(
                    figure.title,
                    [(r[column], _value(r["people"])) for r in rows if r[column] != "Total"],
                ),
                "rows": [[r[column], cell(r["people"])] for r in rows],
                "column": "Ethnic group" if key == "ethnicity" else "IMD decile",
            }
        )
    return render(
        request,
        "analyst_population.jinja",
        title="Population",
        reference_date=figures.reference_date(ctx.ws),
        pyramid=pyramid,
        pyramid_rows=[[b, cell(by.get((b, "M"))), cell(by.get((b, "F")))] for b in bands],
        sections=sections,
    )


@router.get("/activity")
def activity(request: Request, ctx: Context = Depends(authorised("linked.query"))):
    ctx.ws.require_open()
    try:
        by_imd = figures.activity(ctx.ws, "imd_decile")
        by_practice = figures.activity(ctx.ws, "practice")
    except figures.NotBuilt as err:
        return render(request, "not_built.jinja", title="Activity", reason=str(err))
    ctx.ws.audit.record(ctx.actor, "linked.query", reads=("linked.people", "linked activity"))
    measures = [c for c in by_imd.table.columns if c.endswith("_per_1000")]
    gradients = [
        charts.bar_chart(
            f"{_label(m)} per 1,000 people, by IMD decile (1 most deprived)",
            [
                (r["imd_decile"], _value(r[m]))
                for r in by_imd.records()
                if r["imd_decile"] != "Total"
            ],
            decimals=1,
        )
        for m in measures
    ]
    tables = []
    for figure, column in ((by_imd, "imd_decile"), (by_practice, "practice")):
        counts = [c for c in figure.table.columns if c != column and not c.endswith("_per_1000")]
        header = [column.replace("_", " ").capitalize()]
        for c in counts:
            header.append(_label(c))
            if c != "people":
                header.append("per 1,000")
        rows = []
        for r in figure.records():
            row = [r[column]]
            for c in counts:
                row.append(cell(r[c]))
                if c != "people":
                    row.append(cell(r[f"{c}_per_1000"], 1))
            rows.append(row)
        tables.append({"title": figure.title, "header": header, "rows": rows})
    return render(
        request,
        "analyst_activity.jinja",
        title="Activity and inequality",
        reference_date=figures.reference_date(ctx.ws),
        gradients=list(zip(measures, gradients, strict=True)),
        tables=tables,
    )


def _label(column: str) -> str:
    return column.removesuffix("_per_1000").replace("_", " ").capitalize()
