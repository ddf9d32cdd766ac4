"""One small synthetic region, landed and linked once for the whole session, with canaries
planted in its extracts: values so distinctive that finding one anywhere in the linked zone,
the audit log or the workspace's files can only mean an identifier leaked."""

from __future__ import annotations

import shutil

import pytest

from openphm import clock

from .region import ENGINEER, NOW, Linked, plant_canaries


@pytest.fixture(autouse=True)
def programme_clock(monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed(NOW))


@pytest.fixture(scope="session")
def linked_region(tmp_path_factory, land_and_link) -> Linked:
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("linked-region")
    region = root / "region"
    with land_and_link.clock_at(NOW):
        generate_region(region, RegionOptions(people=2000, practices=2, seed=11))
        ref = plant_canaries(region)
        held = root / "held" / "emergency-care" / "RZ1"
        held.mkdir(parents=True)
        [r2] = (region / "extracts" / "emergency-care" / "RZ1").glob("*_r2.csv")
        resubmission = held / r2.name
        shutil.move(r2, resubmission)
    ws = land_and_link(region, root / "ws", ENGINEER, now=NOW, providers=("RZ1",))
    return Linked(region, ws.root, resubmission, ref)
