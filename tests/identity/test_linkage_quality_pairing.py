"""benchmarks/linkage_quality.py pairs each linked record with its truth row: an unmatched record
by the unmatched pseudonym its truth row's record id gives, before any pairing by order. A
hand-made file where pairing by order alone names the wrong person."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from linkage_quality import pair_up


def test_an_unmatched_record_is_paired_with_its_own_truth_row_not_the_next_in_order():
    # Row 1 is an objector's (B), removed from the zone; row 2 is A's, left untraced; row 3 is
    # A's, traced. Paired by order, the untraced record would be taken for B's.
    truth = pd.DataFrame(
        {
            "file": ["f.csv"] * 3,
            "row": [1, 2, 3],
            "person_id": [2, 1, 1],
            "true": ["pB", "pA", "pA"],
            "untraced": ["u1", "u2", "u3"],
        }
    )
    linked = pd.DataFrame({"file": ["f.csv", "f.csv"], "pseudonym": ["u2", "pA"]})
    paired = pair_up(linked, truth).set_index("pseudonym")
    assert paired.loc["u2", "person_id"] == 1
    assert paired.loc["pA", "person_id"] == 1
    assert len(paired) == 2


def test_a_wrong_link_is_still_paired_in_order_with_what_is_left():
    truth = pd.DataFrame(
        {
            "file": ["f.csv"] * 2,
            "row": [1, 2],
            "person_id": [1, 2],
            "true": ["pA", "pB"],
            "untraced": ["u1", "u2"],
        }
    )
    linked = pd.DataFrame({"file": ["f.csv", "f.csv"], "pseudonym": ["pA", "pA"]})
    paired = pair_up(linked, truth)
    assert sorted(paired["person_id"]) == [1, 2]  # the second pA is B's record, wrongly linked
    assert (paired["pseudonym"] == paired["true"]).sum() == 1
