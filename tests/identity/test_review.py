"""Clerical review: a sample stratified by match probability, labelled by a person, becomes
estimates of precision and recall with intervals that contain the truth and say how sure
they are."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm.identity.review import PER_BAND, ReviewError, bands, estimate, sample


def _best(n_per_band: dict[float, int], seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    parts = []
    for p, n in n_per_band.items():
        parts.append(pd.DataFrame({"match_probability": np.full(n, p)}))
    best = pd.concat(parts, ignore_index=True).sample(frac=1, random_state=seed)
    best["record_id"] = [f"R{i}" for i in range(len(best))]
    best["spine_id"] = [f"S{i}" for i in rng.permutation(len(best))]
    return best.reset_index(drop=True)


def _identifiers(ids: pd.Series, name: str) -> pd.DataFrame:
    return pd.DataFrame({"given_name": [f"{name}{i}" for i in range(len(ids))]}, index=ids)


def test_the_sample_draws_from_every_probability_band_and_says_how_big_each_is():
    best = _best({0.3: 50, 0.7: 40, 0.97: 30, 0.995: 100, 0.99999: 5000})
    drawn = sample(best, 0.96, _identifiers(best["record_id"], "A"),
                   _identifiers(best["spine_id"], "B"), ["given_name"])  # fmt: skip
    assert bands(0.96) == [(0.0, 0.5), (0.5, 0.96), (0.96, 0.99), (0.99, 0.9999),
                           (0.9999, 1.0 + 1e-9)]  # fmt: skip
    per_band = drawn.groupby("band")["band_pairs"].agg(["first", "size"])
    assert sorted(per_band["first"]) == [30, 40, 50, 100, 5000]
    assert (per_band["size"] == PER_BAND).all()
    assert set(drawn.loc[drawn["match_probability"] >= 0.96, "linked"]) == {"yes"}
    assert set(drawn.loc[drawn["match_probability"] < 0.96, "linked"]) == {"no"}
    assert drawn["record_given_name"].str.startswith("A").all()
    assert (drawn["label"] == "").all()


def _labelled(truth_share: dict[float, float], sizes: dict[float, int], threshold=0.96):
    """A sample labelled as a reviewer would: in each band, that share of pairs are matches."""
    best = _best(sizes)
    drawn = sample(best, threshold, _identifiers(best["record_id"], "A"),
                   _identifiers(best["spine_id"], "B"), ["given_name"])  # fmt: skip
    rng = np.random.default_rng(3)
    drawn["label"] = [
        "match" if rng.random() < truth_share[p] else "non-match"
        for p in drawn["match_probability"]
    ]
    return drawn


def test_labels_become_precision_and_recall_weighted_by_the_bands_sizes():
    sizes = {0.3: 1000, 0.7: 100, 0.97: 100, 0.995: 200, 0.99999: 10000}
    everything_right = {0.3: 0.0, 0.7: 1.0, 0.97: 1.0, 0.995: 1.0, 0.99999: 1.0}
    found = estimate(_labelled(everything_right, sizes))
    assert found.precision == 1.0
    # The 100 pairs at 0.7, all matches, were not linked: recall 10,300 / 10,400.
    assert found.recall == pytest.approx(10300 / 10400)
    # Twenty labels a band show no wrong link, but cannot show fewer than about one in
    # twenty: the interval says so.
    low, high = found.precision_interval
    assert 0.8 < low < 0.95 and high > 0.999
    assert found.recall_interval[0] < found.recall < found.recall_interval[1]


def test_wrong_links_near_the_threshold_lower_the_precision_estimate():
    sizes = {0.3: 1000, 0.7: 100, 0.97: 2000, 0.995: 200, 0.99999: 10000}
    half_wrong = {0.3: 0.0, 0.7: 0.5, 0.97: 0.5, 0.995: 1.0, 0.99999: 1.0}
    found = estimate(_labelled(half_wrong, sizes))
    true_precision = (1000 + 200 + 10000) / 12200
    low, high = found.precision_interval
    assert low < true_precision < high
    assert high < 0.99


def test_unsure_pairs_are_not_counted_and_a_bad_label_names_its_row():
    drawn = _labelled({0.3: 0.0, 0.99999: 1.0}, {0.3: 100, 0.99999: 100})
    drawn.loc[0, "label"] = ""
    assert estimate(drawn).unsure == 1
    drawn.loc[3, "label"] = "maybe"
    with pytest.raises(ReviewError, match="row 5: the label is not one of match, non-match"):
        estimate(drawn)
