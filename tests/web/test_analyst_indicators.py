"""The indicators page: what the programme built, and for one indicator its funnel plots by
practice, PCN and place and its trend over refreshes, on a tiny workspace whose counts are
known (tests/web/indicators.py). The limits drawn are rates.py's; every point is placed from
published counts; a practice with 1 to 7 flagged is never plotted at a height; only analysts
see it, and each view is audited."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from openphm.indicators.rates import funnel_limits
from openphm.web.charts import FUNNEL_PLOT

from .helpers import counts_on, sign_in, tables_on
from .indicators import EARLIER, ICBS, INDICATOR, LATEST, SMALL

PAGE = f"/analyst/indicators/{INDICATOR}"
CONFIDENCE = {"95%": 0.95, "99.8%": 0.998}


def entries(ws):
    return list(ws.audit.entries())


def funnel_svg(page: str, level: str) -> ET.Element:
    found = re.search(rf'<svg[^>]*aria-labelledby="funnel-{level}-title.*?</svg>', page, re.S)
    assert found, f"no funnel plot by {level}"
    return ET.fromstring(found.group(0))


def axes(svg: ET.Element) -> tuple[float, float]:
    """The ends of the plot's axes, as its description tells a screen reader."""
    desc = svg.find("desc").text
    y_end = re.search(r"vertical axis, 0% to ([\d.]+)%", desc).group(1)
    x_end = re.search(r"horizontal axis, 0 to ([\d,]+)\)", desc).group(1)
    return float(x_end.replace(",", "")), float(y_end) / 100


def to_data(svg: ET.Element, px: float, py: float) -> tuple[float, float]:
    """A point of the drawing as (denominator, proportion)."""
    left, top, right, bottom = FUNNEL_PLOT
    x_end, y_end = axes(svg)
    return (px - left) / (right - left) * x_end, (bottom - py) / (bottom - top) * y_end


def practice_rows(page: str) -> dict[str, list[str]]:
    table = tables_on(page)[f"Flagged per practice as at {LATEST}"]
    return {row[0]: row[1:] for row in table}


# ----- who may see it -----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/analyst/indicators", PAGE])
@pytest.mark.parametrize("name", ["pat", "dora", "otto", "eng"])
def test_only_an_analyst_sees_the_indicators_and_a_refusal_is_audited(
    indicators_client, path, name
):
    client, ws = indicators_client
    sign_in(client, name)
    assert client.get(path).status_code == 403
    last = entries(ws)[-1]
    assert (last.user, last.outcome, last.action) == (name, "refused", "analytics.read")
    client.cookies.clear()
    sign_in(client, "ana")
    page = client.get(path)
    assert page.status_code == 200
    assert 'href="/analyst/indicators"' in page.text  # in the analyst's menu


def test_each_view_of_the_pages_is_audited_as_the_other_pages_are(indicators_client):
    client, ws = indicators_client
    sign_in(client, "ana")
    before = len(entries(ws))
    client.get("/analyst/indicators")
    client.get(PAGE)
    client.get(f"{PAGE}?reference_date={EARLIER}")  # the same page: counted, not a new entry
    views = [e for e in entries(ws)[before:] if e.action == "web.view"]
    assert [(e.user, e.reason.split()[1], e.reads) for e in views] == [
        ("ana", "/analyst/indicators", ("linked.indicator_counts", "linked.indicator_runs")),
        ("ana", "/analyst/indicators/{name}", ("linked.indicator_counts",)),
    ]


# ----- what was built -----------------------------------------------------------------------


def test_the_list_names_each_indicator_built_with_its_purpose_description_and_source(
    indicators_client,
):
    client, _ = indicators_client
    sign_in(client, "ana")
    rows = tables_on(client.get("/analyst/indicators").text)["Indicators built"]
    by_name = {row[0].split()[-1]: row for row in rows}
    assert len(by_name) == 11  # the PINCER pack
    gi_a = by_name[INDICATOR]
    assert gi_a[0].startswith("NSAID at 65 or over without gastroprotection")
    assert gi_a[1] == "Safety monitoring"
    assert gi_a[2].startswith("People aged 65 or over issued an oral NSAID")
    assert gi_a[3] == "PINCER GI_P3A; pincer-measures indicator a"
    assert gi_a[4] == f"{EARLIER}, {LATEST}"
    assert by_name["pincer_mo_li"][4] == "Built; nobody was in its denominator"


def test_with_no_indicators_built_the_page_says_how_to_build_them(client, as_role):
    as_role("ana")
    for path in ("/analyst/indicators", PAGE):
        page = client.get(path)
        assert page.status_code == 200
        assert "no indicators have been built yet" in page.text
        assert "Run phm indicators WORKSPACE --role analyst" in page.text


def test_an_indicator_or_date_not_built_is_not_found(indicators_client):
    client, _ = indicators_client
    sign_in(client, "ana")
    assert client.get("/analyst/indicators/pincer_mo_li").status_code == 404  # nobody in it
    assert client.get("/analyst/indicators/no_such_thing").status_code == 404
    assert client.get(f"{PAGE}?reference_date=2026-01-31").status_code == 404


# ----- the funnel plots ---------------------------------------------------------------------


def test_the_limits_drawn_and_tabled_are_rates_limits_around_the_published_average(
    indicators_client,
):
    client, _ = indicators_client
    sign_in(client, "ana")
    page = client.get(PAGE).text
    tables = tables_on(page)
    for level, noun in (("practice", "practice"), ("pcn", "primary care network"),
                        ("place", "place"), ("icb", "integrated care board")):  # fmt: skip
        rows = tables[f"Flagged per {noun} as at {LATEST}"]
        total = rows[-1]
        assert total[0] == "Total"
        average = int(total[1].replace(",", "")) / int(total[2].replace(",", ""))
        samples = tables[f"The funnel limits by {noun}, around the average of "
                         f"{100 * average:.2f}%, at sample denominators (the curves on the "
                         "plot)"]  # fmt: skip
        sampled = [int(r[0].replace(",", "")) for r in samples]
        assert sampled == [10, 20, 50, 100, 200, 500, 1000][: len(sampled)]
        for n, row in zip(sampled, samples, strict=True):
            low_998, high_998 = funnel_limits([n], average, 0.998)
            low_95, high_95 = funnel_limits([n], average, 0.95)
            expected = [low_998[0], low_95[0], high_95[0], high_998[0]]
            assert row[1:] == [f"{100 * v:.2f}" for v in expected], (level, n)
        svg = funnel_svg(page, level)
        x_end, _ = axes(svg)
        lines = svg.findall("polyline")
        assert {line.get("data-limit") for line in lines} == set(CONFIDENCE)
        for line in lines:
            vertices = [tuple(map(float, v.split(","))) for v in line.get("points").split()]
            assert len(vertices) > 50
            drawn = [to_data(svg, px, py) for px, py in vertices]
            low, high = funnel_limits([n for n, _ in drawn], average,
                                      CONFIDENCE[line.get("data-limit")])  # fmt: skip
            # Each vertex lies on the lower or the upper limit (to 4 places of a proportion: the
            # drawing's coordinates have two decimals of a pixel).
            on_lower = all(abs(p - v) < 1e-4 for (_, p), v in zip(drawn, low, strict=True))
            on_upper = all(abs(p - v) < 1e-4 for (_, p), v in zip(drawn, high, strict=True))
            assert on_lower or on_upper, (level, line.get("data-limit"))
            # The sample denominators are among the vertices drawn (where the curve is drawn).
            xs = {round(n) for n, _ in drawn if abs(n - round(n)) < 0.01 * x_end / 552}
            assert {n for n in sampled if n >= drawn[0][0]} <= xs
        average_line = svg.findall("line[@class='phm-average']")[0]  # the plot's, then the key's
        assert to_data(svg, 0, float(average_line.get("y1")))[1] == pytest.approx(average, abs=1e-3)


def test_an_icb_of_places_has_its_funnel_its_rows_the_places_under_the_icbs_names(
    indicators_client,
):
    """Each ICB is one place here (tests/web/indicators.py), so the ICB funnel's table is the
    places' table again, each row named "ICB name (code)"."""
    client, _ = indicators_client
    sign_in(client, "ana")
    tables = tables_on(client.get(PAGE).text)
    places = {row[0]: row[1:] for row in tables[f"Flagged per place as at {LATEST}"]}
    icbs = {row[0]: row[1:] for row in tables[f"Flagged per integrated care board as at {LATEST}"]}
    named = {f"{name} ({code})": place for code, (name, place) in ICBS.items()}
    assert set(icbs) == {*named, "Total"}
    for icb, place in named.items():
        assert icbs[icb] == places[place]
    assert icbs["Total"] == places["Total"]


def test_each_practice_is_a_point_at_its_published_counts_and_an_outlier_is_named(
    indicators_client,
):
    client, ws = indicators_client
    sign_in(client, "ana")
    page = client.get(PAGE).text
    rows = practice_rows(page)
    svg = funnel_svg(page, "practice")
    marks = {m.find("title").text.split(":")[0]: m for m in svg if m.find("title") is not None}
    for practice, (flagged, denominator, percent, _, where) in rows.items():
        if practice == "Total" or flagged == "[c]":
            continue
        mark = marks[practice]
        if mark.tag == "circle":
            px, py = float(mark.get("cx")), float(mark.get("cy"))
        elif mark.tag == "rect":
            px, py = float(mark.get("x")) + 4, float(mark.get("y")) + 4
        else:  # a triangle: its apex is 6 px from the point, its base 3 px the other way
            apex, first = mark.get("d").split("L")[-1], mark.get("d")[1:].split("L")[0]
            px = float(apex.split(",")[0])
            py = (float(apex.rstrip("Z").split(",")[1]) + 2 * float(first.split(",")[1])) / 3
        shape = {"within the limits": "circle", "above the 95% limit": "rect",
                 "below the 95% limit": "rect"}.get(where, "path")  # fmt: skip
        assert mark.tag == shape, practice  # the shape says where it lies, not colour alone
        n, p = to_data(svg, px, py)
        assert n == pytest.approx(int(denominator), abs=0.01)
        assert p == pytest.approx(int(flagged) / int(denominator), abs=1e-4)
        assert f"{100 * p:.1f}" == percent
    assert rows["Y10002"][:3] == ["70", "200", "35.0"]
    assert rows["Y10002"][4] == "above the 99.8% limit"
    assert marks["Y10002"].tag == "path"  # a triangle, not only a colour
    named = [t.text for t in svg.findall("text")]
    assert "Y10002" in named
    assert "above the 99.8% limit: Y10002" in svg.find("desc").text
    # What the page says of each plotted practice is what indicator_rates says of it, here
    # where every plotted practice's published counts are its true counts.
    con = ws.connect_linked(read_only=True)
    try:
        truth = dict(con.execute(
            "SELECT area, funnel FROM linked.indicator_rates WHERE indicator = $i AND level = "
            "'practice' AND reference_date = $d", {"i": INDICATOR, "d": LATEST},
        ).fetchall())  # fmt: skip
    finally:
        con.close()
    for practice in ("Y10002", "Y10005", "Y10006", "Y10007", "Y10008"):
        assert rows[practice][4].startswith(truth[practice].split()[0]) or (
            truth[practice] == "within" and rows[practice][4] == "within the limits"
        ), practice


def test_a_practice_with_1_to_7_flagged_is_never_plotted_at_a_height(indicators_client):
    client, _ = indicators_client
    sign_in(client, "ana")
    page = client.get(PAGE).text
    rows = practice_rows(page)
    # Y10003 flagged 3 of 90: hidden, and so is a partner in its PCN (North PCN's published
    # count less its other practices' would give it away).
    assert rows["Y10003"][0] == "[c]" and rows["Y10003"][2] == "[c]"
    assert rows["Y10003"][4] == "not plotted: a count is hidden"
    north = [p for p in ("Y10001", "Y10002", "Y10004") if rows[p][0] == "[c]"]
    assert north, "Y10003 could be worked out from North PCN"
    svg = funnel_svg(page, "practice")
    bottom = FUNNEL_PLOT[3]
    for mark in svg:
        title = mark.find("title")
        if title is None or not title.text.startswith("Y10003"):
            continue
        assert mark.tag == "circle" and mark.get("class") == "phm-point--hidden"
        assert float(mark.get("cy")) > bottom  # below the axis, at no height
        assert "%" not in title.text and "count hidden" in title.text
    counts = counts_on(page)
    assert not [c for c in counts if 1 <= c <= 7], "a count from 1 to 7 was shown"
    assert all(c % 5 == 0 for c in counts), "a count was not rounded to 5"


def test_an_indicator_whose_counts_are_all_hidden_has_no_point_and_no_plot(indicators_client):
    client, _ = indicators_client
    sign_in(client, "ana")
    page = client.get(f"/analyst/indicators/{SMALL}").text  # 2 flagged of 6, at one practice
    assert "<svg" not in page.split("<h2>By practice</h2>")[1].split("<h2>")[0]
    assert "No funnel plot: the total is hidden" in page
    rows = practice_rows(page)
    assert rows["Y10001"] == ["[c]", "[c]", "[c]", "[c]", "not plotted: a count is hidden"]
    assert rows["Total"][:3] == ["[c]", "[c]", "[c]"]
    assert not [c for c in counts_on(page) if 1 <= c <= 7]


def test_the_trend_shows_each_refresh_and_an_earlier_date_can_be_chosen(indicators_client):
    client, _ = indicators_client
    sign_in(client, "ana")
    page = client.get(PAGE).text
    assert "Trend over refreshes" in page
    trend = tables_on(page)["Flagged in the whole programme, per reference date"]
    assert [row[:4] for row in trend] == [
        [str(EARLIER), "105", "940", "11.2"],
        [str(LATEST), "140", "940", "14.9"],
    ]
    earlier = client.get(f"{PAGE}?reference_date={EARLIER}").text
    rows = tables_on(earlier)[f"Flagged per practice as at {EARLIER}"]
    assert rows[2][:3] == ["Y10003", "10", "90"]  # 9 flagged then: rounded, and plotted
    assert "Y10003: 11.1% of 90" in earlier
