"""Rates per practice, PCN and place with funnel plot limits, PHE/OHID's method for
proportions: the limit at a denominator is the proportion whose Wilson score interval just
reaches the average of the areas plotted."""

from __future__ import annotations

import datetime as dt
from statistics import NormalDist

import pandas as pd
import pytest

from openphm.analytics.stats import wilson
from openphm.indicators.rates import funnel_limits, rates


def _wilson_reaches(n: int, average: float, confidence: float, side: str) -> float:
    """Independently: bisect for the observed proportion whose Wilson interval's near end is
    the average (its lower end, for the upper limit; its upper end, for the lower)."""
    lo, hi = (average, 1.0) if side == "upper" else (0.0, average)
    for _ in range(200):
        mid = (lo + hi) / 2
        _, lower, upper = wilson(mid * n, n, confidence)
        end = float(lower if side == "upper" else upper)
        if end < average:  # both ends rise with the observed proportion
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


@pytest.mark.parametrize("n", [7, 25, 100, 1_000, 12_345])
@pytest.mark.parametrize("average", [0.012, 0.2, 0.5, 0.93])
@pytest.mark.parametrize("confidence", [0.95, 0.998])
def test_funnel_limits_equal_an_independent_calculation_to_4_decimal_places(n, average, confidence):
    lower, upper = funnel_limits([n], average, confidence)
    assert round(float(upper[0]), 4) == round(_wilson_reaches(n, average, confidence, "upper"), 4)
    expected_lower = _wilson_reaches(n, average, confidence, "lower")
    assert round(float(lower[0]), 4) == round(max(expected_lower, 0.0), 4)


def test_funnel_limits_match_worked_values_of_phes_method():
    # PHEindicatormethods' funnel formula (sigma_adjustment, p = 0.975 and 0.999), worked for
    # an average of 20% at a denominator of 100 and 5% at 1,000.
    assert [round(float(x[0]), 4) for x in funnel_limits([100], 0.2, 0.95)] == [0.1216, 0.2784]
    assert [round(float(x[0]), 4) for x in funnel_limits([100], 0.2, 0.998)] == [0.0764, 0.3236]
    assert [round(float(x[0]), 4) for x in funnel_limits([1000], 0.05, 0.998)] == [0.0287, 0.0713]
    z = NormalDist().inv_cdf(0.999)
    assert round(float(funnel_limits([1], 0.5, 0.998)[1][0]), 4) == min(1.0, round(0.5 + z / 2, 4))


COUNTS = pd.DataFrame({
    "reference_date": dt.date(2026, 10, 31), "pack": "pincer", "purpose": "safety-monitoring",
    "indicator": "pincer_gi_a",
    "practice": ["A81001", "A81002", "A81003", "A81004"],
    "numerator": [10, 40, 2, 0], "denominator": [100, 100, 100, 50],
})  # fmt: skip
AREAS = {"pcn": {"A81001": "North", "A81002": "North", "A81003": "South"},
         "place": {p: "Valley" for p in COUNTS["practice"]}}  # fmt: skip


def test_rates_are_given_per_practice_pcn_place_and_overall_around_each_levels_average():
    table = rates(COUNTS, AREAS).set_index(["level", "area"])
    assert table.loc[("pcn", "North"), ["numerator", "denominator"]].tolist() == [50, 200]
    assert table.loc[("pcn", "South"), ["numerator", "denominator"]].tolist() == [2, 100]
    assert ("pcn", "A81004") not in table.index  # a practice in no PCN is left out of PCNs
    assert table.loc[("place", "Valley"), "numerator"] == 52
    assert table.loc[("all", "all"), "denominator"] == 350
    # The practices' average is 52/350; PCNs' is 52/300 (A81004 is in none).
    assert table.loc[("practice", "A81001"), "average"] == pytest.approx(52 / 350)
    assert table.loc[("pcn", "North"), "average"] == pytest.approx(52 / 300)


def test_an_area_beyond_the_limits_is_named_as_such():
    table = rates(COUNTS, AREAS).set_index(["level", "area"])
    assert table.loc[("practice", "A81002"), "funnel"] == "above 99.8%"  # 40% against 14.9%
    assert table.loc[("practice", "A81003"), "funnel"] == "below 99.8%"
    assert table.loc[("practice", "A81001"), "funnel"] == "within"
    value, lower, upper = wilson(40, 100)
    row = table.loc[("practice", "A81002")]
    assert (row["proportion"], row["lower_ci"], row["upper_ci"]) == (value, lower, upper)
