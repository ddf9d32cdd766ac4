"""Funnel plot limits for rates: events per population, with exact Poisson limits.

A rate of events (admissions, consultations) per person is not a proportion: a person can have
several events, so the events of an area are Poisson, not binomial. The limits follow PHE/OHID's
method for rates (Fingertips technical guide "Funnel plots"; PHEindicatormethods
`calculate_funnel_limits` with statistic "rate"): around the average rate of the areas plotted
(their events summed over their populations), the limit at a population n is the rate whose
exact Poisson confidence interval at that confidence just reaches the expected count
E = average × n. The exact interval of an observed count O (Garwood; Byar's formula
approximates it) is

    lower(O) = χ²(α/2; 2O) / 2,    upper(O) = χ²(1 − α/2; 2(O + 1)) / 2,

so the upper funnel limit is the count O with lower(O) = E and the lower funnel limit the count
with upper(O) = E, each divided by n. Counts are treated as continuous in O, so the limits are
smooth curves, as PHE draws them. With χ²(p; 2a)/2 the inverse of the regularised incomplete
gamma function P(a, ·), lower(O) = E is P(O, E) = α/2 and upper(O) = E is P(O + 1, E) =
1 − α/2: each solved for O by bracketing (P(a, E) falls as a rises).

The indicators' funnels (indicators.rates.funnel_limits) are PHE's limits for proportions; these
are its limits for rates. Both give 95% and 99.8% limits, the pair the Fingertips guide uses.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import gammainc

LIMITS = (("95%", 0.95), ("99.8%", 0.998))


def _count_solving(target: float, expected: float, shift: float) -> float:
    """The count O ≥ 0 with P(O + shift, expected) = target (P falls as O rises)."""
    if expected <= 0:
        return 0.0

    def f(o: float) -> float:
        return float(gammainc(o + shift, expected)) - target

    low = 0.0
    if f(low) <= 0:  # even no events is beyond: the limit is at zero events
        return 0.0
    high = max(1.0, expected)
    while f(high) > 0:
        high *= 2
    return brentq(f, low, high, xtol=1e-12, rtol=1e-12, maxiter=500)


def poisson_limits(population, average: float, confidence: float):
    """(lower, upper) funnel limits on the rate (events per person, not per 1,000) at each
    `population`, around `average` (events per person), two-sided at `confidence`."""
    n = np.atleast_1d(np.asarray(population, dtype=float))
    alpha = 1 - confidence
    lower = np.full(n.shape, np.nan)
    upper = np.full(n.shape, np.nan)
    for i, size in enumerate(n):
        if not size > 0 or not np.isfinite(size):
            continue
        expected = average * size
        # upper limit: the count whose exact lower bound is the expected count
        upper[i] = _count_solving(alpha / 2, expected, 0.0) / size
        # lower limit: the count whose exact upper bound is the expected count; below 0 events
        # no count is unusually low
        if expected <= 0:
            lower[i] = 0.0
        else:
            lower[i] = _count_solving(1 - alpha / 2, expected, 1.0) / size
    return lower, upper


def limits_at(average: float):
    """A function of populations giving {"95%": (lower, upper), "99.8%": (...)} (as
    charts.funnel_plot draws them), rates per person."""
    return lambda populations: {
        name: poisson_limits(populations, average, confidence) for name, confidence in LIMITS
    }


def where(rate, lower_95, upper_95, lower_998, upper_998) -> str:
    """Where an area lies against the limits, in the words indicators.rates uses."""
    if rate > upper_998:
        return "above 99.8%"
    if rate > upper_95:
        return "above 95%"
    if rate < lower_998:
        return "below 99.8%"
    if rate < lower_95:
        return "below 95%"
    return "within"
