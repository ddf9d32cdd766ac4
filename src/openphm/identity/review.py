"""Clerical review: a person labels a sample of tracing's pairs, and the labels become
estimates of its precision and recall with 95% intervals.

`sample` reads each scored record's best candidate with the records' and spine's identifiers
(identifiable: it is for the processor, who may see them) and returns the sample to label;
`estimate` reads the labelled sample and returns figures only.

The sample is stratified by match probability, because nearly all pairs sit at 0 or 1 and a
simple random sample would show a reviewer almost nothing near the threshold, where a mistake
is likeliest: the bands are cut at 0.5, the threshold, 0.99 and 0.9999, and up to PER_BAND
pairs are drawn from each (seeded). Each band's share of matches is estimated from its labels
and weighed by how many pairs the band holds, so the estimates are for all pairs, not for the
sample. Intervals: each band's share has a Jeffreys posterior, Beta(matches + ½, non-matches
+ ½); precision and recall are computed on 20,000 joint draws (seeded), and the 2.5th and
97.5th percentiles given. A band with no labels counts with the uninformative Beta(½, ½),
which widens the intervals as it should.

Recall here is over the pairs tracing found as candidates (probability at least 0.001): a true
match that no blocking rule brought together cannot be in the sample, so it cannot be counted.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PER_BAND = 20
DRAWS = 20_000
SAMPLE_COLUMNS = ("band", "band_pairs", "linked", "match_probability", "record_id", "spine_id")
MATCH = {"match", "yes", "y", "1", "true"}
NON_MATCH = {"non-match", "nonmatch", "no", "n", "0", "false"}
UNSURE = {"", "unsure", "?", "not sure"}


class ReviewError(ValueError):
    """A labelled sample that cannot be read: says which row and what to write instead."""


def bands(threshold: float) -> list[tuple[float, float]]:
    """Probability bands [low, high), cut at 0.5, the threshold, 0.99 and 0.9999."""
    edges = sorted({0.0, 0.5, threshold, 0.99, 0.9999, 1.0 + 1e-9})
    return list(itertools.pairwise(edges))


def sample(
    best: pd.DataFrame,
    threshold: float,
    records: pd.DataFrame,
    spine: pd.DataFrame,
    fields: Sequence[str],
    *,
    seed: int = 42,
) -> pd.DataFrame:
    """Up to PER_BAND of each band's best candidates (record_id, spine_id, match_probability),
    each with the record's and the spine person's `fields` side by side and an empty `label`
    for the reviewer: match, non-match, or blank when unsure. `records` and `spine` are the
    identifiers as sent, indexed by their ids."""
    p = best["match_probability"].to_numpy(dtype="float64")
    parts = []
    for low, high in bands(threshold):
        inside = best[(p >= low) & (p < high)]
        if inside.empty:
            continue
        drawn = inside.sample(min(PER_BAND, len(inside)), random_state=seed)
        parts.append(
            drawn.assign(
                band=f"{low:.4f}–{min(high, 1.0):.4f}",
                band_pairs=len(inside),
                linked=np.where(drawn["match_probability"] >= threshold, "yes", "no"),
            )
        )
    if not parts:
        return pd.DataFrame(columns=[*SAMPLE_COLUMNS, "label"])
    chosen = pd.concat(parts, ignore_index=True)
    out = chosen.loc[:, list(SAMPLE_COLUMNS)]
    for field in fields:
        out[f"record_{field}"] = records[field].reindex(chosen["record_id"]).to_numpy()
        out[f"spine_{field}"] = spine[field].reindex(chosen["spine_id"]).to_numpy()
    out["label"] = ""
    return out


@dataclass(frozen=True)
class Estimate:
    labelled: int
    matches: int
    unsure: int
    bands_unlabelled: int
    precision: float
    precision_interval: tuple[float, float]
    recall: float
    recall_interval: tuple[float, float]

    def describe(self) -> str:
        lo, hi = self.precision_interval
        rlo, rhi = self.recall_interval
        text = (
            f"precision {self.precision:.4f} (95% interval {lo:.4f} to {hi:.4f}), recall "
            f"{self.recall:.4f} ({rlo:.4f} to {rhi:.4f}), from {self.labelled:,} labelled "
            f"pairs ({self.matches:,} matches"
        )
        text += f", {self.unsure:,} unsure, not counted)" if self.unsure else ")"
        if self.bands_unlabelled:
            text += f"; {self.bands_unlabelled} band(s) had no labels and widen the intervals"
        return text


def estimate(labelled: pd.DataFrame, *, seed: int = 42) -> Estimate:
    """Precision and recall of the linked pairs, with 95% intervals, from a labelled sample."""
    missing = [c for c in ("band", "band_pairs", "linked", "label") if c not in labelled.columns]
    if missing:
        raise ReviewError(f"the sample has no column(s) {', '.join(missing)}: label the file "
                          "`phm trace --report` wrote, keeping its columns")  # fmt: skip
    labels = labelled["label"].fillna("").astype(str).str.strip().str.lower()
    unknown = ~labels.isin(MATCH | NON_MATCH | UNSURE)
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0]) + 2  # the header is line 1
        raise ReviewError(
            f"row {row}: the label is not one of match, non-match or blank (unsure); "
            "write match or non-match, or leave it blank"
        )
    is_match = labels.isin(MATCH)
    counted = is_match | labels.isin(NON_MATCH)
    per_band = (
        labelled.assign(_match=is_match, _counted=counted)
        .groupby("band", sort=False)
        .agg(
            pairs=("band_pairs", "first"),
            linked=("linked", "first"),
            labelled=("_counted", "sum"),
            matches=("_match", "sum"),
        )
    )
    linked = (per_band["linked"].astype(str).str.lower() == "yes").to_numpy()
    pairs = per_band["pairs"].to_numpy(dtype="float64")
    x = per_band["matches"].to_numpy(dtype="float64")
    n = per_band["labelled"].to_numpy(dtype="float64")
    rng = np.random.default_rng(seed)
    draws = rng.beta(x + 0.5, n - x + 0.5, size=(DRAWS, len(per_band)))
    point = np.where(n > 0, x / np.maximum(n, 1), 0.5)
    precision, recall = _figures(point[None, :], pairs, linked)
    precision_draws, recall_draws = _figures(draws, pairs, linked)
    return Estimate(
        labelled=int(n.sum()),
        matches=int(x.sum()),
        unsure=int((~counted).sum()),
        bands_unlabelled=int((n == 0).sum()),
        precision=float(precision[0]),
        precision_interval=_interval(precision_draws),
        recall=float(recall[0]),
        recall_interval=_interval(recall_draws),
    )


def _figures(share: np.ndarray, pairs: np.ndarray, linked: np.ndarray):
    """Precision and recall for each row of per-band match shares."""
    matches = share * pairs
    found = matches[:, linked].sum(axis=1)
    links = pairs[linked].sum()
    total = matches.sum(axis=1)
    precision = found / links if links else np.ones(len(share))
    recall = np.divide(found, total, out=np.ones(len(share)), where=total > 0)
    return precision, recall


def _interval(draws: np.ndarray) -> tuple[float, float]:
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def record_review(ws, actor, sample: Path) -> Estimate:
    """Estimate precision and recall from the labelled sample at `sample` and record them in
    the programme's audit log (`phm trace review`). Raises ReviewError naming the row and
    field of a cell it cannot read, never echoing one: the sample's other cells are
    identifiers."""
    labelled = pd.read_csv(sample, dtype=str, keep_default_na=False)
    if "band_pairs" in labelled:
        counts = pd.to_numeric(labelled["band_pairs"], errors="coerce")
        if counts.isna().any():
            row = int(counts.isna().to_numpy().argmax()) + 2  # the header is line 1
            raise ReviewError(f"row {row}: band_pairs is not a number")
        labelled["band_pairs"] = counts
    found = estimate(labelled)
    ws.audit.record(
        actor,
        "identity.review",
        reads=(sample.name,),
        counts={"pairs_labelled": found.labelled, "matches": found.matches,
                "unsure": found.unsure},
        reason=f"clerical review of tracing: {found.describe()}",
    )  # fmt: skip
    return found
