"""Spark tests: one local Spark session for the whole run (`spark_session`, tests/conftest.py,
shared with the rule tests' Spark runs), and one synthetic region landed, linked (by the real
pipeline, on DuckDB) and copied to encrypted Parquet once.

Marked `spark` (run by `make test-spark`, not `make test`); skipped, saying why, only when
there is no Java to run Spark on."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from openphm import clock
from openphm.governance.audit import Actor

NOW = "2026-11-03T10:00:00"
ENGINEER = Actor(user="t", role="processor-engineer")
PEOPLE = 3000


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.spark)
            if shutil.which("java") is None:
                item.add_marker(pytest.mark.skip(reason="no Java runtime: run `make java`"))


@pytest.fixture(autouse=True)
def programme_clock(monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed(NOW))


@dataclass
class LinkedWorkspace:
    root: Path
    region: Path


@pytest.fixture(scope="session")
def linked_workspace(tmp_path_factory, land_and_link) -> LinkedWorkspace:
    """A workspace whose linked zone the real pipeline built from a 3,000-person region."""
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("spark-region")
    with land_and_link.clock_at(NOW):
        generate_region(root / "region", RegionOptions(people=PEOPLE, practices=2, seed=5))
    # RZ1, a trust, registers its key: a cohort can then be sent to it (its own patients).
    ws = land_and_link(root / "region", root / "ws", ENGINEER, now=NOW, providers=("RZ1",))
    return LinkedWorkspace(ws.root, root / "region")
