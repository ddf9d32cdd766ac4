"""One rule for the threshold: links are made best first while they are expected to be right
999 times in 1,000, never one less than 19 times likelier right than wrong; the expected
recall at the threshold is said beside it."""

from __future__ import annotations

import numpy as np
import pytest

from openphm.identity.threshold import LOWEST, RULE, at, choose


def test_links_stop_where_the_expected_precision_would_fall_below_the_target():
    certain = np.full(5000, 0.99999)
    doubtful = np.linspace(0.998, 0.96, 2000)
    best = np.r_[certain, doubtful]
    chosen = choose(best, best)
    assert chosen.rule == RULE
    assert chosen.expected_precision >= 0.999
    # One more link would have taken the links below the target.
    one_more = best[best < chosen.value].max()
    assert at(one_more, best, best).expected_precision < 0.999
    assert LOWEST < chosen.value < 0.998
    assert chosen.links == (best >= chosen.value).sum()
    assert chosen.expected_recall == pytest.approx(best[best >= chosen.value].sum() / best.sum())


def test_no_link_is_made_below_the_lowest_probability_however_certain_the_rest():
    best = np.r_[np.full(100_000, 1.0), [0.94, 0.9]]
    chosen = choose(best, best)
    assert chosen.value == pytest.approx(1.0) and chosen.links == 100_000


def test_a_handful_of_links_may_hold_one_expected_wrong_link_between_them():
    assert choose(np.array([0.97]), np.array([0.97])).links == 1
    # 25 links at 0.96 expect one wrong; 26 would expect more than one.
    best = np.r_[np.full(25, 0.99), np.full(30, 0.96)]
    chosen = choose(best, best)
    assert chosen.value == pytest.approx(0.99) and chosen.links == 25


def test_records_at_one_probability_are_linked_together_or_not_at_all():
    best = np.full(2000, 0.96)  # 80 expected wrong: too many, and no way to take only some
    chosen = choose(best, best)
    assert chosen.links == 0 and chosen.value > 0.96


def test_expected_recall_counts_records_whose_best_candidate_was_not_linked():
    best = np.array([1.0, 1.0, 0.5])
    top = np.r_[best, 0.9]  # a fourth record with two candidates tied at 0.9
    chosen = choose(best, top)
    assert chosen.links == 2
    assert chosen.expected_recall == pytest.approx(2 / 3.4)


def test_a_sources_exact_matches_count_among_the_links_the_target_is_kept_over():
    # 20 links at 0.99 expect 0.2 wrong; each of 40 at 0.97 adds 0.03. After 1,000 exact
    # matches, j of the 0.97s are allowed while 0.2 + 0.03j <= 0.001 (1,000 + 20 + j), j <= 28:
    # not all 40, and records at one probability go together, so none. After 2,000,
    # 0.2 + 0.03j <= 0.001 (2,000 + 20 + j) holds to j = 62: all 40.
    best = np.r_[np.full(20, 0.99), np.full(40, 0.97)]
    fewer = choose(best, best, certain=1000)
    assert fewer.value == pytest.approx(0.99) and fewer.links == 20
    more = choose(best, best, certain=2000)
    assert more.value == pytest.approx(0.97) and more.links == 60 and more.certain == 2000
    assert more.expected_precision == pytest.approx((2000 + 20 * 0.99 + 40 * 0.97) / 2060)
    assert more.scored_precision == pytest.approx((20 * 0.99 + 40 * 0.97) / 60)
    assert more.expected_precision >= 0.999
    assert more.expected_recall == pytest.approx(1.0)
    # Without them the scored links alone are held to the target: 20 links at 0.99.
    assert choose(best, best).links == 20


def test_exact_matches_never_carry_a_link_below_the_lowest_probability():
    chosen = choose(np.full(10, 0.94), np.full(10, 0.94), certain=1_000_000)
    assert chosen.links == 0 and chosen.value >= LOWEST
