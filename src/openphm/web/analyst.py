"""The analyst's pages: the registered population (age-sex pyramid, ethnic group, IMD decile),
activity with its inequality gradient, registers and prevalence, multimorbidity and frailty,
risk, and indicators with their funnel plots. Every number comes from openphm.web.figures,
measures, risk or indicators, which have already put it through disclosure control."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from fastapi import APIRouter, Depends, HTTPException, Request
from markupsafe import Markup

from openphm.analytics import REGISTERS, areas
from openphm.web import charts, figures, measures
from openphm.web import indicators as indicator_figures
from openphm.web import risk as risk_figures
from openphm.web import trends as trend_figures
from openphm.web.deps import Context, authorised, render, viewed

router = APIRouter(prefix="/analyst", include_in_schema=False)
REDACTED = "[c]"  # the mark for a redacted cell, as published tables use


def cell(value, decimals: int = 0) -> str:
    if pd.isna(value):  # None, NaN or pandas' NA
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
    viewed(request, ctx, ("linked.people",))
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
        reference_date=figures.built_dating(ctx.ws),
        pyramid=pyramid,
        pyramid_rows=[[b, cell(by.get((b, "M"))), cell(by.get((b, "F")))] for b in bands],
        sections=sections,
    )


@router.get("/activity")
def activity(request: Request, ctx: Context = Depends(authorised("linked.query"))):
    ctx.ws.require_open()
    try:
        by = {"imd_decile": figures.activity(ctx.ws), **figures.activity_by_area(ctx.ws)}
    except figures.NotBuilt as err:
        return render(request, "not_built.jinja", title="Activity", reason=str(err))
    viewed(request, ctx, ("linked.people", "linked activity"))
    by_imd = by["imd_decile"]
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
    for column, figure in by.items():
        counts = [c for c in figure.table.columns if c != column and not c.endswith("_per_1000")]
        header = [GROUP_HEADINGS[column]]
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
        reference_date=figures.built_dating(ctx.ws),
        gradients=list(zip(measures, gradients, strict=True)),
        tables=tables,
    )


# The first column's heading of a table by each grouping.
GROUP_HEADINGS = {"imd_decile": "IMD decile", "practice": "Practice", **areas.HEADINGS}


def _label(column: str) -> str:
    return column.removesuffix("_per_1000").replace("_", " ").capitalize()


def interval(low, high, decimals: int = 1) -> str:
    if _value(low) is None or _value(high) is None:
        return REDACTED
    return f"{low:,.{decimals}f}–{high:,.{decimals}f}"


PROPORTION_HEADER = ["Group", "People", "Population", "Crude %", "95% CI", "Age-standardised %",
                     "95% CI"]  # fmt: skip


def proportion_view(p: measures.Proportion) -> dict:
    """A proportion's gradient chart (crude % by IMD decile, 95% intervals), its SII and RII,
    and a table per grouping."""
    deciles = [r for r in p.by["imd_decile"].records() if r["group"] != "Total"]
    chart = charts.bar_chart(
        f"{p.label}, % by IMD decile (1 most deprived), with 95% confidence intervals",
        [(r["group"], _value(r["crude"])) for r in deciles],
        decimals=1,
        intervals=[
            (r["crude_lower_95"], r["crude_upper_95"]) if _value(r["crude"]) is not None else None
            for r in deciles
        ],
    )
    tables = []
    for grouping, figure in p.by.items():
        rows = [
            [
                r["group"],
                cell(r["numerator"]),
                cell(r["denominator"]),
                cell(r["crude"], 1),
                interval(r["crude_lower_95"], r["crude_upper_95"]),
                cell(r["dsr"], 1),
                interval(r["dsr_lower_95"], r["dsr_upper_95"]),
            ]
            for r in figure.records()
        ]
        header = [measures.GROUP_HEADINGS[grouping], *PROPORTION_HEADER[1:]]
        tables.append({"title": figure.title, "header": header, "rows": rows})
    return {
        "name": p.measure,
        "label": p.label,
        "overall": p.overall(),
        "chart": chart,
        "sii": p.inequality["sii"],
        "rii": p.inequality["rii"],
        "tables": tables,
    }


def _not_built(request: Request, title: str, err: figures.NotBuilt):
    return render(request, "not_built.jinja", title=title, reason=str(err))


@router.get("/registers")
def registers(request: Request, ctx: Context = Depends(authorised("analytics.read"))):
    ctx.ws.require_open()
    try:
        found = measures.proportions(ctx.ws, [f"prevalence_{r.name}" for r in REGISTERS])
    except figures.NotBuilt as err:
        return _not_built(request, "Registers and prevalence", err)
    viewed(request, ctx, ("linked.measures",))
    rows = []
    for p in found.values():
        o, sii, rii = p.overall(), p.inequality["sii"], p.inequality["rii"]
        rows.append(
            {
                "href": f"/analyst/registers/{p.measure.removeprefix('prevalence_')}",
                "label": p.label.removesuffix(": recorded prevalence"),
                "cells": [
                    cell(o["numerator"]),
                    cell(o["crude"], 1),
                    interval(o["crude_lower_95"], o["crude_upper_95"]),
                    cell(o["dsr"], 1),
                    cell(sii["value"], 2) if sii else REDACTED,
                    cell(rii["value"], 2) if rii else REDACTED,
                ],
            }
        )
    return render(
        request,
        "analyst_registers.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Registers and prevalence",
        rows=rows,
        denominator=cell(next(iter(found.values())).overall()["denominator"]) if found else "",
    )


@router.get("/registers/{name}")
def register(request: Request, name: str, ctx: Context = Depends(authorised("analytics.read"))):
    ctx.ws.require_open()
    if name not in measures.REGISTER_LABELS:
        raise HTTPException(404, "no such register")
    try:
        found = measures.proportions(ctx.ws, [f"prevalence_{name}"])
    except figures.NotBuilt as err:
        return _not_built(request, "Registers and prevalence", err)
    viewed(request, ctx, ("linked.measures",))
    view = proportion_view(found[f"prevalence_{name}"])
    return render(
        request,
        "analyst_register.jinja",
        dating=figures.built_dating(ctx.ws),
        title=view["label"],
        p=view,
    )


@router.get("/multimorbidity")
def multimorbidity(request: Request, ctx: Context = Depends(authorised("analytics.read"))):
    ctx.ws.require_open()
    try:
        found = measures.distributions(ctx.ws)
        gradients = measures.proportions(ctx.ws, list(measures.MULTIMORBIDITY_MEASURES))
    except figures.NotBuilt as err:
        return _not_built(request, "Multimorbidity and frailty", err)
    viewed(request, ctx, ("linked.measures", "linked.person_scores", "linked.person_segments"))
    sections = []
    for key, figure in found.items():
        rows = figure.records()
        sections.append(
            {
                "title": figure.title,
                "chart": charts.bar_chart(
                    figure.title,
                    [(_level(r[key]), _value(r["people"])) for r in rows if r[key] != "Total"],
                    label_width=170,  # "Stable serious disability"
                ),
                "rows": [[_level(r[key]), cell(r["people"])] for r in rows],
            }
        )
    return render(
        request,
        "analyst_multimorbidity.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Multimorbidity and frailty",
        sections=sections,
        gradients=[proportion_view(p) for p in gradients.values()],
    )


def _level(value: str) -> str:
    """A group as people read it: segment and category names without underscores."""
    return value.replace("_", " ").capitalize() if value[:1].isalpha() else value


CARD_GROUPS = {"imd_quintile": "IMD quintile", "ethnic_group": "Ethnic group", "sex": "Sex"}
METRICS = [
    ("auc", "AUC"),
    ("average_precision", "Average precision"),
    ("calibration_slope", "Calibration slope"),
    ("calibration_intercept", "Calibration intercept"),
    ("observed_rate", "Observed rate"),
    ("mean_predicted", "Mean predicted"),
]


@router.get("/risk")
def risk(request: Request, ctx: Context = Depends(authorised("risk.read"))):
    ctx.ws.require_open()
    try:
        found = risk_figures.distribution(ctx.ws)
        card, calibration = risk_figures.model_card(ctx.ws)
    except figures.NotBuilt as err:
        return _not_built(request, "Risk", err)
    viewed(request, ctx, ("linked.person_risk", "linked.risk_models"))
    deciles = found["deciles"].records()
    bands = found["bands"].records()
    metrics = card["metrics"]
    groups = [
        [
            CARD_GROUPS[g["group_by"]],
            g["group"],
            cell(g["people"]),
            cell(g["events"]),
            *(_metric(g.get(key)) for key, _ in METRICS[:3]),
        ]
        for g in card["groups"]
        if g["group_by"] in CARD_GROUPS
    ]
    return render(
        request,
        "analyst_risk.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Risk of emergency admission",
        found=found,
        deciles_chart=charts.bar_chart(
            "Mean predicted risk (%) by tenth of risk (10 = highest)",
            [
                (r["decile"], _value(r["mean_risk_percent"]))
                for r in deciles
                if r["decile"] != "Total"
            ],
            decimals=1,
        ),
        decile_rows=[
            [r["decile"], cell(r["people"]), cell(r["mean_risk_percent"], 1)] for r in deciles
        ],
        bands_chart=charts.bar_chart(
            found["bands"].title,
            [(r["band"], _value(r["people"])) for r in bands if r["band"] != "Total"],
        ),
        band_rows=[[r["band"], cell(r["people"])] for r in bands],
        rising_rows=[
            [risk_figures.RISING_LABELS.get(r["measure"], r["measure"]), cell(r["people"])]
            for r in found["rising"].records()
        ],
        card=card,
        population_rows=[
            [part.capitalize(), cell(card[part]["people"]), cell(card[part]["events"])]
            for part in ("training", "validation")
        ],
        metric_rows=[
            [label, _metric(metrics["model"][key]), _metric(metrics["baseline"][key])]
            for key, label in METRICS
        ],
        group_rows=groups,
        metric_headers=[label for _, label in METRICS[:3]],
        features=sorted(card["features"], key=lambda f: -f["gain_share"])[:10],
        calibration=Markup(calibration),
    )


def _metric(value) -> str:
    return "–" if value is None else f"{value:.3f}"


@router.get("/indicators")
def indicators(request: Request, ctx: Context = Depends(authorised("analytics.read"))):
    ctx.ws.require_open()
    try:
        found = indicator_figures.catalogue(ctx.ws)
    except figures.NotBuilt as err:
        return _not_built(request, "Indicators", err)
    viewed(request, ctx, ("linked.indicator_counts", "linked.indicator_runs"))
    latest = found.latest
    return render(
        request,
        "analyst_indicators.jinja",
        title="Indicators",
        indicators=found.indicators,
        latest_date=pd.Timestamp(latest["reference_date"]).date(),
        left_out=[n for n in str(latest["left_out"] or "").split(",") if n],
        missing=[n for n in str(latest["missing_codelists"] or "").split(",") if n],
    )


@router.get("/indicators/{name}")
def indicator(
    request: Request,
    name: str,
    reference_date: dt.date | None = None,
    ctx: Context = Depends(authorised("analytics.read")),
):
    ctx.ws.require_open()
    try:
        found = indicator_figures.figures(ctx.ws, name, reference_date)
    except figures.NotBuilt as err:
        return _not_built(request, "Indicators", err)
    except LookupError as err:
        raise HTTPException(404, "no counts for that indicator at that reference date") from err
    viewed(request, ctx, ("linked.indicator_counts",))
    b = found.indicator
    trend_chart, trend_rows = _trend_view(b, found.trend)
    return render(
        request,
        "analyst_indicator.jinja",
        title=b.title,
        b=b,
        reference_date=found.reference_date,
        levels=[_funnel_view(b, f) for f in found.funnels],
        trend_chart=trend_chart,
        trend_rows=trend_rows,
        funnel_header=FUNNEL_HEADER,
        limits_header=LIMITS_HEADER,
    )


FUNNEL_HEADER = ["Flagged", "Denominator", "% flagged", "95% CI", "Against the funnel limits"]
NOT_PLOTTED = "not plotted: a count is hidden"
LIMITS_HEADER = ["Denominator", "99.8% lower %", "95% lower %", "95% upper %", "99.8% upper %"]


def _funnel_view(b: indicator_figures.BuiltIndicator, f: indicator_figures.Funnel) -> dict:
    """One level's funnel plot, its table of areas (Total last) and its limits at sample
    denominators, all from the published counts."""
    noun = indicator_figures.LEVELS[f.level]
    records = f.areas.astype(object).where(f.areas.notna(), None).to_dict("records")
    rows = [
        [r["area"], cell(r["numerator"]), cell(r["denominator"]),
         cell(_percent(r["proportion"]), 1), _interval(r["lower_ci"], r["upper_ci"]),
         charts.POSITIONS.get(r["funnel"], "") if r["proportion"] is not None
         else NOT_PLOTTED]
        for r in records
    ]  # fmt: skip
    total = f.total
    average = f.average
    rows.append(["Total", cell(total["numerator"]), cell(total["denominator"]),
                 cell(_percent(average), 1), "", "the average"])  # fmt: skip
    view = {"level": f.level, "noun": noun, "rows": rows, "chart": None, "limits": []}
    denominators = [r["denominator"] for r in records if r["denominator"] is not None]
    if average is None or not denominators:
        return view
    points = [
        charts.FunnelPoint(r["area"], r["denominator"], r["proportion"], r["funnel"] or "")
        for r in records
    ]
    average_label = "programme average" if f.level == "practice" else f"average of the {noun}s"
    view["chart"] = charts.funnel_plot(
        f"{b.title}: % flagged by {noun} against the people in its denominator",
        points,
        average,
        f.limits,
        ident=f"funnel-{f.level}",
        unit=noun,
        average_label=average_label,
    )
    samples = charts.funnel_samples(max(denominators))
    limits = f.limits(samples)
    ends = [limits["99.8%"][0], limits["95%"][0], limits["95%"][1], limits["99.8%"][1]]
    view["limits"] = [
        [f"{n:,}", *(f"{100 * end[i]:.2f}" for end in ends)] for i, n in enumerate(samples)
    ]
    view["average"] = f"{100 * average:.2f}%"
    return view


def _trend_view(b: indicator_figures.BuiltIndicator, trend: pd.DataFrame):
    """The published rate per reference date: a chart when there is more than one, and rows."""
    records = trend.astype(object).where(trend.notna(), None).to_dict("records")
    rows = [
        [str(r["reference_date"]), cell(r["numerator"]), cell(r["denominator"]),
         cell(_percent(r["proportion"]), 1), _interval(r["lower_ci"], r["upper_ci"])]
        for r in records
    ]  # fmt: skip
    if len(records) < 2:
        return None, rows
    chart = charts.bar_chart(
        f"{b.title}: % flagged by reference date, with 95% confidence intervals",
        [(str(r["reference_date"]), _percent(r["proportion"])) for r in records],
        decimals=1,
        intervals=[
            None if r["proportion"] is None else (100 * r["lower_ci"], 100 * r["upper_ci"])
            for r in records
        ],
    )
    return chart, rows


def _percent(proportion):
    return None if proportion is None else 100 * proportion


def _interval(lower, upper) -> str:
    if lower is None or upper is None:
        return REDACTED
    return interval(100 * lower, 100 * upper)


@router.get("/trends")
def trends(
    request: Request,
    measure: str = "emergency_admissions",
    level: str = "programme",
    area: str = "",
    ctx: Context = Depends(authorised("analytics.read")),
):
    """One activity measure month by month as an XmR chart, with the data table beside it."""
    ctx.ws.require_open()
    try:
        found = trend_figures.trend(ctx.ws, measure, level, area)
    except figures.NotBuilt as err:
        return _not_built(request, "Trends", err)
    except LookupError as err:
        raise HTTPException(404, "no such measure, level or area") from err
    viewed(request, ctx, (f"linked.{trend_figures.TABLE}",))
    place = (
        "the whole programme"
        if found.level == "programme"
        else f"{trend_figures.LEVELS[found.level]} {found.area}"
    )
    unit = f"{found.label} per {trend_figures.PER:,} registered people"
    chart = found.chart
    months = found.rows["month"].tolist()
    drawn = None
    if chart is not None:
        drawn = charts.spc_chart(
            f"{found.label} per {trend_figures.PER:,} registered people a month, {place}: "
            "XmR chart",
            months,
            list(chart.values),
            chart,
            unit=f"per {trend_figures.PER:,} people a month",
            ident="spc",
        )
    variation = chart.variation if chart is not None else [""] * len(months)
    records = found.rows.astype(object).where(found.rows.notna(), None).to_dict("records")
    rows = [
        [r["month"][:7], cell(r["events"]), cell(r["registered"]), cell(r["rate"], 2), v]
        for r, v in zip(records, variation, strict=True)
    ]
    return render(
        request,
        "analyst_trends.jinja",
        dating=figures.built_dating(ctx.ws),
        title="Trends",
        found=found,
        place=place,
        unit=unit,
        chart=drawn,
        xmr=chart,
        rows=rows,
        measures=trend_figures.LABELS,
        levels=trend_figures.LEVELS,
    )
