"""Statistical process control: the XmR chart with NHS England's "Making Data Count" rules.

For a series y₁…yₙ in time order: the centre line is the mean; the moving ranges are |yᵢ − yᵢ₋₁|;
the process limits are mean ± 2.66 × the mean moving range (3σ with σ = mean MR / 1.128), and the
"near" limits are at two thirds of that (2σ). A point is special cause when it is:
- outside the process limits;
- part of a run of 7 or more consecutive points on the same side of the mean (a point exactly
  on the mean breaks the run): a shift;
- part of a run of 7 or more consecutive points each higher (or each lower) than the one
  before: a trend;
- one of 2 (or 3) out of 3 consecutive points beyond the same near limit, all 3 on the same side
  of the mean: the points beyond it are flagged.
Everything else is common cause. With an improvement direction, a special-cause point above the
mean is "improvement" when higher is better and "concern" when lower is better (and the reverse
below the mean); with none, "neutral high" or "neutral low".

These are the rules of NHS England's Making Data Count guidance as the NHS-R Community's
NHSRplotthedots implements them (its `ptd_spc_standard` and `ptd_calculate_point_type`: limits
2.66, runs of 7, two in three): the test tables were worked by hand from the rules, not from
this code. Fewer than 12 points make limits too uncertain to read: `XmR.warning` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LIMIT = 2.66  # 3 / d2, d2 = 1.128 for moving ranges of two points
RUN = 7
FEW_POINTS = 12

COMMON = "common cause"
IMPROVEMENT = "special cause: improvement"
CONCERN = "special cause: concern"
NEUTRAL_HIGH = "special cause: neutral (high)"
NEUTRAL_LOW = "special cause: neutral (low)"

HIGHER_IS_BETTER, LOWER_IS_BETTER, NEITHER = 1, -1, 0


@dataclass(frozen=True)
class XmR:
    values: tuple[float, ...]
    mean: float
    mean_moving_range: float
    lower: float  # process limits
    upper: float
    near_lower: float  # two thirds of the way to the process limits (2 sigma)
    near_upper: float
    outside: tuple[bool, ...]
    shift: tuple[bool, ...]
    trend: tuple[bool, ...]
    two_in_three: tuple[bool, ...]
    variation: tuple[str, ...]  # each point's COMMON, IMPROVEMENT, CONCERN or NEUTRAL_*

    @property
    def special(self) -> tuple[bool, ...]:
        return tuple(v != COMMON for v in self.variation)

    @property
    def warning(self) -> str:
        if len(self.values) < FEW_POINTS:
            return (
                f"only {len(self.values)} points: process limits from fewer than {FEW_POINTS} "
                "are too uncertain to read special cause from"
            )
        return ""

    @property
    def summary(self) -> str:
        """The latest point's variation, in words, with the rule that fired."""
        last = len(self.values) - 1
        rules = [
            name
            for name, fired in (
                ("outside the process limits", self.outside[last]),
                (f"a run of {RUN} or more on one side of the mean", self.shift[last]),
                (f"a run of {RUN} or more rising or falling", self.trend[last]),
                ("2 of 3 points beyond 2 sigma", self.two_in_three[last]),
            )
            if fired
        ]
        said = self.variation[last]
        return f"latest point: {said}" + (f" ({'; '.join(rules)})" if rules else "")


def xmr(values: Sequence[float], direction: int = NEITHER) -> XmR:
    """The XmR chart of `values` (in time order, no gaps, at least 2)."""
    y = np.asarray(values, dtype=float)
    if len(y) < 2 or np.isnan(y).any():
        raise ValueError("an XmR chart needs at least 2 points and no missing value")
    mean = float(y.mean())
    mr = float(np.abs(np.diff(y)).mean())
    upper, lower = mean + LIMIT * mr, mean - LIMIT * mr
    near_upper, near_lower = mean + 2 / 3 * LIMIT * mr, mean - 2 / 3 * LIMIT * mr
    outside = (y > upper) | (y < lower)
    side = np.sign(y - mean).astype(int)
    shift = _in_runs(side, RUN)
    steps = np.sign(np.diff(y)).astype(int)
    trend = _in_trends(steps, RUN)
    near = ~outside & ((y > near_upper) | (y < near_lower))
    two = _two_in_three(near, side)
    special = outside | shift | trend | two
    variation = tuple(_variation(s, d, direction) for s, d in zip(special, side, strict=True))
    return XmR(
        tuple(float(v) for v in y),
        mean,
        mr,
        lower,
        upper,
        near_lower,
        near_upper,
        tuple(bool(v) for v in outside),
        tuple(bool(v) for v in shift),
        tuple(bool(v) for v in trend),
        tuple(bool(v) for v in two),
        variation,
    )


def _in_runs(side: np.ndarray, length: int) -> np.ndarray:
    """Points in a run of `length` or more equal, non-zero signs."""
    flagged = np.zeros(len(side), dtype=bool)
    start = 0
    for i in range(1, len(side) + 1):
        if i == len(side) or side[i] != side[start]:
            if side[start] != 0 and i - start >= length:
                flagged[start:i] = True
            start = i
    return flagged


def _in_trends(steps: np.ndarray, length: int) -> np.ndarray:
    """Points in a run of `length` or more points each above (or each below) the one before:
    `length` - 1 steps of one sign. A flat step breaks a trend."""
    flagged = np.zeros(len(steps) + 1, dtype=bool)
    start = 0
    for i in range(1, len(steps) + 1):
        if i == len(steps) or steps[i] != steps[start]:
            if steps[start] != 0 and i - start >= length - 1:
                flagged[start : i + 1] = True  # steps start..i-1 join points start..i
            start = i
    return flagged


def _two_in_three(near: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Points beyond a near limit that are one of at least 2 such in 3 consecutive points, the
    3 all on the same side of the mean."""
    flagged = np.zeros(len(near), dtype=bool)
    for start in range(len(near) - 2):
        window = slice(start, start + 3)
        same_side = abs(int(side[window].sum())) == 3
        if same_side and int(near[window].sum()) >= 2:
            flagged[window] |= near[window]
    return flagged


def _variation(special: bool, side: int, direction: int) -> str:
    if not special:
        return COMMON
    if direction == NEITHER:
        return NEUTRAL_HIGH if side > 0 else NEUTRAL_LOW
    return IMPROVEMENT if side == direction else CONCERN
