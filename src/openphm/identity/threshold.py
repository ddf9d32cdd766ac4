"""One rule for the match-probability threshold, from the trained model's own expectations.

Reads match probabilities (numbers); writes nothing. docs/identity.md "Threshold" gives the
reasons.

A wrong link puts one person's care in another's record (a privacy and a clinical harm); a
missed one leaves a record as its own person (an undercount). So precision comes first: each
source's links are made best first, for as long as the links made are expected to be right at
least 999 times in 1,000 (the expected number wrong is the sum of 1 − p over them), and no link
is made that is individually less than 19 times likelier right than wrong (p < 0.95). The
expected recall at that threshold (the expected right links over the expected true matches
among all the records) is reported beside it.

The links made include the source's exact matches (`identity.exact`: name, date of birth and
postcode all the same as one person's, and no one else's), which the model would score at 1
less about 10^-14, and which are counted as certain. The promise is about a source's traced
records, whichever pass traced them: at a million people 93% of the records to trace match
exactly, and holding the few scored to 0.999 on their own left one record in 76 untraced
(recall 0.987, with 2 wrong links in 360,115: a precision of 0.99999 where 0.999 was asked).
The expected precision of the scored links alone is reported too.

A run of fewer than a thousand links is allowed one expected wrong link, 0.1% of a thousand:
a share of a handful is not an estimate, and counting it as one would refuse a lone record at
p = 0.998 that any reader would link.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TARGET_PRECISION = 0.999
LOWEST = 0.95  # a link individually 19 times likelier right than wrong, at least
COUNTED_AS_AT_LEAST = 1_000  # links: below this, one expected wrong link is allowed


@dataclass(frozen=True)
class Threshold:
    """The threshold a source's records were linked at, and what the model expects of it,
    over the records it scored."""

    value: float
    rule: str  # "expected precision" (chosen by the rule) or "fixed" (given)
    links: int  # scored links made (the exact matches are `certain`)
    expected_precision: float  # 1 − Σ(1 − p) / (links + certain), over every link made
    expected_recall: float  # (certain + Σ p over the links) / (certain + Σ p of best candidates)
    certain: int = 0  # the source's exact matches, made before scoring
    scored_precision: float = 1.0  # 1 − Σ(1 − p) / links, over the scored links alone

    def describe(self) -> str:
        how = "chosen for expected precision" if self.rule == RULE else "fixed"
        exact = f" and {self.certain:,} exact matches" if self.certain else ""
        scored = (
            f" (of the scored links {self.scored_precision:.4f})" if self.certain and self.links
            else ""
        )  # fmt: skip
        return (
            f"threshold {self.value:.4f} ({how}): {self.links:,} links{exact}, expected "
            f"precision {self.expected_precision:.4f}{scored}, expected recall "
            f"{self.expected_recall:.4f}"
        )


RULE, FIXED = "expected precision", "fixed"


def choose(best: np.ndarray, top: np.ndarray, certain: int = 0) -> Threshold:
    """The rule's threshold for linkable best candidates with probabilities `best` (one per
    record that has a single best candidate), given `top`, each scored record's highest
    candidate probability (ties included), for the expected recall, and `certain`, the
    source's records already linked by exact match."""
    p = np.sort(np.asarray(best, dtype="float64"))[::-1]
    wrong = np.cumsum(1.0 - p)
    k = np.arange(1, len(p) + 1) + certain
    allowed = (1.0 - TARGET_PRECISION) * np.maximum(k, COUNTED_AS_AT_LEAST)
    ok = (wrong <= allowed + 1e-12) & (p >= LOWEST)
    # Links are made best first and stop where the rule first fails (it cannot hold again
    # further down: each further link adds at least as much doubt as the one before). A
    # threshold takes all records at one probability or none, so the links end only where
    # the probability changes.
    first_failing = int(np.argmin(ok)) if not ok.all() else len(p)
    ends = np.flatnonzero(np.r_[p[1:] < p[:-1], True][:first_failing]) if len(p) else []
    if not len(ends):
        value = float(np.nextafter(p[0], 1.0)) if len(p) and p[0] >= LOWEST else LOWEST
        return at(value, best, top, RULE, certain)
    return at(float(p[ends[-1]]), best, top, RULE, certain)


def at(value: float, best: np.ndarray, top: np.ndarray, rule: str = FIXED,
       certain: int = 0) -> Threshold:  # fmt: skip
    """What the model expects of linking at `value`, after `certain` exact matches."""
    best = np.asarray(best, dtype="float64")
    linked = best[best >= value]
    expected = float(np.sum(np.asarray(top, dtype="float64"))) + certain
    right = float(np.sum(linked))
    made = len(linked) + certain
    return Threshold(
        value=value,
        rule=rule,
        links=len(linked),
        expected_precision=(right + certain) / made if made else 1.0,
        expected_recall=(right + certain) / expected if expected else 1.0,
        certain=certain,
        scored_precision=right / len(linked) if len(linked) else 1.0,
    )
