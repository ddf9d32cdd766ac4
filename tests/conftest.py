"""Fixtures every test folder may use."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from hypothesis import settings

from openphm.governance.audit import Actor

# Property tests check behaviour, not speed: many examples run a DuckDB query, which can take
# longer than Hypothesis's default 200 ms deadline on a busy 2-core machine.
settings.register_profile("openphm", deadline=None)
settings.load_profile("openphm")


@pytest.fixture
def example_config(tmp_path: Path) -> Path:
    """The example programme.toml, copied where a test may change it."""
    text = (resources.files("openphm.programme") / "example_programme.toml").read_text()
    path = tmp_path / "programme.toml"
    path.write_text(text)
    return path


@pytest.fixture
def engineer() -> Actor:
    return Actor(user="test-engineer", role="processor-engineer")


@pytest.fixture
def dpo() -> Actor:
    return Actor(user="test-dpo", role="data-protection-officer")


@pytest.fixture
def analyst() -> Actor:
    return Actor(user="test-analyst", role="analyst")


@pytest.fixture
def workspace(tmp_path: Path, example_config: Path, engineer: Actor):
    from openphm.programme.workspace import Workspace

    return Workspace.create(tmp_path / "ws", example_config, engineer)


@pytest.fixture(scope="session")
def cli():
    """Invoke `phm` in-process: cli(["init", ...]) -> result with exit_code and output."""
    from typer.testing import CliRunner

    from openphm.cli import _register, app

    _register()
    runner = CliRunner()

    def invoke(args: list[str], **kwargs):
        return runner.invoke(app, [str(a) for a in args], **kwargs)

    return invoke


@pytest.fixture(scope="session")
def land_and_link():
    """The pipeline up to the linked zone, as the processor would run it on a synthetic
    region: create the workspace, ingest the extracts, register each practice's public key,
    link. Returns the workspace. `now` (ISO) holds the programme clock for the whole run."""
    import contextlib

    from openphm import clock
    from openphm.landing.ingest import ingest
    from openphm.programme.workspace import Workspace
    from openphm.pseudonymise.link import link
    from openphm.pseudonymise.practices import register_practice

    @contextlib.contextmanager
    def clock_at(now: str | None):
        with clock.frozen_at(now) if now is not None else contextlib.nullcontext():
            yield

    def run(region: Path, workspace: Path, actor: Actor, *, now: str | None = None):
        with clock_at(now):
            ws = Workspace.create(workspace, region / "programme.toml", actor)
            ingest(ws, [region / "extracts"], actor)
            for practice in ws.config.programme.controllers:
                key = region / "practices" / practice / "practice.pub"
                register_practice(ws, actor, practice, key)
            link(ws, actor)
        return ws

    run.clock_at = clock_at
    return run
