"""The disclosure rules: one frozen, named set, shown with every table released under it.

- Threshold (primary suppression): counts from 1 to 7 are redacted, every other count is rounded
  to the nearest 5 (the rule OpenSAFELY applies to its outputs); a sum (a cost, bed days) made of
  1 to 7 contributors is redacted.
- Dominance: a sum is redacted when one contributor dominates it, by the p% rule: if the sum less
  its two largest contributions is under p% (10%) of the largest, the second-largest contributor,
  subtracting its own share, would know the largest's to within p%.
- Protection (secondary suppression, `secondary.py`): no hidden cell may be worked out from the
  cells and totals published beside it. What they allow a hidden cell to be (its feasible
  interval) must cover the cell's protection range and be more than one value. A hidden count
  could always be more than 7, and a hidden count of 7 or less could also be 0; a sum hidden by
  its own rule could be p% less or p% more than it is.

A programme may make them stricter; it may make them looser only with a recorded reason, which the
audit log keeps. Change RULES_VERSION whenever what the rules publish changes."""

from __future__ import annotations

from dataclasses import dataclass

RULES_NAME = "OpenPHM disclosure rules"
RULES_VERSION = "2"
SUPPRESSION_THRESHOLD = 7
ROUNDING_MULTIPLE = 5
DOMINANCE_P = 10  # per cent: the p of the p% rule


class DisclosureError(ValueError):
    """Rules that would publish something the defaults forbid, without a recorded reason."""


@dataclass(frozen=True)
class DisclosureRules:
    threshold: int = SUPPRESSION_THRESHOLD
    multiple: int = ROUNDING_MULTIPLE
    reason: str = ""
    dominance_p: float = DOMINANCE_P

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.multiple < 1 or not 0 <= self.dominance_p <= 100:
            raise DisclosureError(
                "the threshold must be ≥ 0, the rounding multiple ≥ 1 and the dominance p "
                "from 0 to 100 (per cent)"
            )
        looser = (
            self.threshold < SUPPRESSION_THRESHOLD
            or self.multiple < ROUNDING_MULTIPLE
            or self.dominance_p < DOMINANCE_P
        )
        if looser and not self.reason.strip():
            raise DisclosureError(
                f"rules looser than the defaults (redact 1–{SUPPRESSION_THRESHOLD}, round to "
                f"{ROUNDING_MULTIPLE}, dominance p = {DOMINANCE_P}%) need a recorded reason"
            )

    @classmethod
    def relaxed(
        cls, threshold: int, multiple: int, reason: str, dominance_p: float = DOMINANCE_P
    ) -> DisclosureRules:
        """The one explicit way to loosen the rules; callers record `reason` in the audit log."""
        return cls(threshold=threshold, multiple=multiple, reason=reason, dominance_p=dominance_p)

    def describe(self) -> dict:
        """The rule set as released beside every table: its name, version and thresholds."""
        return {
            "name": RULES_NAME,
            "version": RULES_VERSION,
            "redact_up_to": self.threshold,
            "round_to": self.multiple,
            "dominance_p_percent": self.dominance_p,
            "reason": self.reason,
        }

    def is_redacted(self, count: int) -> bool:
        return 0 < count <= self.threshold

    def round(self, count: int) -> int:
        # Round half up (12.5 → 15), as OpenSAFELY's round-to-nearest-5 does; Python's round()
        # rounds half to even, which would publish 10 for 12 and 15 for 13 but 20 for 17.5.
        return int((count + self.multiple / 2) // self.multiple * self.multiple)

    def publish(self, count: int) -> int | None:
        """A single count as it may be published: None if redacted, else rounded."""
        if count < 0:
            raise DisclosureError("a count cannot be negative")
        return None if self.is_redacted(count) else self.round(count)

    def is_dominated(self, total: float, largest: float, second: float) -> bool:
        """The p% rule: the rest of the sum, beyond its two largest contributions, is under p%
        of the largest. A sum of one or two contributions is always dominated (p > 0)."""
        return largest > 0 and total - largest - second < self.dominance_p / 100 * largest

    def count_protection(self, count: int) -> tuple[float, float]:
        """The range a hidden count's feasible interval must cover: from 0 to above the
        threshold for a count of the threshold or less (so it is never narrowed to 1–7, nor
        shown to be at least 1), else just the count itself (never pinned to one value)."""
        return (0, self.threshold + 1) if count <= self.threshold else (count, count)

    def sum_protection(self, total: float, sensitive: bool) -> tuple[float, float]:
        """The range a hidden sum's feasible interval must cover: p% either side of it when its
        own rule (threshold or dominance) hid it, else just the sum itself."""
        share = self.dominance_p / 100 if sensitive else 0
        return (total * (1 - share), total * (1 + share))

    @staticmethod
    def protects(low: float, high: float, need: tuple[float, float]) -> bool:
        """Whether a hidden cell's feasible interval [low, high] covers its protection range
        and is more than one value (the interval comes from linear programming, hence the
        tolerance)."""
        tolerance = 1e-6 * max(1.0, abs(need[0]), abs(need[1]))
        return low <= need[0] + tolerance and high >= need[1] - tolerance and high - low > tolerance
