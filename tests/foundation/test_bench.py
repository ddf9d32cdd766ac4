"""`phm bench`'s machinery: the programme's engine reaches the workspace, and a stage's peak
memory counts the processes it starts (a Spark stage's JVM)."""

import textwrap

from openphm.bench.measure import measure
from openphm.bench.plan import plan
from openphm.bench.stages import init_workspace
from openphm.programme.workspace import Workspace


def test_a_stage_that_starts_a_process_is_charged_for_its_memory(tmp_path, monkeypatch):
    # The stage's own process stays small; the process it starts holds 400 MB for a while,
    # as Spark's JVM does while the stage runs.
    (tmp_path / "big_child.py").write_text(
        textwrap.dedent(
            """
            import subprocess, sys

            def stage():
                hold = "x = bytearray(400 * 2**20); x[::4096] = b'1' * len(x[::4096]); "
                subprocess.run([sys.executable, "-c", hold + "import time; time.sleep(1.5)"],
                               check=True)
                return {"children": 1}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    result = measure("child", "big_child:stage")
    assert result.counts == {"children": 1}
    assert result.peak_rss_mb >= 400


def test_the_engine_is_written_into_the_benchmark_programme(tmp_path, example_config):
    region = example_config.parent
    init_workspace(region, tmp_path / "spark" / "workspace", "spark")
    assert Workspace.open(tmp_path / "spark" / "workspace").config.engine.kind == "spark"
    init_workspace(region, tmp_path / "duckdb" / "workspace")
    assert Workspace.open(tmp_path / "duckdb" / "workspace").config.engine.kind == "duckdb"
    # The region's own file is left as the region wrote it.
    assert "[engine]" not in example_config.read_text()


def test_every_stage_after_synthesis_runs_on_the_chosen_programme(tmp_path):
    stages = {name: kwargs for name, _, kwargs in plan(tmp_path, people=10, seed=1, engine="spark")}
    assert stages["init"]["engine"] == "spark"
    assert list(stages)[-6:] == ["ingest", "link", "analyse", "risk", "cohorts", "release"]


def test_a_failing_stage_is_reported_by_name_with_its_error(tmp_path, monkeypatch):
    import pytest

    from openphm.bench.measure import StageFailed

    # An error that cannot cross between processes as it is (it holds a lock), as Spark's
    # Py4J errors cannot.
    (tmp_path / "failing.py").write_text(
        "import threading\n"
        "class Unpicklable(Exception):\n"
        "    def __init__(self):\n"
        "        super().__init__('the JVM ran out of heap')\n"
        "        self.lock = threading.RLock()\n"
        "def stage():\n"
        "    raise Unpicklable()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(StageFailed, match="Unpicklable: the JVM ran out of heap"):
        measure("failing", "failing:stage")


def test_a_stage_is_charged_for_the_cpu_it_and_its_processes_use_not_for_waiting(
    tmp_path, monkeypatch
):
    (tmp_path / "cpu_stage.py").write_text(
        textwrap.dedent(
            """
            import subprocess, sys, time

            def spin(seconds):
                end = time.process_time() + seconds
                while time.process_time() < end:
                    pass

            def busy():
                spin(0.5)
                burn = "import time; end = time.process_time() + 1.0\\n"
                burn += "while time.process_time() < end: pass"
                subprocess.run([sys.executable, "-c", burn], check=True)
                return {}

            def idle():
                time.sleep(1.5)
                return {}

            def leaves_a_process_running():
                # As a Spark stage leaves its JVM: busy for a second, alive after the stage.
                burn = "import time; end = time.process_time() + 1.0\\n"
                burn += "while time.process_time() < end: pass\\ntime.sleep(5)"
                subprocess.Popen([sys.executable, "-c", burn])
                time.sleep(2.0)
                return {}
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    busy = measure("busy", "cpu_stage:busy")
    assert busy.cpu_seconds >= 1.4  # its own half second and its child's second
    idle = measure("idle", "cpu_stage:idle")
    assert idle.seconds >= 1.5 and idle.cpu_seconds < 0.5
    running = measure("running", "cpu_stage:leaves_a_process_running")
    assert running.cpu_seconds >= 0.9


def test_the_figures_file_holds_the_totals_and_ratios_the_table_prints(tmp_path, capsys):
    import json

    from openphm.bench.commands import _report
    from openphm.bench.measure import StageResult
    from openphm.bench.run import write_figures

    results = [
        StageResult("synth", 100.0, 900.0, {"people": 10}, 101.0),
        StageResult("io-floor", 10.0, 300.0, {"files": 2}, 12.0),
        StageResult("ingest", 20.0, 1500.0, {"rows": 1_234_567}, 30.0),
        StageResult("link", 30.0, 2500.0, {"people": 10}, 40.0),
    ]
    write_figures(tmp_path / "bench.json", results, 10, "duckdb")
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["pipeline_seconds"] == 50.0  # synth and the floor are not in it
    assert figures["pipeline_cpu_seconds"] == 70.0
    assert figures["peak_memory_mb"] == 2500
    assert figures["floor_ratio"] == 5.0
    assert figures["floor_cpu_ratio"] == round(70 / 12, 2)
    assert figures["stages"][2]["counts"] == {"rows": 1_234_567}
    assert figures["failed_stage"] is None
    _report(results, 10, "duckdb")
    printed = capsys.readouterr().out
    assert "pipeline total 50.00 s (70.0 CPU s)" in printed
    assert "ratio of pipeline to the I/O floor: 5.00×" in printed


def test_the_movement_floor_is_measured_only_when_asked_and_is_not_in_the_pipeline(
    tmp_path, capsys
):
    import json

    from openphm.bench.commands import _report
    from openphm.bench.measure import StageResult
    from openphm.bench.run import write_figures

    asked = [name for name, _, _ in plan(tmp_path, people=10, seed=1, movement=True)]
    assert asked[:3] == ["synth", "io-floor", "movement-floor"]
    assert "movement-floor" not in [name for name, _, _ in plan(tmp_path, people=10, seed=1)]
    results = [
        StageResult("io-floor", 10.0, 300.0, {"files": 2}, 12.0),
        StageResult("movement-floor", 25.0, 300.0, {"files": 2}, 20.0),
        StageResult("ingest", 20.0, 1500.0, {"rows": 7}, 30.0),
        StageResult("link", 30.0, 2500.0, {"people": 10}, 40.0),
    ]
    write_figures(tmp_path / "bench.json", results, 10, "duckdb")
    figures = json.loads((tmp_path / "bench.json").read_text())
    assert figures["pipeline_seconds"] == 50.0
    assert figures["floor_ratio"] == 5.0
    assert figures["movement_floor_to_floor"] == 2.5
    assert figures["movement_ratio"] == 2.0
    assert figures["movement_cpu_ratio"] == 3.5
    _report(results, 10, "duckdb")
    printed = capsys.readouterr().out
    assert "ratio of pipeline to the movement floor: 2.00× (3.50× in CPU seconds)" in printed


def test_the_movement_floor_lands_and_copies_every_row_of_every_extract(tmp_path):
    """Two flavours of one table land in a table each (their columns differ); every row of
    every file is landed and copied, into DuckDB files or Parquet files alike, and the scratch
    files are gone afterwards."""
    from openphm.bench.movement import movement_floor, movement_floor_parquet

    gp = tmp_path / "region" / "extracts" / "gp"
    flavour_a = "patient_ref,event_date\n"
    flavour_b = "PatientID,EventDate,Value\n"
    for practice, text in (
        ("P1", flavour_a + "R1,2026-10-01\nR2,2026-10-02\nR3,2026-10-03\n"),
        ("P2", flavour_a + "R1,2026-10-01\nR2,2026-10-02\n"),
        ("P3", flavour_b + "R1,2026-10-01,1\nR2,2026-10-02,2\nR3,2026-10-03,3\nR4,,4\n"),
    ):
        (gp / practice).mkdir(parents=True)
        (gp / practice / f"{practice}_events_202610.csv").write_text(text)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for floor in (movement_floor, movement_floor_parquet):  # DuckDB files, Parquet files
        counts = floor(tmp_path / "region", scratch)
        assert (counts["files"], counts["tables"], counts["rows"]) == (3, 2, 9)
        assert list(scratch.iterdir()) == []
