"""The disclosure rules: counts from 1 to 7 are redacted, every other count is rounded to the
nearest 5 (the rule OpenSAFELY applies to its outputs). A programme may make them stricter; it
may make them looser only with a recorded reason, which the audit log keeps."""

from __future__ import annotations

from dataclasses import dataclass

SUPPRESSION_THRESHOLD = 7
ROUNDING_MULTIPLE = 5


class DisclosureError(ValueError):
    """Rules that would publish something the defaults forbid, without a recorded reason."""


@dataclass(frozen=True)
class DisclosureRules:
    threshold: int = SUPPRESSION_THRESHOLD
    multiple: int = ROUNDING_MULTIPLE
    reason: str = ""

    def __post_init__(self) -> None:
        if self.threshold < 0 or self.multiple < 1:
            raise DisclosureError("the threshold must be ≥ 0 and the rounding multiple ≥ 1")
        looser = self.threshold < SUPPRESSION_THRESHOLD or self.multiple < ROUNDING_MULTIPLE
        if looser and not self.reason.strip():
            raise DisclosureError(
                f"rules looser than the defaults (redact 1–{SUPPRESSION_THRESHOLD}, round to "
                f"{ROUNDING_MULTIPLE}) need a recorded reason"
            )

    @classmethod
    def relaxed(cls, threshold: int, multiple: int, reason: str) -> DisclosureRules:
        """The one explicit way to loosen the rules; callers record `reason` in the audit log."""
        return cls(threshold=threshold, multiple=multiple, reason=reason)

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
