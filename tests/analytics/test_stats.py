"""The statistics match the formulas PHEindicatormethods uses, checked on values worked by
hand (the working is in the comments) and on published tables."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openphm.analytics import stats


def test_the_95_percent_z_value_is_the_normal_quantile():
    assert stats.z_value() == pytest.approx(1.959963984540054, abs=1e-12)
    assert stats.z_value(0.998) == pytest.approx(3.090232306167813, abs=1e-9)


def test_wilson_interval_matches_the_hand_calculation():
    # x = 5, n = 10, z = 1.959964: centre (2·5 + z²)/(2(10 + z²)) = 13.8414/27.6828 = 0.5;
    # half-width z·sqrt(z² + 4·5·(1 − 0.5))/(2(10 + z²)) = 1.959964·3.7038/27.6828 = 0.26223
    estimate, lower, upper = stats.wilson(5, 10)
    assert (estimate, lower, upper) == pytest.approx((0.5, 0.236593, 0.763407), abs=1e-6)


def test_wilson_interval_at_zero_and_at_all_stays_inside_0_and_1():
    _, lower, upper = stats.wilson([0, 10], [10, 10])
    assert lower[0] == 0 and upper[0] == pytest.approx(0.277533, abs=1e-6)
    assert upper[1] == 1 and lower[1] == pytest.approx(0.722467, abs=1e-6)


@given(st.integers(0, 10_000), st.integers(1, 10_000))
def test_wilson_interval_contains_the_estimate_and_stays_in_0_1(x, n):
    x = min(x, n)
    estimate, lower, upper = stats.wilson(x, n)
    assert 0 <= lower <= estimate <= upper <= 1


@pytest.mark.parametrize(
    ("count", "lower", "upper"),
    # Exact Poisson 95% limits as tabled (e.g. Ulm 1990; the chi-square/2 relation).
    [(0, 0.0, 3.688879), (1, 0.025318, 5.571643), (5, 1.623486, 11.668332),
     (10, 4.795389, 18.390356), (100, 81.363993, 121.626794)],
)  # fmt: skip
def test_exact_poisson_limits_match_the_published_table(count, lower, upper):
    lo, hi = stats.poisson_limits(count, method="exact")
    assert (float(lo), float(hi)) == pytest.approx((lower, upper), abs=1e-5)


def test_byar_limits_match_the_hand_calculation():
    # O = 10: lower = 10(1 − 1/90 − 1.959964/(3√10))³ = 10(0.782292)³ = 4.787450;
    # upper = 11(1 − 1/99 + 1.959964/(3√11))³ = 11(1.186882)³ = 18.391459
    lo, hi = stats.poisson_limits(10, method="byar")
    assert (float(lo), float(hi)) == pytest.approx((4.787450, 18.391459), abs=1e-5)


def test_crude_rate_uses_exact_limits_below_10_and_byar_from_10():
    _, lo9, _ = stats.crude_rate(9, 1000, 1000)
    _, lo10, _ = stats.crude_rate(10, 1000, 1000)
    assert float(lo9) == pytest.approx(float(stats.poisson_limits(9, method="exact")[0]))
    assert float(lo10) == pytest.approx(float(stats.poisson_limits(10, method="byar")[0]))


def test_chi_square_quantiles_without_scipy():
    # Tabled: χ²(0.025; 20) = 9.590777, χ²(0.975; 22) = 36.780712, χ²(0.95; 2) = 5.991465
    got = stats.chi2_quantile([0.025, 0.975, 0.95], [20, 22, 2])
    assert got == pytest.approx([9.590777, 36.780712, 5.991465], abs=1e-5)


def test_dsr_and_dobson_limits_match_the_hand_calculation():
    # Two bands, weights 1 and 1: rates 10/1000 and 20/1000. DSR = (0.01 + 0.02)/2 = 0.015.
    # var = (1·10/1000² + 1·20/1000²)/2² = 7.5e-6. O = 30, Byar lower 20.23707, upper
    # 42.82837 (as above). Dobson: 0.015 + sqrt(7.5e-6/30)·(20.23707 − 30) = 0.0101185 and
    # 0.015 + 0.0005·(42.82837 − 30) = 0.0214142; per 100,000: 1011.85 and 2141.42.
    result = stats.dsr([10, 20], [1000, 1000], [1, 1])
    assert result.value == pytest.approx(1500.0)
    assert result.lower == pytest.approx(1011.85, abs=0.01)
    assert result.upper == pytest.approx(2141.42, abs=0.01)


def test_dsr_is_not_given_below_10_events_as_phe_dsr():
    assert math.isnan(stats.dsr([4, 5], [100, 100], [1, 1]).value)


@given(
    st.floats(0.001, 0.5),
    st.lists(st.integers(1_000, 100_000), min_size=19, max_size=19),
)
def test_dsr_of_a_population_with_the_same_rate_in_every_band_is_that_rate(rate, populations):
    from openphm.analytics import esp2013_weights

    n = np.array(populations, dtype=float)
    result = stats.dsr(n * rate, n, esp2013_weights(), multiplier=1.0)
    assert result.value == pytest.approx(rate, rel=1e-9)
    assert result.lower <= result.value <= result.upper


def test_sii_and_rii_of_a_straight_line_match_the_hand_calculation():
    # Four equal quantiles: ranks 0.125, 0.375, 0.625, 0.875; values 10, 8, 6, 4 fall 2 per
    # quarter, so the slope is −8 and the intercept 10 + 8·0.125 = 11: SII = −8,
    # RII = (11 − 8)/11 = 0.272727.
    result = stats.sii([10, 8, 6, 4], [0.5] * 4, [100] * 4, simulations=2000)
    assert result.sii == pytest.approx(-8.0)
    assert result.rii == pytest.approx(3 / 11)
    assert result.sii_lower < -8 < result.sii_upper


def test_sii_weights_quantiles_by_population():
    # A big, low quantile pulls the fitted line: weighted ranks are not equal quarters.
    even = stats.sii([10, 8, 6, 4], [0.1] * 4, [100] * 4, simulations=100).sii
    uneven = stats.sii([10, 8, 6, 5], [0.1] * 4, [100, 100, 100, 1000], simulations=100).sii
    assert uneven != pytest.approx(even)


def test_sii_simulation_is_repeatable_with_its_fixed_seed():
    a = stats.sii([10, 9, 7, 4], [1.0] * 4, [50, 60, 70, 80], simulations=500)
    b = stats.sii([10, 9, 7, 4], [1.0] * 4, [50, 60, 70, 80], simulations=500)
    assert a == b


def test_exact_limits_of_repeated_counts_are_those_of_bisecting_every_count():
    # The bisection runs once per distinct count and is remembered; the values must be those
    # of bisecting every element, to the last bit, whatever the counts repeat or mix.
    rng = np.random.default_rng(3)
    for trial in range(200):
        counts = np.minimum(rng.integers(0, 40, size=rng.integers(1, 200)), 10 + trial % 30)
        for p in (0.025, 0.975):
            whole = stats._bisect(counts.astype(float), p)
            assert np.array_equal(stats._poisson_mean_where(counts, p), whole)
            assert np.array_equal(stats._poisson_mean_where(counts, p), whole)  # remembered


def test_the_simulated_values_are_numpys_normal_draws_from_the_seed():
    # sii draws y + se·z from standard normals; numpy's normal(y, se) from the same seed gives
    # the same numbers to the last bit, so the limits are those of PHE's method as drawn before.
    y, se = np.array([50.2, 47.1, 44.9, 40.3]), np.array([1.3, 0.9, 2.2, 1.1])
    for seed in (1, stats.seed_for("emergency_admissions"), stats.SII_SEED):
        by_normal = np.random.default_rng(seed).normal(y, se, size=(1000, 4))
        by_standard = se * np.random.default_rng(seed).standard_normal((1000, 4)) + y
        assert np.array_equal(by_normal, by_standard)
