"""The Trends page: each activity measure month by month as an XmR chart with its data table,
for the programme or one area; the programme's emergency admissions equal an independent count
from the linked zone's spells, rounded as disclosure control publishes them; the chart is
titled, has axes and a unit, and its mean and limits are those of the rates in the table."""

from __future__ import annotations

import re
import statistics

import pytest

from .helpers import Tables, sign_in

SPELLS_BY_MONTH = """
WITH months AS (
    SELECT DISTINCT date_trunc('month', admission_date)::DATE AS month FROM linked.apc_spells
), registered AS (
    SELECT DISTINCT r.pseudonym, m.month
    FROM linked.registrations r JOIN months m
      ON r.start_date <= last_day(m.month) AND (r.end_date IS NULL OR r.end_date >= m.month)
    JOIN linked.people p ON p.pseudonym = r.pseudonym
    WHERE (p.date_of_death IS NULL OR p.date_of_death >= m.month)
      AND p.birth_month <= last_day(m.month)
)
SELECT strftime(s.month, '%Y-%m') AS month, count(*) AS spells
FROM (SELECT pseudonym, date_trunc('month', admission_date)::DATE AS month
      FROM linked.apc_spells WHERE emergency) s
JOIN registered USING (pseudonym, month)
GROUP BY 1 ORDER BY 1
"""


def _table(page: str) -> list[list[str]]:
    parser = Tables()
    parser.feed(page)
    (rows,) = [rows for caption, rows in parser.tables.items() if "by month" in caption]
    return rows


def _number(text: str) -> float:
    return float(text.replace(",", ""))


def test_the_programme_s_emergency_admissions_by_month_equal_an_independent_count(
    region_client,
):
    client, ws = region_client
    sign_in(client, "ana")
    page = client.get("/analyst/trends").text
    rows = _table(page)
    con = ws.connect_linked(read_only=True)
    try:
        counted = dict(con.execute(SPELLS_BY_MONTH).fetchall())
    finally:
        con.close()
    assert len(rows) >= 12
    for month, events, registered, rate, _variation in rows:
        expected = counted.get(month, 0)
        assert _number(events) == 5 * round(expected / 5), month  # rounded to 5 as published
        assert _number(rate) == pytest.approx(
            1000 * _number(events) / _number(registered), abs=0.006
        )


def test_the_chart_is_titled_with_axes_and_its_limits_are_the_tables(region_client):
    client, _ = region_client
    sign_in(client, "ana")
    page = client.get("/analyst/trends").text
    svg = re.search(r'<svg class="phm-chart phm-spc".*?</svg>', page, re.S).group(0)
    title = re.search(r"<title id=\"spc-title\">(.*?)</title>", svg).group(1)
    assert "Emergency admissions per 1,000 registered people a month" in title
    assert "XmR chart" in title
    assert "Month of data" in svg and "per 1,000 people a month" in svg  # both axes named
    rates = [_number(r[3]) for r in _table(page)]
    mean = statistics.fmean(rates)
    moving = statistics.fmean(abs(a - b) for a, b in zip(rates[1:], rates[:-1], strict=False))
    shown = re.search(r"process limits ([\d,.]+) to ([\d,.]+)", svg)
    # The page rounds the rates to 2 places: the limits agree to that rounding.
    assert _number(shown.group(1)) == pytest.approx(mean - 2.66 * moving, abs=0.05)
    assert _number(shown.group(2)) == pytest.approx(mean + 2.66 * moving, abs=0.05)
    assert svg.count('class="phm-point') >= len(rates)  # one mark per month, legend besides


def test_one_practice_s_series_and_unknown_choices(region_client):
    client, ws = region_client
    sign_in(client, "ana")
    practice = ws.config.programme.controllers[0]
    page = client.get(f"/analyst/trends?measure=gp_consultations&area={practice}")
    assert page.status_code == 200
    assert f"practice {practice}" in page.text
    assert client.get("/analyst/trends?measure=nope").status_code == 404
    assert client.get("/analyst/trends?area=Z99999").status_code == 404


def _caption_table(page: str, words: str) -> list[list[str]]:
    parser = Tables()
    parser.feed(page)
    (rows,) = [rows for caption, rows in parser.tables.items() if words in caption]
    return rows


@pytest.mark.parametrize("period", ["last-12-months", "month"])
def test_compare_practices_funnel_plot_from_published_counts(region_client, period):
    """The funnel plot of practices: each rate is the published events over the published
    population, the average is the Total's, and where each practice lies is against exact
    Poisson limits recomputed here from the chi-squared distribution."""
    from scipy.optimize import brentq
    from scipy.stats import chi2

    client, _ = region_client
    sign_in(client, "ana")
    if period == "month":
        months = _table(client.get("/analyst/trends").text)
        period = months[-1][0]
    page = client.get(f"/analyst/trends/compare?measure=emergency_admissions&period={period}")
    assert page.status_code == 200
    html = page.text
    svg = re.search(r'<svg class="phm-chart phm-funnel".*?</svg>', html, re.S).group(0)
    title = re.search(r'<title id="funnel-practice-title">(.*?)</title>', svg).group(1)
    assert "Emergency admissions per 1,000" in title and "by practice" in title
    yearly = period == "last-12-months"
    people = "person-years" if yearly else "registered people"
    assert f"Per 1,000 {people}" in svg  # the vertical axis
    assert ("Person-years registered" if yearly else "Registered people") in svg
    rows = _caption_table(html, "by practice")
    *practices, total = rows
    assert total[0] == "Total"
    average = _number(total[1]) / _number(total[2])
    # Person-years are shown to 2 places: the rates agree to that and the rates' rounding.
    assert _number(total[3]) == pytest.approx(1000 * average, abs=0.006, rel=1e-4)
    checked = 0
    for name, events, population, rate, where in practices:
        if "[c]" in (events, population):
            assert where == "not plotted: a count is hidden"
            continue
        e, n = _number(events), _number(population)
        assert _number(rate) == pytest.approx(1000 * e / n, abs=0.006, rel=1e-4), name
        expected = average * n
        # The 99.8% limits on the count, solved from chi-squared quantiles directly.
        high = brentq(
            lambda o, x=expected: chi2.ppf(0.001, 2 * o) / 2 - x, 1e-9, 10 * expected + 50
        )
        low = (
            0.0
            if chi2.ppf(0.999, 2) / 2 >= expected
            else brentq(
                lambda o, x=expected: chi2.ppf(0.999, 2 * (o + 1)) / 2 - x, 0, 10 * expected + 50
            )
        )
        if e > high * (1 + 1e-6):
            assert where == "above the 99.8% limit", name
        elif e < low * (1 - 1e-6):
            assert where == "below the 99.8% limit", name
        else:
            assert "99.8%" not in where, name
        checked += 1
    assert checked >= 2  # the test region has few practices; each plotted one is checked
    limits = _caption_table(html, "funnel limits")
    assert len(limits) >= 3


def test_compare_refuses_unknown_choices(region_client):
    client, _ = region_client
    sign_in(client, "ana")
    assert client.get("/analyst/trends/compare?measure=nope").status_code == 404
    assert client.get("/analyst/trends/compare?period=1999-01").status_code == 404


def test_measures_over_refreshes_as_an_xmr_chart_with_its_table(region_client):
    """A second build at an earlier reference date adds a point to measure_history; the page
    charts the programme's published value at each date (the practices' counts summed and
    rounded as disclosure control publishes them), warns that 2 points are too few, and says
    so in the chart's title and axes."""
    import datetime as dt
    import time

    from openphm import clock
    from openphm.analytics import AnalyticsOptions, build

    client, ws = region_client
    con = ws.connect_linked()
    started = time.perf_counter()
    try:
        with clock.frozen_at("2026-11-20T09:30:00"):
            build(con, dt.date(2026, 9, 30), AnalyticsOptions(groupings=("practice",),
                                                               sii_simulations=10))  # fmt: skip
        kept = con.execute(
            "SELECT reference_date::VARCHAR, sum(numerator), sum(denominator) "
            "FROM linked.measure_history WHERE measure = 'rate_emergency_admissions' "
            "AND statistic = 'crude' AND group_by = 'practice' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert time.perf_counter() - started < 300
    assert [day for day, *_ in kept] == ["2026-09-30", "2026-10-31"]
    sign_in(client, "ana")
    page = client.get("/analyst/trends/history?measure=rate_emergency_admissions")
    assert page.status_code == 200
    html = page.text
    rows = _caption_table(html, "by reference date")
    assert [r[0] for r in rows] == ["2026-09-30", "2026-10-31"]
    for (day, numerator, denominator), row in zip(kept, rows, strict=True):
        assert _number(row[2]) == 5 * round(numerator / 5), day
        assert _number(row[3]) == 5 * round(denominator / 5), day
        assert _number(row[4]) == pytest.approx(1000 * _number(row[2]) / _number(row[3]), abs=0.006)
    svg = re.search(r'<svg class="phm-chart phm-spc".*?</svg>', html, re.S).group(0)
    title = re.search(r'<title id="history-title">(.*?)</title>', svg).group(1)
    assert "XmR chart" in title and "per 1,000 people" in title
    assert "Reference date" in svg and ">per 1,000 people<" in svg  # both axes named
    assert "Only 2 points" in html  # fewer than 12: the SPC module's warning
    assert client.get("/analyst/trends/history?measure=nope").status_code == 404
    one = client.get(f"/analyst/trends/history?area={ws.config.programme.controllers[0]}")
    assert one.status_code == 200


def test_the_icb_is_an_area_of_the_trends_page(region_client):
    """programme.toml's ICB (the synthetic region's: one, holding every practice) is offered
    as an area; being the whole programme, its series is the programme's."""
    client, ws = region_client
    (code,) = ws.config.indicators.icbs
    label = f"{ws.config.indicators.icbs[code].name} ({code})"
    sign_in(client, "ana")
    whole = client.get("/analyst/trends").text
    assert f"Integrated care board: {label}" in whole
    page = client.get("/analyst/trends", params={"area": label})
    assert page.status_code == 200
    assert f"integrated care board {label}" in page.text
    assert _table(page.text) == _table(whole)
