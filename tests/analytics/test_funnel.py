"""Funnel limits for rates (analytics.funnel) against the exact Poisson confidence limits of
published tables and an independent recomputation from the chi-squared distribution."""

from __future__ import annotations

import pytest
from scipy.optimize import brentq
from scipy.stats import chi2

from openphm.analytics import funnel

# Exact (Garwood) 95% confidence limits of a Poisson count, as tabled in Geigy's Scientific
# Tables and reproduced in PHE's Fingertips technical guide (observed: lower, upper).
PUBLISHED_95 = {1: (0.0253, 5.5716), 5: (1.6235, 11.6683), 10: (4.7954, 18.3904),
                20: (12.2165, 30.8884)}  # fmt: skip


@pytest.mark.parametrize("observed", sorted(PUBLISHED_95))
def test_a_count_on_the_limit_is_the_one_whose_exact_interval_reaches_the_expected(observed):
    lower, upper = PUBLISHED_95[observed]
    # With the expected count at the count's lower limit, that count is on the upper funnel
    # limit; at its upper limit, on the lower funnel limit (population 1: the rate is a count).
    _, up = funnel.poisson_limits([1.0], lower, 0.95)
    low, _ = funnel.poisson_limits([1.0], upper, 0.95)
    assert up[0] == pytest.approx(observed, abs=2e-3)
    assert low[0] == pytest.approx(observed, abs=2e-3)


def _independent(expected: float, confidence: float) -> tuple[float, float]:
    """The limit counts from chi-squared quantiles directly (not the incomplete gamma)."""
    alpha = 1 - confidence

    def lower_of(o):  # the exact lower confidence limit of a count o
        return chi2.ppf(alpha / 2, 2 * o) / 2 if o > 0 else 0.0

    def upper_of(o):
        return chi2.ppf(1 - alpha / 2, 2 * (o + 1)) / 2

    high = brentq(lambda o: lower_of(o) - expected, 1e-9, 10 * expected + 50)
    low = (
        0.0
        if upper_of(0) >= expected
        else brentq(lambda o: upper_of(o) - expected, 0.0, 10 * expected + 50)
    )
    return low, high


def test_a_small_table_s_limits_and_positions():
    # Four practices: events in a month and people registered.
    table = {"P1": (12, 1000), "P2": (30, 2500), "P3": (3, 400), "P4": (95, 3100)}
    events = sum(e for e, _ in table.values())
    people = sum(n for _, n in table.values())
    average = events / people  # 140 / 7000 = 0.02 a person
    assert average == pytest.approx(0.02)
    for name, (_events, n) in table.items():
        for label, confidence in funnel.LIMITS:
            low, high = _independent(average * n, confidence)
            got_low, got_high = funnel.poisson_limits([n], average, confidence)
            assert got_low[0] * n == pytest.approx(low, abs=1e-6), (name, label)
            assert got_high[0] * n == pytest.approx(high, abs=1e-6), (name, label)
    # P4 (95 where 62 expected) is beyond the 99.8% limit, P3 (3 where 8 expected) within.
    limits = funnel.limits_at(average)
    big = limits([3100])
    assert big["99.8%"][1][0] < 95 / 3100
    assert funnel.where(95 / 3100, *big["95%"], *big["99.8%"]) == "above 99.8%"
    small = limits([400])
    assert small["95%"][0][0] < 3 / 400 < small["95%"][1][0]
    assert funnel.where(3 / 400, *small["95%"], *small["99.8%"]) == "within"


def test_no_events_expected_gives_a_lower_limit_of_zero():
    low, high = funnel.poisson_limits([10.0, 0.0], 0.0, 0.95)
    assert low[0] == 0.0 and high[0] == 0.0
    assert low[1] != low[1]  # no population: no limit (NaN)
