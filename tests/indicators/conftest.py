"""A small synthetic region taken to the linked zone once per session, and `phm indicators`
run on it as the analyst would. Identity noise in hospital records is turned off (every record
carries its NHS number), so that a hospital-use flag the truth expects is not lost to tracing:
tests/identity measures tracing; here the indicators are measured."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest

from openphm.governance.audit import Actor

PEOPLE, PRACTICES, SEED = 3000, 2, 25
END = dt.date(2026, 10, 31)
ENGINEER = Actor(user="test-engineer", role="processor-engineer")


@dataclass(frozen=True)
class Built:
    region: Path
    workspace: Path
    output: str  # what `phm indicators` printed


@pytest.fixture(scope="session")
def built(tmp_path_factory, land_and_link, cli) -> Built:
    from openphm.synth import CODELISTS, RegionOptions, generate_region

    root = tmp_path_factory.mktemp("indicators-region")
    region, workspace = root / "region", root / "workspace"
    options = RegionOptions(people=PEOPLE, practices=PRACTICES, seed=SEED, end=END,
                            missing_nhs_rate=0, invalid_nhs_rate=0)  # fmt: skip
    generate_region(region, options)
    land_and_link(region, workspace, ENGINEER)
    result = cli(["indicators", workspace, "--reference-date", END.isoformat(),
                  "--codelists", CODELISTS, "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    return Built(region, workspace, result.output)
