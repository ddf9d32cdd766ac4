"""Whole-person linkage on a small synthetic region, against its truth: each person's hospital,
community, social care and death records end up under one pseudonym, the one on their GP
registration, and no two people's records share one. benchmarks/linkage_quality.py prints the
same figures for a region of any size (docs/identity.md has them at 100,000 people)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openphm.governance.audit import Actor

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from linkage_quality import measure

# A region written, landed and linked end to end (about 10 s): the programme tier (docs/testing.md).
pytestmark = pytest.mark.programme

NOW = "2026-11-03T10:00:00"
ENGINEER = Actor(user="test-engineer", role="processor-engineer")


@pytest.fixture(scope="module")
def figures(tmp_path_factory, land_and_link):
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("linkage-quality")
    with land_and_link.clock_at(NOW):
        generate_region(root / "region", RegionOptions(people=2000, practices=2, seed=11))
    land_and_link(root / "region", root / "ws", ENGINEER, now=NOW)
    return measure(root / "region", root / "ws")


def test_records_of_different_people_never_share_a_pseudonym(figures):
    counts, shares = figures
    assert counts["records in the linked zone"] > 5000
    assert (
        counts["another person's pseudonym (wrong link)"]
        <= 0.001 * counts["records in the linked zone"]
    )
    assert shares["pairwise precision"] >= 0.999


def test_all_of_a_persons_records_are_under_their_gp_pseudonym(figures):
    _, shares = figures
    assert shares["record recall, people on a GP list"] >= 0.99
    assert shares["pairwise recall, people on a GP list"] >= 0.98
    assert shares["people on a GP list with a record under their GP pseudonym"] >= 0.99
