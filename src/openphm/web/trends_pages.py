"""The Trends page's linked views: practices compared on a funnel plot, and the measures over
the programme's refreshes as XmR charts. Every number comes from openphm.web.trends, which has
already put it through disclosure control. (The Trends page itself is web.analyst's.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request

from openphm.web import charts, figures
from openphm.web import trends as trend_figures
from openphm.web.deps import Context, authorised, render, viewed

router = APIRouter(prefix="/analyst/trends", include_in_schema=False)
REDACTED = "[c]"
NOT_PLOTTED = "not plotted: a count is hidden"
LIMITS_HEADER = [
    "Population", "99.8% lower", "95% lower", "95% upper", "99.8% upper",
]  # fmt: skip


def cell(value, decimals: int = 0) -> str:
    if value is None or value != value:  # None, NaN or pandas' NA
        return REDACTED
    try:
        return f"{value:,.{decimals}f}"
    except TypeError:  # pandas' NA
        return REDACTED


@router.get("/compare")
def compare(
    request: Request,
    measure: str = "emergency_admissions",
    period: str = trend_figures.LAST_12,
    ctx: Context = Depends(authorised("analytics.read")),
):
    """Each practice's rate of one activity measure on a funnel plot, with the table beside."""
    ctx.ws.require_open()
    try:
        found = trend_figures.compare(ctx.ws, measure, period)
    except figures.NotBuilt as err:
        return render(request, "not_built.jinja", title="Compare practices", reason=str(err))
    except LookupError as err:
        raise HTTPException(404, "no such measure or month") from err
    viewed(request, ctx, (f"linked.{trend_figures.TABLE}",))
    per = trend_figures.PER
    people = "person-years" if found.per == "a year" else "registered people"
    unit = f"{found.label} per {per:,} {people}"
    places = 2 if found.per == "a year" else 0  # person-years: published person-months / 12
    rows = [
        [r["practice"], cell(r["events"]), cell(r["population"], places),
         cell(None if r["rate"] is None else per * r["rate"], 2),
         charts.POSITIONS.get(r["funnel"], "") if r["rate"] is not None else NOT_PLOTTED]
        for r in found.rows.astype(object).where(found.rows.notna(), None).to_dict("records")
    ]  # fmt: skip
    average = found.average
    rows.append(["Total", cell(found.total_events), cell(found.total_population, places),
                 cell(None if average is None else per * average, 2), "the average"])  # fmt: skip
    chart, limits = None, []
    populations = [n for n in found.rows["population"] if n is not None and n == n and n > 0]
    if average is not None and populations:
        points = [
            charts.FunnelPoint(r["practice"], r["population"], r["rate"], r["funnel"] or "")
            for r in found.rows.astype(object).where(found.rows.notna(), None).to_dict("records")
        ]
        across = "Person-years registered" if found.per == "a year" else "Registered people"
        chart = charts.funnel_plot(
            f"{found.label} per {per:,} {people} by practice {found.period_words}, against "
            "the practice's population: funnel plot",
            points,
            average,
            found.limits,
            ident="funnel-practice",
            unit="practice",
            scale=charts.per(per, found.label.lower(), f"Per {per:,} {people}", across),
        )
        samples = charts.funnel_samples(max(populations))
        at = found.limits(samples)
        ends = [at["99.8%"][0], at["95%"][0], at["95%"][1], at["99.8%"][1]]
        limits = [
            [f"{n:,}", *(f"{per * end[i]:,.2f}" for end in ends)] for i, n in enumerate(samples)
        ]
    return render(
        request,
        "analyst_trends_compare.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Compare practices",
        found=found,
        unit=unit,
        people=people,
        chart=chart,
        rows=rows,
        limits=limits,
        limits_header=LIMITS_HEADER,
        average=None if average is None else f"{per * average:,.2f}",
        measures=trend_figures.LABELS,
        last_12=trend_figures.LAST_12,
    )


@router.get("/history")
def history(
    request: Request,
    measure: str = "",
    area: str = "",
    ctx: Context = Depends(authorised("analytics.read")),
):
    """One measure at each reference date built (measure_history) as an XmR chart, with the
    data table beside it."""
    ctx.ws.require_open()
    try:
        found = trend_figures.history(ctx.ws, measure, "programme", area)
    except figures.NotBuilt as err:
        return render(request, "not_built.jinja", title="Measures over refreshes", reason=str(err))
    except LookupError as err:
        raise HTTPException(404, "no such measure or area") from err
    viewed(request, ctx, ("linked.measure_history",))
    place = (
        "the whole programme"
        if found.level == "programme"
        else f"{trend_figures.LEVELS[found.level]} {found.area}"
    )
    dates = [str(d) for d in found.rows["reference_date"]]
    # "Emergency admissions per 1,000 people" says its unit; "Diabetes: recorded prevalence"
    # needs "(%)".
    named = found.label if found.unit in found.label else f"{found.label} ({found.unit})"
    chart = found.chart
    drawn = None
    if chart is not None:
        drawn = charts.spc_chart(
            f"{named}, {place}, at each reference date built: XmR chart",
            dates,
            list(chart.values),
            chart,
            unit=found.unit,
            ident="history",
            across="Reference date",
        )
    variation = chart.variation if chart is not None else [""] * len(dates)
    records = found.rows.astype(object).where(found.rows.notna(), None).to_dict("records")
    rows = [
        [str(r["reference_date"]), str(r["built_at"])[:16], cell(r["numerator"]),
         cell(r["denominator"]), cell(r["value"], 2), v]
        for r, v in zip(records, variation, strict=True)
    ]  # fmt: skip
    return render(
        request,
        "analyst_trends_history.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Measures over refreshes",
        found=found,
        named=named,
        place=place,
        chart=drawn,
        xmr=chart,
        rows=rows,
        levels=trend_figures.LEVELS,
    )
