"""Indicator rates per practice, PCN, place and ICB, with funnel plot control limits.

Reads zone 3's indicator_counts (per practice) and the programme's PCNs, places and ICBs
(programme.toml [indicators]); writes zone 3's indicator_rates (kept per reference date, so a
trend can be drawn). Aggregates only, before disclosure control: a release applies it
(docs/disclosure.md).

Funnel limits follow PHE/OHID's method for proportions (Fingertips technical guide "Funnel
plots", as PHEindicatormethods `phe_funnels` computes them): around the average of the areas
plotted (their numerators summed over their denominators), the limit at a denominator n is the
proportion whose Wilson score interval at that confidence just reaches the average. Solving
the Wilson interval for it gives p̄ ± z·√(p̄(1 − p̄)/n): 95% limits with z = Φ⁻¹(0.975), 99.8%
with z = Φ⁻¹(0.999). An area outside the 99.8% limits is a likely special cause; outside the
95% only, a possible one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.analytics.stats import wilson, z_value

RATES = "indicator_rates"
LEVELS = ("practice", "pcn", "place", "icb", "all")
# (name, two-sided confidence)
LIMITS = (("95", 0.95), ("998", 0.998))


def funnel_limits(denominator, average: float, confidence: float):
    """(lower, upper) control limits on the proportion at each denominator, in [0, 1]."""
    n = np.asarray(denominator, dtype=float)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = z * np.sqrt(average * (1 - average) / n)
    return np.clip(average - spread, 0.0, 1.0), np.clip(average + spread, 0.0, 1.0)


def rates(counts: pd.DataFrame, areas: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Per reference date, indicator and area of each level: numerator, denominator, the
    proportion with its Wilson 95% interval, the level's average and funnel limits, and where
    the area lies. `areas` maps a level (pcn, place, icb) to {practice: area}."""
    frames = []
    keys = ["reference_date", "pack", "purpose", "indicator"]
    for level in LEVELS:
        c = counts.copy()
        if level == "all":
            c["area"] = "all"
        elif level == "practice":
            c["area"] = c["practice"]
        else:
            c["area"] = c["practice"].map(areas.get(level, {}))
            c = c[c["area"].notna()]
        if c.empty:
            continue
        g = c.groupby([*keys, "area"], as_index=False)[["numerator", "denominator"]].sum()
        frames.append(g.assign(level=level))
    if not frames:
        return _empty()
    out = pd.concat(frames, ignore_index=True)
    out = out[out["denominator"] > 0].copy()
    totals = out.groupby([*keys, "level"])[["numerator", "denominator"]].transform("sum")
    out = against_limits(out.assign(average=totals["numerator"] / totals["denominator"]))
    columns = [*keys, "level", "area", "numerator", "denominator", "proportion", "lower_ci",
               "upper_ci", "average", "funnel_lower_95", "funnel_upper_95", "funnel_lower_998",
               "funnel_upper_998", "funnel"]  # fmt: skip
    return out.loc[:, columns].sort_values([*keys, "level", "area"]).reset_index(drop=True)


def against_limits(areas: pd.DataFrame) -> pd.DataFrame:
    """`areas` (numerator, denominator > 0, the average they are plotted around) with the
    proportion and its Wilson 95% interval, the funnel limits at each denominator, and where
    each area lies (`funnel`: within, above 95%, above 99.8%, below 95%, below 99.8%)."""
    out = areas.copy()
    numerator, denominator = (out[c].to_numpy(dtype=float) for c in ("numerator", "denominator"))
    out["proportion"], out["lower_ci"], out["upper_ci"] = wilson(numerator, denominator)
    for name, confidence in LIMITS:
        lo, hi = funnel_limits(denominator, out["average"].to_numpy(dtype=float), confidence)
        out[f"funnel_lower_{name}"], out[f"funnel_upper_{name}"] = lo, hi
    out["funnel"] = _where(out)
    return out


def _where(out: pd.DataFrame) -> np.ndarray:
    p = out["proportion"]
    return np.select(
        [p > out["funnel_upper_998"], p > out["funnel_upper_95"],
         p < out["funnel_lower_998"], p < out["funnel_lower_95"]],
        ["above 99.8%", "above 95%", "below 99.8%", "below 95%"],
        default="within",
    )  # fmt: skip


def _empty() -> pd.DataFrame:
    return pd.DataFrame(
        columns=["reference_date", "pack", "purpose", "indicator", "level", "area", "numerator",
                 "denominator", "proportion", "lower_ci", "upper_ci", "average",
                 "funnel_lower_95", "funnel_upper_95", "funnel_lower_998", "funnel_upper_998",
                 "funnel"]
    )  # fmt: skip
