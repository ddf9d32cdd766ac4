"""Fixtures every test folder may use."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
from hypothesis import settings

from openphm.governance.audit import Actor

# Property tests check behaviour, not speed: many examples run a DuckDB query, which can take
# longer than Hypothesis's default 200 ms deadline on a busy 2-core machine.
settings.register_profile("openphm", deadline=None)
settings.load_profile("openphm")


# The engines the rule tests run on, ehrQL style: a test that takes `engine` (or a fixture that
# does) runs once per engine. DuckDB's run is in the default run; Spark's is marked `spark` and
# `slow` (a local Spark session: `pytest -m 'spark and slow'`), so neither `make test` nor
# `make test-spark` grows by it. This is the one place in the tests that names the engines.
ENGINE_PARAMS = (
    pytest.param("duckdb", id="duckdb"),
    pytest.param(
        "spark",
        id="spark",
        marks=(
            pytest.mark.spark,
            pytest.mark.slow,
            pytest.mark.skipif(
                shutil.which("java") is None, reason="no Java runtime: run `make java`"
            ),
        ),
    ),
)


@pytest.fixture(scope="session", params=ENGINE_PARAMS)
def engine(request):
    """The engine object (`openphm.engine.base.Engine`) a rule test runs its stage on; Spark's
    on the one local session every Spark test shares (`spark_session`)."""
    from openphm.engine import engine_for

    if request.param == "spark":
        from openphm.engine.spark import Spark

        return Spark(session=request.getfixturevalue("spark_session"))
    return engine_for(request.param)


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """One local Spark session (a JVM) for every Spark test, made when a test first asks."""
    from openphm.engine import spark

    session = spark.session(tmp_path_factory.mktemp("spark"), shuffle_partitions=4)
    session.sparkContext.setLogLevel("FATAL")  # failed reads in tests print whole stacks
    yield session
    session.stop()


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

    def run(
        region: Path,
        workspace: Path,
        actor: Actor,
        *,
        now: str | None = None,
        providers: tuple[str, ...] = (),
    ):
        """`providers`: hospital providers that make a key pair (in the region's
        providers/<ODS>/keys/, their own machine) and register it before the link."""
        from openphm.practice.keys import generate_keypair
        from openphm.pseudonymise.providers import register_provider

        with clock_at(now):
            ws = Workspace.create(workspace, region / "programme.toml", actor)
            ingest(ws, [region / "extracts"], actor)
            for practice in ws.config.programme.controllers:
                key = region / "practices" / practice / "practice.pub"
                register_practice(ws, actor, practice, key)
            for provider in providers:
                pair = generate_keypair(region / "providers" / provider / "keys", stem="provider")
                register_provider(ws, actor, provider, pair.public_key)
            link(ws, actor)
        return ws

    run.clock_at = clock_at
    return run


# Statements a test may use in `run_killed`'s `kill` to stop the process at one instant.
_KILLERS = '''
import os, signal
from openphm.governance.audit import AuditLog


def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)


def after(function):
    def then_die(*args, **kwargs):
        function(*args, **kwargs)
        die()

    return then_die


def at_entry(action, number=1, *, written=False):
    """Die at the `number`-th "ok" entry of `action`: before it is written, or just after."""
    record, seen = AuditLog.record, [0]

    def dying(self, actor, act, **kwargs):
        if act == action and kwargs.get("outcome", "ok") == "ok":
            seen[0] += 1
            if seen[0] == number:
                (after(record) if written else die)(self, actor, act, **kwargs)
        return record(self, actor, act, **kwargs)

    AuditLog.record = dying
'''


@pytest.fixture(scope="session")
def run_killed():
    """Run `code` in a new Python process after `kill` has set a trap (with `die`, `after` and
    `at_entry` above) that kills the process with SIGKILL at one instant: nothing after it
    runs, no `finally`, no `__exit__`. Fails if the process was not killed there."""
    import signal
    import subprocess
    import sys
    import textwrap

    def run(code: str, kill: str, *, timeout: float = 300) -> None:
        script = _KILLERS + textwrap.dedent(kill) + "\n" + textwrap.dedent(code)
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout
        )
        assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]

    return run


# A message a refresh record may keep for a failed stage (refresh.run._error), made to look like
# a value from the data: what people are shown of a refresh must never include it.
REFRESH_MESSAGE = "row 7, field nhs_number: 9434765919 is not valid"
UNEXPECTED_VALUE_ERROR = "ValueError (an unexpected error: its traceback is printed above)"
SKIPPED_PACKS = "skipped: programme.toml chooses no indicator packs"


def _stages(started: str, *stages: tuple) -> list[dict]:
    """Stages as refresh.run records them, run one after another from `started`: each
    (name, status, seconds, note, error, kind); a stage with seconds None never started."""
    import datetime as dt

    moment, out = dt.datetime.fromisoformat(started), []
    for name, status, seconds, note, error, kind in stages:
        ran = seconds is not None
        ended = moment + dt.timedelta(seconds=round(seconds)) if ran else None
        stage = {
            "name": name, "status": status,
            "started": moment.isoformat(timespec="seconds") if ran else None,
            "ended": ended.isoformat(timespec="seconds") if ran else None,
            "seconds": seconds, "inputs": "a" * 64 if ran else None,
            "outputs": "b" * 64 if status == "done" else None,
            "counts": {"people": 1500} if status == "done" else {}, "note": note, "error": error,
        }  # fmt: skip
        if kind is not None:  # records written before the kind was kept have none
            stage["error_kind"] = kind
        out.append(stage)
        moment = ended or moment
    return out


@pytest.fixture
def refresh_records():
    """write(ws) puts three refresh records, written by hand as refresh.run writes them, in
    WORKSPACE/refresh and returns them, oldest first: one abandoned after its link stage
    failed with a message (an old record: no error_kind), one done (resumed once, its
    indicators skipped), and the latest stopped by an unexpected error in its risk stage."""

    def write(ws) -> list[dict]:
        import json

        pending = [(n, "pending", None, "", "", None) for n in ("analyse", "indicators")]
        abandoned = {
            "id": "20261006-020000-a1b2c3", "status": "abandoned",
            "started": "2026-10-06T02:00:00+00:00", "ended": "2026-10-07T09:00:00+00:00",
            "by": "phm-processor", "reference_date": None, "resumed": [],
            "stages": _stages(
                "2026-10-06T02:00:00+00:00",
                ("ingest", "done", 12.5, "3 file(s) loaded, 0 unchanged", "", None),
                ("link", "failed", 3.25, "", REFRESH_MESSAGE, None),
                *pending, *[(n, "pending", None, "", "", None) for n in ("risk", "cohorts")],
            ),
        }  # fmt: skip
        done = {
            "id": "20261007-090100-d4e5f6", "status": "done",
            "started": "2026-10-07T09:01:00+00:00", "ended": "2026-10-07T09:05:00+00:00",
            "by": "phm-processor", "reference_date": "2026-09-30",
            "resumed": ["2026-10-07T09:03:00+00:00"],
            "stages": _stages(
                "2026-10-07T09:01:00+00:00",
                ("ingest", "done", 10.0, "0 file(s) loaded, 3 unchanged", "", ""),
                ("link", "done", 40.75, "3 new file(s) linked; 1,500 people", "", ""),
                ("analyse", "done", 61.0, "as at 2026-09-30 (data to 2026-09-30)", "", ""),
                ("indicators", "skipped", 0.01, SKIPPED_PACKS, "", ""),
                ("risk", "done", 95.5, "1,500 people scored as at 2026-09-30", "", ""),
                ("cohorts", "done", 20.0, "1 cohort(s) built, lists written", "", ""),
            ),
        }  # fmt: skip
        stopped = {
            "id": "20261106-020000-0a9b8c", "status": "running",
            "started": "2026-11-06T02:00:00+00:00", "ended": None, "by": "phm-processor",
            "reference_date": "2026-10-31", "resumed": [],
            "stages": _stages(
                "2026-11-06T02:00:00+00:00",
                ("ingest", "done", 11.0, "3 file(s) loaded, 0 unchanged", "", ""),
                ("link", "done", 42.0, "3 new file(s) linked; 1,510 people", "", ""),
                ("analyse", "done", 63.5, "as at 2026-10-31 (data to 2026-10-31)", "", ""),
                ("indicators", "skipped", 0.0, SKIPPED_PACKS, "", ""),
                ("risk", "failed", 7.25, "", UNEXPECTED_VALUE_ERROR, "ValueError"),
                ("cohorts", "pending", None, "", "", ""),
            ),
        }  # fmt: skip
        folder = ws.root / "refresh"
        folder.mkdir(exist_ok=True)
        records = [abandoned, done, stopped]
        for record in records:
            (folder / f"{record['id']}.json").write_text(json.dumps(record, indent=2))
        return records

    return write
