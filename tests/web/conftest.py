"""Fixtures for the web service: a workspace with a small linked population (analysed, as the
population and activity pages read what `phm analyse` built), a release awaiting approval,
cohort lists for two practices, and one account per role; for the analytics, risk and cohort
pages, the small synthetic region taken through the real pipeline (the one tests/risk
builds: synth, ingest, link, analytics, risk trained and scored twice) with the analytics
rebuilt by practice and IMD; and for the indicators page, a tiny linked zone of eight practices
written by hand (indicators.py) with `phm indicators` run on it at two reference dates."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from openphm import clock
from openphm.disclosure.releases import request_release, save_draft
from openphm.governance.audit import Actor
from openphm.web.accounts import LocalAccounts

from .helpers import ACCOUNTS, OTHER_LIST, OWN_LIST, PASSWORD, WORDED_LIST, sign_in


def _people(n: int = 3000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    birth_year = rng.integers(1931, 2026, n)
    ethnic = rng.choice(["White", "Asian", "Black", "Mixed"], n, p=[0.8, 0.1, 0.06, 0.04])
    ethnic[:3] = "Other"  # a group of 3: must never be shown
    return pd.DataFrame(
        {
            "pseudonym": [f"{i:064x}" for i in range(n)],
            "sex": rng.choice(["M", "F"], n),
            "birth_month": pd.to_datetime(
                {"year": birth_year, "month": rng.integers(1, 13, n), "day": 1}
            ).dt.date,
            "ethnicity_code": None,
            "ethnic_group": ethnic,
            "lsoa": None,
            "imd_decile": rng.integers(1, 11, n),
            "practice": rng.choice(["Y10001", "Y10002", "Y10003"], n),
            "registered": True,
            "date_of_death": pd.NaT,
            "traced": "nhs-number",
            "token": None,
        }
    )


def _spells(people: pd.DataFrame, seed: int = 8) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # More emergency admissions in more deprived deciles: a gradient to draw.
    weights = (11 - people["imd_decile"]).to_numpy(dtype=float)
    chosen = rng.choice(people["pseudonym"], 900, p=weights / weights.sum())
    days = rng.integers(1, 360, len(chosen))
    admitted = pd.Timestamp("2026-11-02") - pd.to_timedelta(days, unit="D")
    return pd.DataFrame({"pseudonym": chosen, "admission_date": admitted.date, "emergency": True})


def _build(root: Path, example_config: Path, engineer: Actor):
    from openphm.analytics import AnalyticsOptions, build
    from openphm.analytics.period import default_reference_date
    from openphm.linked import model
    from openphm.programme.workspace import Workspace

    ws = Workspace.create(root, example_config, engineer)
    con = ws.connect_linked()
    # Every table of the linked model, as `phm link` writes them: the people, each registered
    # at their practice since 2000, and their emergency admissions; the rest empty.
    for table in model.TABLES:
        con.execute(model.create_sql(table))
    people = _people()
    con.register("people_frame", people)
    con.execute("INSERT INTO linked.people SELECT * FROM people_frame")
    con.execute(
        "INSERT INTO linked.registrations (pseudonym, practice, start_date) "
        "SELECT pseudonym, practice, DATE '2000-01-01' FROM people_frame"
    )
    con.register("spells_frame", _spells(people))
    con.execute(
        "INSERT INTO linked.apc_spells (pseudonym, admission_date, discharge_date, emergency, "
        "elective) SELECT pseudonym, admission_date, admission_date, emergency, FALSE "
        "FROM spells_frame"
    )
    # The pages read what `phm analyse` built, as at the end of the last complete month.
    build(con, default_reference_date(con), AnalyticsOptions(sii_simulations=500))
    cells = pd.DataFrame(
        {
            "practice": ["Y10001", "Y10001", "Y10002", "Y10002"],
            "register": ["hypertension", "dementia"] * 2,
            "people": [1403, 3, 977, 41],
            "population": [10012, 10012, 7455, 7455],
        }
    )
    save_draft(
        con,
        "prevalence",
        cells,
        groups=["practice", "register"],
        counts=["people", "population"],
        totals_over=["practice"],
        description="register prevalence by practice",
    )
    con.close()
    request_release(
        ws, Actor("ana", "analyst"), ["prevalence"], purpose="prevention", title="Prevalence"
    )
    for ods, name in (("Y10001", OWN_LIST), ("Y10002", OTHER_LIST)):
        folder = ws.zone("outputs") / "cohorts" / ods
        folder.mkdir(parents=True)
        (folder / name).write_text(f"token\n{ods}-sealed-token-1\n{ods}-sealed-token-2\n")
    _worded_lists(ws)
    accounts = LocalAccounts(ws.root)
    for name, (role, ods) in ACCOUNTS.items():
        accounts.add(name, PASSWORD, role, ws.config.programme.controllers, ods)
    return ws


def _worded_lists(ws) -> None:
    """WORDED_LIST for Y10001 (two people) and Y10002 (one), written by `cohorts.build` as
    `phm cohort` writes lists: reasons in words, a description beside each."""
    import datetime as dt

    from openphm.cohorts.build import BuiltCohort, _reasons, write_lists
    from openphm.cohorts.definition import CohortDefinition

    definition = CohortDefinition(
        name=WORDED_LIST.removesuffix(".csv"),
        description="Frail, or often admitted in an emergency",
        purpose="prevention",
        match="any",
        efi_categories=("moderate", "severe"),
        min_emergency_admissions_12m=2,
        segments=("limited_reserve",),
    )
    members = pd.DataFrame(
        {
            "pseudonym": ["a" * 64, "b" * 64, "c" * 64],
            "token": ["Y10001-worded-token-1", "Y10001-worded-token-2", "Y10002-worded-token-1"],
            "practice": ["Y10001", "Y10001", "Y10002"],
            "risk": [0.412, 0.2, 0.3],
            "risk_percentile": [99.1, 90.0, 95.0],
            "segment": ["limited_reserve", "frailty", "frailty"],
            "efi_category": ["moderate", "severe", "severe"],
            "emergency_admissions": [2, 0, 0],
            "met_efi_categories": [True, True, True],
            "met_min_emergency_admissions_12m": [True, False, False],
            "met_segments": [True, False, False],
            "driver_1": ["Heart failure register", "age", "age"],
            "driver_2": [None, None, None],
            "driver_3": [None, None, None],
        }
    )
    members["reasons"] = _reasons(members, definition)
    built = BuiltCohort(definition, members, dt.date(2026, 10, 31), dt.date(2026, 10, 31), 0)
    write_lists(ws.zone("outputs"), built, ws.config)


@pytest.fixture(scope="session")
def template_workspace(tmp_path_factory) -> Path:
    """Built once (argon2 hashing and encryption take a moment), copied per test."""
    from importlib import resources

    base = tmp_path_factory.mktemp("web-template")
    config = base / "programme.toml"
    config.write_text((resources.files("openphm.programme") / "example_programme.toml").read_text())
    # Made an hour before the moment the app's clock reads, so the log stays in time order.
    with clock.frozen_at("2026-11-20T09:00:00"):
        _build(base / "ws", config, Actor("test-engineer", "processor-engineer"))
    return base / "ws"


@pytest.fixture
def web_workspace(template_workspace: Path, tmp_path: Path):
    from openphm.programme.workspace import Workspace

    root = tmp_path / "ws"
    shutil.copytree(template_workspace, root)
    return Workspace.open(root)


@pytest.fixture
def app(web_workspace, monkeypatch):
    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-20T10:00:00"))
    from openphm.web.app import create_app

    return create_app(web_workspace.root)


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture
def as_role(client):
    """as_role("dora") signs the test client in as that account."""

    def signed_in(name: str):
        response = sign_in(client, name)
        assert response.status_code == 303, response.text
        return client

    return signed_in


def _risk_region():
    """tests/risk/region.py, loaded once per session (tests/cohorts loads it the same way)."""
    if "risk_region" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "risk_region", Path(__file__).parents[1] / "risk" / "region.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules["risk_region"] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules["risk_region"]


@pytest.fixture(scope="session")
def region_template(tmp_path_factory) -> Path:
    """A copy of the region's workspace with every measure by practice, IMD and the region's
    PCNs, place and ICB, and one account per role (the practice user at the region's first
    practice)."""
    from openphm.analytics import AnalyticsOptions, build
    from openphm.analytics.stage import areas_of
    from openphm.programme.workspace import Workspace

    region = _risk_region()
    built = region.built_region(tmp_path_factory.getbasetemp())
    root = tmp_path_factory.mktemp("web-region") / "ws"
    shutil.copytree(built.workspace, root)
    shutil.rmtree(root / "outputs" / "cohorts", ignore_errors=True)  # tests/cohorts' lists
    ws = Workspace.open(root)
    con = ws.connect_linked()
    try:
        groupings = ("practice", "imd_decile", "imd_quintile")
        options = AnalyticsOptions(groupings=groupings, sii_simulations=500, areas=areas_of(ws))
        build(con, region.END, options)
    finally:
        con.close()
    accounts = LocalAccounts(root)
    controllers = ws.config.programme.controllers
    for name, (role, ods) in ACCOUNTS.items():
        accounts.add(name, PASSWORD, role, controllers, controllers[0] if ods else None)
    return root


@pytest.fixture
def region_client(region_template, tmp_path, monkeypatch):
    """A test client over a fresh copy of the region's workspace: (client, workspace)."""
    from fastapi.testclient import TestClient

    from openphm.programme.workspace import Workspace
    from openphm.web.app import create_app

    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-20T10:00:00"))
    root = tmp_path / "ws"
    shutil.copytree(region_template, root)
    with TestClient(create_app(root), follow_redirects=False) as client:
        yield client, Workspace.open(root)


@pytest.fixture(scope="session")
def indicators_template(tmp_path_factory) -> Path:
    """The tiny indicators workspace (tests/web/indicators.py), built once, with one account
    per role."""
    from .indicators import build_workspace

    root = tmp_path_factory.mktemp("web-indicators") / "ws"
    with clock.frozen_at("2026-11-20T09:00:00"):  # before the app's clock, as the template's
        ws = build_workspace(root)
    accounts = LocalAccounts(root)
    for name, (role, ods) in ACCOUNTS.items():
        accounts.add(name, PASSWORD, role, ws.config.programme.controllers, ods)
    return root


@pytest.fixture
def indicators_client(indicators_template, tmp_path, monkeypatch):
    """A test client over a fresh copy of the indicators workspace: (client, workspace)."""
    from fastapi.testclient import TestClient

    from openphm.programme.workspace import Workspace
    from openphm.web.app import create_app

    monkeypatch.setattr(clock, "_source", clock.fixed("2026-11-20T10:00:00"))
    root = tmp_path / "ws"
    shutil.copytree(indicators_template, root)
    with TestClient(create_app(root), follow_redirects=False) as client:
        yield client, Workspace.open(root)
