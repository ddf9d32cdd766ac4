"""On a synthetic region, every indicator flags exactly the people the generator's truth says
it should (truth/indicators.parquet, written by synth.indicator_truth from the rows the region
was given, independently of openphm.indicators): precision and recall 1.0 per indicator.

The documented differences, taken out of both sides before comparing: objectors (their data
never reaches the linked zone, P7), and people with a GP event or hospital spell that the
landing stage quarantined or that was sent twice (synth.faults): the zone rightly lacks or
doubles that row, which the truth cannot know. Flags are matched to truth people through the
re-identification tokens, opened with each practice's own key, as a practice would."""

from __future__ import annotations

import csv

import pandas as pd
import pytest

from openphm import indicators
from openphm.practice.keys import load_private_key
from openphm.practice.tokens import open_tokens
from openphm.programme.workspace import Workspace
from openphm.synth.codes import TYPE1_DISSENT
from openphm.synth.registers import patient_ref

HOSPITAL = {i.name for i in indicators.PACKS["hospital-use"].indicators}


def _flags(built) -> pd.DataFrame:
    ws = Workspace.open(built.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        flags = con.sql(
            "SELECT f.indicator, p.token, p.practice FROM linked.person_indicators f "
            "JOIN linked.people p USING (pseudonym)"
        ).df()
    finally:
        con.close()
    refs = []
    for practice, part in flags.groupby("practice"):
        key = load_private_key(built.region / "practices" / practice / "practice.key")
        opened = open_tokens(part["token"], key, ods_code=practice)
        refs.append(pd.Series([p.patient_ref for p in opened.patients], index=part.index))
    flags["patient_ref"] = pd.concat(refs).astype("int64")
    return flags


def _person_of_ref(n: int) -> dict[int, int]:
    people = pd.RangeIndex(n).to_numpy()
    return {
        **dict(zip(patient_ref(people, False).tolist(), people.tolist(), strict=True)),
        **dict(zip(patient_ref(people, True).tolist(), people.tolist(), strict=True)),
    }


def _faulted(region) -> tuple[set[int], set[int]]:
    """(people with a quarantined GP event, people with a quarantined or doubled spell)."""
    from .conftest import PEOPLE

    person_of = _person_of_ref(PEOPLE)
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    gp, hospital = set(), set()
    for fault in pd.read_csv(region / "truth" / "faults.csv").itertuples():
        if "/gp/" in fault.file and "_events_" in fault.file:
            with open(region / fault.file, newline="", encoding="utf-8") as handle:
                row = list(csv.reader(handle))[int(fault.row)]
            gp.add(person_of[int(row[0])])
        elif "admitted-care" in fault.file and pd.notna(fault.row):
            mine = records[(records["file"] == fault.file) & (records["row"] == int(fault.row))]
            hospital |= set(mine["person_id"])
    return gp, hospital


@pytest.fixture(scope="module")
def compared(built):
    from .conftest import PEOPLE

    truth = pd.read_parquet(built.region / "truth" / "indicators.parquet")
    flags = _flags(built)
    flags["person_id"] = flags["patient_ref"].map(_person_of_ref(PEOPLE))
    objections = pd.read_parquet(built.region / "truth" / "objections.parquet")
    objectors = set(objections.loc[objections["latest_code"] == TYPE1_DISSENT, "person_id"])
    gp_faults, hospital_faults = _faulted(built.region)
    out = {}
    for name in sorted(set(truth["indicator"]) | set(flags["indicator"])):
        left_out = objectors | (hospital_faults if name in HOSPITAL else gp_faults)
        expected = set(truth.loc[truth["indicator"] == name, "person_id"]) - left_out
        got = set(flags.loc[flags["indicator"] == name, "person_id"]) - left_out
        out[name] = (expected, got)
    return out


def test_every_indicator_the_region_can_express_has_people_to_flag(compared):
    built_names = {i.name for p in indicators.PACKS.values() for i in p.indicators}
    assert set(compared) == built_names
    assert all(expected for expected, _ in compared.values())


@pytest.mark.parametrize(
    "name",
    sorted({i.name for p in indicators.PACKS.values() for i in p.indicators}),
)
def test_flagged_people_equal_the_generators_truth(compared, name):
    expected, got = compared[name]
    true_positives = len(expected & got)
    precision = true_positives / len(got) if got else 1.0
    recall = true_positives / len(expected) if expected else 1.0
    assert (precision, recall) == (1.0, 1.0), (
        f"{name}: precision {precision:.3f}, recall {recall:.3f}; missed "
        f"{sorted(expected - got)[:10]}, not expected {sorted(got - expected)[:10]}"
    )


def test_every_indicator_is_built_on_the_shipped_lists_alone(built):
    # The fixture runs `phm indicators` without --codelists.
    assert "Left out" not in built.output
    ws = Workspace.open(built.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        runs = con.sql("SELECT indicators, left_out FROM linked.indicator_runs").fetchall()
    finally:
        con.close()
    every = {i.name for p in indicators.PACKS.values() for i in p.indicators}
    assert len(every) == 21
    assert runs and all(set(names.split(",")) == every and not out for names, out in runs), runs


def test_the_command_prints_counts_and_audits_each_purpose(built):
    ws = Workspace.open(built.workspace)
    entries = [e for e in ws.audit.entries() if e.reason.startswith("indicators as at")]
    assert {e.purpose for e in entries} == {
        "safety-monitoring",
        "quality-improvement",
        "prevention",
        "service-planning",
    }
    assert all(e.writes for e in entries)
    assert "pincer_gi_a" in built.output and "flagged" in built.output


def test_rates_are_written_per_practice_pcn_place_icb_and_overall(built):
    ws = Workspace.open(built.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        levels = con.sql(
            "SELECT level, count(DISTINCT area), sum(numerator) FROM linked.indicator_rates "
            "WHERE indicator = 'pincer_gi_a' GROUP BY level ORDER BY level"
        ).fetchall()
        flagged = con.sql(
            "SELECT count(*) FROM linked.person_indicators WHERE indicator = 'pincer_gi_a'"
        ).fetchone()[0]
    finally:
        con.close()
    assert levels == [
        ("all", 1, flagged), ("icb", 1, flagged), ("pcn", 1, flagged), ("place", 1, flagged),
        ("practice", 2, flagged),
    ]  # fmt: skip
