"""One small synthetic region, landed and linked once for the whole session, with canaries
planted in its extracts: values so distinctive that finding one anywhere in the linked zone,
the audit log or the workspace's files can only mean an identifier leaked."""

from __future__ import annotations

import os
import shutil

import pytest

from .region import ENGINEER, NOW, Linked, plant_canaries


@pytest.fixture(autouse=True)
def programme_clock(monkeypatch):
    monkeypatch.setenv("PHM_NOW", NOW)


@pytest.fixture(scope="session")
def linked_region(tmp_path_factory) -> Linked:
    from openphm.landing.ingest import ingest
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise.link import link
    from openphm.pseudonymise.practices import register_practice
    from openphm.synth import RegionOptions, generate_region

    root = tmp_path_factory.mktemp("linked-region")
    region = root / "region"
    previous = os.environ.get("PHM_NOW")
    os.environ["PHM_NOW"] = NOW
    try:
        generate_region(region, RegionOptions(people=2000, practices=2, seed=11))
        ref = plant_canaries(region)
        held = root / "held" / "emergency-care" / "RZ1"
        held.mkdir(parents=True)
        [r2] = (region / "extracts" / "emergency-care" / "RZ1").glob("*_r2.csv")
        resubmission = held / r2.name
        shutil.move(r2, resubmission)
        ws = Workspace.create(root / "ws", region / "programme.toml", ENGINEER)
        ingest(ws, [region / "extracts"], ENGINEER)
        for practice in ws.config.programme.controllers:
            key = region / "practices" / practice / "practice.pub"
            register_practice(ws, ENGINEER, practice, key)
        link(ws, ENGINEER)
    finally:
        if previous is None:
            os.environ.pop("PHM_NOW", None)
        else:
            os.environ["PHM_NOW"] = previous
    return Linked(region, ws.root, resubmission, ref)
