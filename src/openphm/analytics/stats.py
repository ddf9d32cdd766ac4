"""Public-health statistics as pure functions on numbers: no tables, no engine, no I/O.

They follow the methods of OHID's (formerly PHE's) PHEindicatormethods R package, so that a
figure made here can be checked against one an analyst makes there:

- `wilson`: Wilson score interval for a proportion (as `phe_proportion`).
- `poisson_limits`: limits for a Poisson count, by Byar's method (the Wilson–Hilferty
  approximation to the chi-square quantile, as `byars_lower`/`byars_upper`) or exactly (the
  chi-square quantile found by inverting the Poisson distribution function, which is the
  regularized incomplete gamma function: no scipy needed).
- `crude_rate`: a count over a population with Poisson limits (as `phe_rate`: exact below 10
  events, Byar's from 10).
- `dsr`: a directly age-standardised rate with Dobson et al. (1991) limits (as `phe_dsr`).
- `sii`: slope and relative index of inequality by weighted regression on the midpoint of the
  cumulative population rank, with limits by 100,000 simulations (as `phe_sii`), from a seed
  of each measure's own (`seed_for`).

Every function takes and returns numpy arrays (or scalars), so a table of 10,000 groups is one
call. docs/analytics.md derives each formula and works examples by hand.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
# PHE's phe_rate switches from exact to Byar's limits at this count.
EXACT_BELOW = 10
# PHE's phe_dsr returns no value below this total count: too few events to standardise.
DSR_MIN_COUNT = 10


def z_value(confidence: float = CONFIDENCE) -> float:
    """The two-sided standard normal quantile, e.g. 1.959964 for 95%."""
    return _norm_ppf(0.5 + confidence / 2)


def wilson(numerator, denominator, confidence: float = CONFIDENCE):
    """Wilson score interval for x successes in n: (estimate, lower, upper), each in [0, 1].

    lower, upper = (2x + z² ∓ z·sqrt(z² + 4x(1 − x/n))) / (2(n + z²)). NaN where n = 0."""
    x = np.asarray(numerator, dtype=float)
    n = np.asarray(denominator, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        estimate = np.where(n > 0, x / n, np.nan)
        spread = z * np.sqrt(np.maximum(z * z + 4 * x * (1 - x / n), 0.0))
        lower = np.where(n > 0, (2 * x + z * z - spread) / (2 * (n + z * z)), np.nan)
        upper = np.where(n > 0, (2 * x + z * z + spread) / (2 * (n + z * z)), np.nan)
    # Rounding can leave a limit a hair on the wrong side of the estimate at x = 0 or x = n.
    lower = np.clip(np.fmin(lower, estimate), 0.0, 1.0)
    upper = np.clip(np.fmax(upper, estimate), 0.0, 1.0)
    return estimate, lower, upper


def poisson_limits(count, confidence: float = CONFIDENCE, method: str = "byar"):
    """Confidence limits for the mean of a Poisson variable observed as `count`.

    method "byar" (PHE): lower = O(1 − 1/(9O) − z/(3√O))³,
                         upper = (O+1)(1 − 1/(9(O+1)) + z/(3√(O+1)))³.
    method "exact": lower = χ²(α/2; 2O)/2, upper = χ²(1−α/2; 2O+2)/2, found by bisection on
    the Poisson distribution function (P(X ≤ k; μ) = Q(k+1, μ), the regularized gamma).
    method "phe": exact below 10 events, Byar's from 10, as phe_rate does."""
    o = np.asarray(count, dtype=float)
    if method == "phe":
        exact_lo, exact_hi = poisson_limits(np.minimum(o, EXACT_BELOW), confidence, "exact")
        byar_lo, byar_hi = poisson_limits(o, confidence, "byar")
        small = o < EXACT_BELOW
        return np.where(small, exact_lo, byar_lo), np.where(small, exact_hi, byar_hi)
    if method == "byar":
        z = z_value(confidence)
        with np.errstate(divide="ignore", invalid="ignore"):
            lower = np.where(o > 0, o * (1 - 1 / (9 * o) - z / (3 * np.sqrt(o))) ** 3, 0.0)
        o1 = o + 1
        upper = o1 * (1 - 1 / (9 * o1) + z / (3 * np.sqrt(o1))) ** 3
        return np.maximum(lower, 0.0), upper
    if method == "exact":
        alpha = 1 - confidence
        lower = np.where(o > 0, _poisson_mean_where(np.maximum(o - 1, 0), 1 - alpha / 2), 0.0)
        upper = _poisson_mean_where(o, alpha / 2)
        return lower, upper
    raise ValueError(f"method must be byar, exact or phe, not {method!r}")


def chi2_quantile(p, df):
    """The chi-square quantile for probability p with even df = 2k (k ≥ 1), exactly: the χ²
    distribution with 2k degrees of freedom relates to the Poisson, P(χ²₂ₖ ≤ 2μ) = P(X ≥ k; μ)."""
    df = np.asarray(df, dtype=float)
    k = df / 2
    if np.any((k < 1) | (k != np.round(k))):
        raise ValueError("chi2_quantile handles even degrees of freedom ≥ 2 only")
    return 2 * _poisson_mean_where(k - 1, 1 - np.asarray(p, dtype=float))


def crude_rate(count, population, multiplier: float = 1000.0, confidence: float = CONFIDENCE):
    """A count per `multiplier` population, with PHE's Poisson limits (exact below 10)."""
    o = np.asarray(count, dtype=float)
    n = np.asarray(population, dtype=float)
    lower, upper = poisson_limits(o, confidence, "phe")
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(n > 0, multiplier / n, np.nan)
    return o * scale, lower * scale, upper * scale


@dataclass(frozen=True)
class DSR:
    value: float
    lower: float
    upper: float
    total_count: float
    total_population: float


def dsr(
    counts,
    populations,
    standard,
    multiplier: float = 100_000.0,
    confidence: float = CONFIDENCE,
    method: str = "byar",
) -> DSR:
    """Directly standardised rate over age bands, with Dobson et al. (1991) limits.

    DSR = Σ wᵢ·xᵢ/nᵢ / Σ wᵢ × multiplier;  var(DSR) = Σ wᵢ²·xᵢ/nᵢ² / (Σ wᵢ)² × multiplier²;
    limits = DSR + sqrt(var(DSR)/O) × (O_limit − O), with O = Σ xᵢ and O_limit the Poisson
    limits of O (Byar's, as phe_dsr; or exact). A band with no population has no rate, so
    there is no DSR (NaN): OHID's calculate_dsr refuses denominators of 0 ("denominators must
    all be greater than zero"). Fewer than 10 events: NaN too (phe_dsr)."""
    x = np.asarray(counts, dtype=float)
    n = np.asarray(populations, dtype=float)
    w = np.asarray(standard, dtype=float)
    if not (x.shape == n.shape == w.shape):
        raise ValueError("counts, populations and standard need one value per age band each")
    value, lower, upper = dsr_many(x, n, w, multiplier, confidence, method)
    return DSR(float(value[0]), float(lower[0]), float(upper[0]), float(x.sum()), float(n.sum()))


def dsr_many(
    counts,
    populations,
    standard,
    multiplier: float = 100_000.0,
    confidence: float = CONFIDENCE,
    method: str = "byar",
):
    """`dsr` for many groups at once: counts and populations are (groups × bands) arrays.
    Returns (value, lower, upper) arrays; NaN where a group has fewer than 10 events."""
    x = np.atleast_2d(np.asarray(counts, dtype=float))
    n = np.atleast_2d(np.asarray(populations, dtype=float))
    w = np.asarray(standard, dtype=float)
    total = x.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, x / n, 0.0)
        var_terms = np.where(n > 0, w * w * x / (n * n), 0.0)
        value = (w * rate).sum(axis=1) / w.sum()
        spread = np.sqrt(var_terms.sum(axis=1) / w.sum() ** 2 / total)
    lo, hi = poisson_limits(total, confidence, method)
    reliable = (total >= DSR_MIN_COUNT) & ~empty_bands(n).astype(bool)
    out = [
        np.where(reliable, v * multiplier, np.nan)
        for v in (value, value + spread * (lo - total), value + spread * (hi - total))
    ]
    return tuple(out)


def empty_bands(populations) -> np.ndarray:
    """How many bands of each group (row) have no population: a group with any has no DSR."""
    n = np.atleast_2d(np.asarray(populations, dtype=float))
    return (n <= 0).sum(axis=1)


@dataclass(frozen=True)
class SII:
    sii: float
    sii_lower: float
    sii_upper: float
    rii: float
    rii_lower: float
    rii_upper: float


# PHE's phe_sii draws 100,000 samples by default (its `reps`).
SII_SIMULATIONS = 100_000
SII_SEED = 20_260_101


def seed_for(name: str) -> int:
    """A seed of its own for each measure, from its name (the first 8 bytes of its BLAKE2b
    digest): the same on every run and engine, and different between measures, so that the
    simulated limits of two measures are not drawn from the same random numbers."""
    import hashlib

    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big")


def sii(
    values,
    standard_errors,
    populations,
    confidence: float = CONFIDENCE,
    simulations: int = SII_SIMULATIONS,
    seed: int = SII_SEED,
) -> SII:
    """Slope and relative index of inequality across ordered quantiles (most deprived first).

    Each quantile's rank is the midpoint of its cumulative population share: rᵢ = (Σⱼ<ᵢ nⱼ +
    nᵢ/2)/N. The value is regressed on rank by least squares weighted by population (PHE fits
    value·√n ~ √n + rank·√n, the same fit). SII = slope (fitted least deprived − fitted most
    deprived); RII = (intercept + slope)/intercept, as phe_sii. Limits: the fit repeated on
    values drawn from Normal(value, se) `simulations` times from a fixed seed; the α/2 and
    1 − α/2 quantiles of the simulated SII and RII."""
    y = np.asarray(values, dtype=float)
    se = np.asarray(standard_errors, dtype=float)
    n = np.asarray(populations, dtype=float)
    if y.size < 2 or not (y.shape == se.shape == n.shape):
        raise ValueError("sii needs at least two quantiles, each with value, se and population")
    rank = (np.cumsum(n) - n / 2) / n.sum()
    slope, intercept = _wls(rank, y[None, :], n)
    # rng.normal(y, se, size) draws these very numbers (y + se·z from the same standard
    # normals, in the same order; tests/analytics/test_stats.py), at about half the cost.
    draws = se * np.random.default_rng(seed).standard_normal((simulations, y.size)) + y
    sim_slope, sim_intercept = _wls(rank, draws, n)
    with np.errstate(divide="ignore", invalid="ignore"):
        sim_rii = (sim_intercept + sim_slope) / sim_intercept
        rii = float((intercept[0] + slope[0]) / intercept[0])
    q = [(1 - confidence) / 2 * 100, (1 + confidence) / 2 * 100]
    s_lo, s_hi = np.percentile(sim_slope, q)
    finite = sim_rii[np.isfinite(sim_rii)]
    r_lo, r_hi = np.percentile(finite, q) if finite.size else (math.nan, math.nan)
    return SII(float(slope[0]), float(s_lo), float(s_hi), rii, float(r_lo), float(r_hi))


def _wls(x, ys, w):
    """Weighted least squares of each row of `ys` on x: (slopes, intercepts)."""
    xbar = (w * x).sum() / w.sum()
    ybar = (ys * w).sum(axis=1) / w.sum()
    slope = ((w * (x - xbar)) * (ys - ybar[:, None])).sum(axis=1) / (w * (x - xbar) ** 2).sum()
    return slope, ybar - slope * xbar


# ----- the exact machinery ---------------------------------------------------------------


def _poisson_cdf(k, mu):
    """P(X ≤ k) for X ~ Poisson(mu), element-wise, for integer k ≥ 0, by summing the terms in
    log space (stable for counts in the thousands)."""
    k = np.asarray(k, dtype=float)
    mu = np.asarray(mu, dtype=float)
    top = int(np.max(k)) if k.size else 0
    j = np.arange(top + 1, dtype=float)
    log_fact = np.concatenate([[0.0], np.cumsum(np.log(np.arange(1, top + 1, dtype=float)))])
    with np.errstate(divide="ignore"):
        log_mu = np.log(mu)[..., None]
    terms = j * log_mu - mu[..., None] - log_fact
    terms = np.where(j <= k[..., None], terms, -np.inf)
    peak = np.max(terms, axis=-1, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    return np.minimum(np.exp(peak[..., 0]) * np.exp(terms - peak).sum(axis=-1), 1.0)


# Bisections already done, by (the distinct counts, p): a build asks the same ones hundreds of
# times (every rate measure's groups have counts clipped to 0–10 for the exact limits).
_BISECTED: dict[tuple[bytes, float], np.ndarray] = {}
_BISECTED_MAX = 1024


def _poisson_mean_where(k, p):
    """The mean μ at which P(X ≤ k; μ) = p (decreasing in μ), by bisection to 1e-10.

    For one p, the bisection runs on the distinct counts and is remembered: each element's
    result depends only on its count, p and the number of halvings, which is the most any
    distinct count needs, the same whether its count appears once or many times, so the
    values are those of bisecting every element (to the last bit: tests/analytics/test_stats.py)."""
    k = np.asarray(k, dtype=float)
    if np.ndim(p) == 0 and k.size:
        distinct, where = np.unique(k, return_inverse=True)
        key = (distinct.tobytes(), float(p))
        found = _BISECTED.get(key)
        if found is None:
            found = _bisect(distinct, float(p))
            if len(_BISECTED) >= _BISECTED_MAX:
                _BISECTED.clear()
            _BISECTED[key] = found
        return found[where.reshape(k.shape)]
    return _bisect(k, p)


def _bisect(k, p):
    k = np.asarray(k, dtype=float)
    p = np.broadcast_to(np.asarray(p, dtype=float), k.shape)
    lo = np.zeros_like(k)
    hi = np.maximum(k, 1.0) * 2 + 20 + 10 * np.sqrt(np.maximum(k, 1.0))
    for _ in range(200):
        mid = (lo + hi) / 2
        above = _poisson_cdf(k, mid) > p
        lo = np.where(above, mid, lo)
        hi = np.where(above, hi, mid)
        if np.all(hi - lo < 1e-10 * np.maximum(1.0, hi)):
            break
    return (lo + hi) / 2


def _norm_ppf(p: float) -> float:
    """Standard normal quantile (Acklam's rational approximation, refined by one Halley step
    against math.erfc, so accurate to machine precision)."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    a = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
         1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)  # fmt: skip
    b = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
         6.680131188771972e01, -1.328068155288572e01)  # fmt: skip
    c = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
         -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)  # fmt: skip
    d = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
         3.754408661907416e00)  # fmt: skip
    if p < 0.02425:
        q = math.sqrt(-2 * math.log(p))
        x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    elif p > 1 - 0.02425:
        return -_norm_ppf(1 - p)
    else:
        q = p - 0.5
        r = q * q
        x = (
            (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
            * q
            / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        )
    e = 0.5 * math.erfc(-x / math.sqrt(2)) - p
    u = e * math.sqrt(2 * math.pi) * math.exp(x * x / 2)
    return x - u / (1 + x * u / 2)
