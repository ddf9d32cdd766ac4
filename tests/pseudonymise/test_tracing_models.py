"""The model each source was traced with is kept in zone 2, per source and period, encrypted
under a key of the processor's own: it is the next period's starting point, and `phm link`
says what changed."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

from openphm.identity import training
from openphm.identity.tracing import Prepared, Source, prepare, trace_sources
from openphm.keystore.custody import PROCESSOR, custodian_of
from openphm.landing.ingest import ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise import models
from openphm.pseudonymise.commands import model_summary
from openphm.pseudonymise.link import link

from .region import ENGINEER, copy_workspace

_spec = importlib.util.spec_from_file_location(
    "tracing_people", Path(__file__).parents[1] / "identity" / "people.py"
)
people = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(people)


def test_each_source_s_model_is_kept_per_period_encrypted_and_the_processor_s(linked_region):
    ws = Workspace.open(linked_region.workspace)
    kept = models.ModelStore(ws).kept()
    sources = {(k.source, k.provider) for k in kept}
    assert {("admitted-care", "RZ1"), ("deaths", "X26"), ("gp", "all practices")} <= sources
    # Kept under the latest period of the source's records traced (baseline and monthly
    # files came together; a monthly file of a small source had no one to trace).
    periods = {(k.source, k.provider): k.period for k in kept}
    assert periods[("admitted-care", "RZ1")] == "202610"
    assert set(periods.values()) == {"202609", "202610"}
    assert len(kept) == len(periods)
    # The test region is small: every source is below the size EM is trusted at.
    assert {k.model.parameters for k in kept} == {training.NOT_TRAINED}
    assert all(k.model.reason.startswith("too small to train on") for k in kept)
    assert all(k.quality["records"] >= k.quality["traced"] for k in kept)
    stored = (ws.zone("landing") / models.FOLDER / models.FILE).read_bytes()
    assert b"m_probability" not in stored and b"Exact match" not in stored
    assert custodian_of(models.KEY_NAME) == PROCESSOR and ws.keystore.has(models.KEY_NAME)


@pytest.mark.programme  # links the region a second time, about 10 s: tests/pseudonymise/region.py
def test_the_next_period_starts_from_the_source_s_last_model(linked_region, tmp_path):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    # The source's last model: its monthly file's, or, when that file had no one to trace,
    # its baseline's.
    last = models.ModelStore(ws).latest("emergency-care", "RZ1", "202610")
    assert last is not None and last.name.startswith("emergency-care RZ1 2026")
    # The resubmission with one record sent without its NHS number, so that the source has a
    # record to trace this period (the file's ~30 records may otherwise all carry theirs).
    resubmission = tmp_path / "held" / "emergency-care" / "RZ1" / linked_region.resubmission.name
    resubmission.parent.mkdir(parents=True)
    with open(linked_region.resubmission, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["nhs_number"] = ""
    with open(resubmission, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    ingest(ws, [resubmission], ENGINEER)
    result = link(ws, ENGINEER)
    [ecds] = [
        s for s in result.tracing.sources if (s.source, s.provider) == ("emergency-care", "RZ1")
    ]
    assert ecds.model.started_from == last.name
    latest = models.ModelStore(ws).latest("emergency-care", "RZ1", "202610")
    assert latest.started_from == last.name


def test_a_trained_model_is_kept_as_it_was_trained_and_its_changes_are_said(workspace):
    region = people.region(5000, 1200, seed=9)
    left = prepare(region.records, "record_id")
    [traced] = trace_sources(Prepared(left), region.spine, [Source(("x",), left["unique_id"])])
    assert traced.model.parameters == training.TRAINED
    store = models.ModelStore(workspace)
    store.save_all([("admitted-care", "RZ1", "202609", traced.model, {"records": 1200})])
    later = store.latest("admitted-care", "RZ1", "202610")
    assert later.settings == traced.model.settings
    assert later.name == "admitted-care RZ1 202609"
    assert store.latest("admitted-care", "RZ1", "202608") is None
    assert store.latest("admitted-care", "RZ2", "202610") is None
    said = model_summary(traced.model, traced.changes())
    assert said.startswith("trained by EM on 1,200 of 1,200 records")
    assert "from priors" in said and "moved most:" in said


def test_phm_trace_report_shows_each_source_s_kept_model_and_is_audited(
    linked_region, tmp_path, cli
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    out = tmp_path / "report"
    result = cli(["trace", "report", ws.root, "--out", out, "--role", "processor-engineer"])
    assert result.exit_code == 0, result.output
    index = (out / "index.html").read_text()
    sources = len(models.ModelStore(ws).kept())
    assert "admitted-care RZ1 202610" in index and index.count("<svg") == sources
    assert len(list(out.glob("*-match-weights.html"))) == sources
    [entry] = [e for e in ws.audit.entries() if e.action == "identity.report"]
    assert entry.counts == {"sources": sources}
    inside = cli(["trace", "report", ws.root, "--out", ws.root / "outputs" / "r",
                  "--role", "processor-engineer"])  # fmt: skip
    assert inside.exit_code == 2 and not (ws.root / "outputs" / "r").exists()


def test_a_source_leaving_more_than_2_2_percent_unmatched_raises_an_alert(linked_region):
    import pandas as pd

    from openphm.pseudonymise.commands import unmatched_alerts
    from openphm.pseudonymise.report import link_report

    report = pd.DataFrame(
        {
            "source": ["admitted-care", "deaths"],
            "provider": ["RZ1", "X26"],
            "records": [1000, 1000],
            "untraced": [23, 22],
        }
    )
    assert unmatched_alerts(report) == [
        "admitted-care RZ1: 2.3% of 1,000 records left without an NHS number, more than 2.2% "
        "(twice the 1.1% NHS England reports for HES)"
    ]
    # The synthetic region's sources trace nearly everything.
    assert unmatched_alerts(link_report(Workspace.open(linked_region.workspace))) == []


def test_the_quality_report_raises_no_alert_for_new_gp_registrations_left_unmatched(tmp_path):
    """Most of a practice's new registrations without an NHS number are people new to the area,
    on no list yet: their staying unmatched is expected, and an alert on them would fire on
    every run (82% at a million people) and teach the reader to ignore alerts."""
    from openphm.identity import report
    from openphm.identity.tracing import _priors

    settings = _priors(["given_name", "family_name"], 100).create_settings_dict("duckdb")
    model = training.Model(settings, training.NOT_TRAINED, training.PRIORS, 100, 100, "small")
    quality = {"records": 100, "traced": 18, "parse_rates": [], "histogram": [0] * report.BINS}
    hospital = report.SourceQuality("admitted-care RZ1 202611", model, quality)
    gp = report.SourceQuality("gp all practices 202611", model, quality, new_registrations=True)
    index = report.write(tmp_path, "Tracing", [hospital, gp]).read_text()
    hospital, gp = index.split("<h2>")[1:]
    assert 'class="alert"' in hospital and "82.0% of the records" in hospital
    assert 'class="alert"' not in gp and "new registrations" in gp


def test_the_gp_source_is_reported_as_new_registrations(linked_region, tmp_path):
    ws = Workspace.open(linked_region.workspace)
    index, _ = models.write_report(ws, ENGINEER, tmp_path / "report")
    sections = index.read_text().split("<h2>")[1:]
    [gp] = [s for s in sections if s.startswith("gp all practices")]
    assert "new registrations without an NHS number" in gp
    assert all("new registrations" not in s for s in sections if s is not gp)
