"""The web keeps each table it published: the same cells under the same rules are controlled
once per process (secondary suppression's linear programmes were most of a page's time at a
million people), a changed cell or rule is controlled afresh, and no viewer can change what
the next is shown."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.disclosure import tables
from openphm.disclosure.rules import DisclosureRules
from openphm.web import published

CELLS = pd.DataFrame({"practice": ["A", "B", "C", "D"], "people": [120, 3, 45, 60]})


@pytest.fixture
def counted(monkeypatch):
    """How many times disclosure control itself ran."""
    runs = []
    real = tables.control_table
    monkeypatch.setattr(published, "_kept", type(published._kept)())
    monkeypatch.setattr(tables, "control_table", lambda *a, **k: runs.append(1) or real(*a, **k))
    return runs


def _publish(cells=CELLS, rules=None):
    return published.control_table(cells, groups=["practice"], counts=["people"],
                                   totals_over=["practice"], rules=rules)  # fmt: skip


def test_the_same_cells_under_the_same_rules_are_controlled_once(counted):
    first, again = _publish(), _publish()
    assert len(counted) == 1
    assert again.table.equals(first.table)
    expected = tables.control_table(CELLS, groups=["practice"], counts=["people"],
                                    totals_over=["practice"])  # fmt: skip
    assert first.table.equals(expected.table)
    # B's 3 is hidden, and so is another cell, or the total would give it away.
    assert first.table["people"].isna().sum() >= 2


def test_a_changed_cell_or_rule_is_controlled_afresh(counted):
    _publish()
    changed = CELLS.assign(people=[120, 3, 45, 80])
    assert not _publish(changed).table.equals(_publish().table)
    _publish(rules=DisclosureRules(threshold=10))
    assert len(counted) == 3


def test_what_a_viewer_changes_is_not_what_the_next_is_shown(counted):
    first = _publish()
    first.table.loc[:, "people"] = 999
    assert not (_publish().table["people"] == 999).any()
