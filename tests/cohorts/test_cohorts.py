"""Cohort definitions as data, the lists they make, and the practice re-identifying exactly its
own people from them, end to end on the small region. The members are built on each engine
(the `engine` fixture, through the engine object as `phm cohort` builds them); the lists are
`phm cohort`'s, on the programme's engine."""

from __future__ import annotations

import functools
import re

import pandas as pd
import pytest

from openphm.cohorts import load_definition, write_lists
from openphm.cohorts.build import (
    LIST_COLUMNS,
    build_on_engine,
    save_members,
    without_objectors,
)
from openphm.cohorts.definition import CohortDefinitionError
from openphm.cohorts.words import SEGMENT_WORDS
from openphm.linked.objectors import REGISTER as OBJECTORS
from openphm.risk.features import LABELS

SEGMENT_LABELS = sorted(SEGMENT_WORDS.values(), key=len, reverse=True)
DEFINITION = """
name = "older-high-risk"
description = "test cohort"
purpose = "prevention"
min_age = 50
min_ltc = 1
top_risk_percent = 20
"""


@pytest.fixture(scope="module")
def cohort(region, tmp_path_factory, engine):
    """`phm cohort` run on the region's workspace, and the members as built (zone 3) on
    `engine`."""
    from openphm.risk.store import open_zone

    folder = tmp_path_factory.mktemp("definition")
    path = folder / "older-high-risk.toml"
    path.write_text(DEFINITION)
    ws = region.open()
    built = build_on_engine(ws, engine, load_definition(path))
    from typer.testing import CliRunner

    from openphm.cli import _register, app

    _register()
    result = CliRunner().invoke(
        app, ["cohort", str(region.workspace), str(path), "--role", "analyst"]
    )
    assert result.exit_code == 0, result.output
    with open_zone(ws, read_only=True) as con:
        pseudonyms = set(con.execute("SELECT pseudonym FROM zone3.main.people").df()["pseudonym"])
    return built, pseudonyms, result.output


def lists(region) -> dict[str, pd.DataFrame]:
    folder = region.workspace / "outputs" / "cohorts"
    return {
        p.parent.name: pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in sorted(folder.glob("*/older-high-risk.csv"))
    }


def test_definitions_are_checked_and_errors_name_the_field(tmp_path):
    cases = {
        'registers = ["gout"]': "unknown register",
        'segments = ["worried_well"]': "unknown segment",
        "top_risk_percent = 0": "top_risk_percent",
        "min_agee = 3": "min_agee",
    }
    for line, message in cases.items():
        path = tmp_path / "d.toml"
        path.write_text(f'name = "x"\npurpose = "prevention"\n{line}\n')
        with pytest.raises(CohortDefinitionError, match=message):
            load_definition(path)
    path.write_text('name = "x"\npurpose = "prevention"\n')
    with pytest.raises(CohortDefinitionError, match="no criteria"):
        load_definition(path)
    path.write_text('name = "x"\npurpose = "research"\nmin_age = 3\n')
    with pytest.raises(CohortDefinitionError, match="not one of this programme"):
        load_definition(path, ("prevention",))


def test_every_member_meets_every_criterion_and_the_reasons_say_so(cohort, region):
    built, _, _ = cohort
    members = built.members
    assert len(members) > 20
    assert (members["risk_percentile"] > 80).all()
    with region.open().connect_linked(read_only=True) as con:
        ages = con.execute("SELECT pseudonym, age FROM linked.analytics_population").df()
    assert (members.merge(ages, on="pseudonym")["age"] >= 50).all()
    # In words, with each member's own count of conditions (cohorts.words).
    expected = [
        f"aged 50 or over; {n} long-term condition{'' if n == 1 else 's'}; in the top 20% for "
        "risk of emergency admission in the next 12 months"
        for n in members["ltc_count"]
    ]
    assert list(members["reasons"]) == expected
    # Each member's main drivers (explained at build time, risk.explain): high-risk people
    # have features that raise their score, named as a clinician reads them.
    drivers = pd.concat([members[c] for c in ("driver_1", "driver_2", "driver_3")]).dropna()
    assert members["driver_1"].notna().all() and set(drivers) <= set(LABELS.values())
    listed = pd.concat(lists(region).values())
    assert (listed["main_drivers"].str.len() > 0).all()


def test_someone_who_objects_after_the_build_is_not_kept_or_listed(
    cohort, region, tmp_path, engine
):
    """Between the build (a read-only connection, or Spark's copy of the zone) and writing the
    members, `phm link` may apply a new objection: the members written must not include it."""
    path = tmp_path / "older-high-risk.toml"
    path.write_text(DEFINITION)
    ws = region.open()
    built = build_on_engine(ws, engine, load_definition(path))
    objector = built.members["pseudonym"].iloc[0]
    con = ws.connect_linked()
    try:
        con.execute("BEGIN")
        con.execute(f"INSERT INTO {OBJECTORS} (pseudonym) VALUES (?)", [objector])
        assert without_objectors(con, built) == 1
        assert objector not in set(built.members["pseudonym"])
        assert len(built.members) == len(cohort[0].members) - 1
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_match_any_gives_each_person_the_reasons_they_met(region, tmp_path, engine):
    path = tmp_path / "any.toml"
    path.write_text(
        'name = "any"\npurpose = "prevention"\nmatch = "any"\nmin_age = 90\ntop_risk_percent = 1\n'
    )
    built = build_on_engine(region.open(), engine, load_definition(path))
    reasons = set(built.members["reasons"])
    top = "in the top 1% for risk of emergency admission in the next 12 months"
    assert "aged 90 or over" in reasons or top in reasons
    assert all(r for r in reasons)


def test_a_cohort_list_holds_no_pseudonym_and_no_identifier(cohort, region):
    _, pseudonyms, _ = cohort
    truth = pd.read_parquet(region.region / "truth" / "people.parquet")
    identifiers = set()
    for column in ("nhs_number", "given_name", "family_name", "postcode", "date_of_birth"):
        identifiers |= {str(v) for v in truth[column].dropna()}
    identifiers |= {str(v) for v in pd.to_datetime(truth["date_of_birth"]).dt.strftime("%Y-%m-%d")}
    hex64 = re.compile(r"u?[0-9a-f]{64}")
    found = lists(region)
    assert found
    for ods, frame in found.items():
        assert tuple(frame.columns) == LIST_COLUMNS
        for cell in frame.to_numpy().ravel():
            assert not hex64.search(cell), (ods, "a pseudonym-shaped value in a list")
            # A segment's fixed name in words ("Short period of decline before dying") may
            # share a word with a synthetic surname ("Short"): its words are not a person's,
            # so they are taken out before the cell is split into words.
            words = functools.reduce(
                lambda text, label: text.replace(label, " "), SEGMENT_LABELS, cell
            )
            pieces = {cell, *re.split(r";\s*", cell), *words.split()}
            assert not pieces & identifiers, (ods, "an identifier in a list")
        text = frame.to_csv()
        assert not any(p in text for p in pseudonyms)


def test_the_audit_log_records_the_size_per_practice_and_no_value(cohort, region):
    built, _, _ = cohort
    entries = [e for e in region.open().audit.entries() if e.action == "cohort.build"]
    counts = entries[-1].counts
    assert counts["members"] == len(built.members)
    assert {k for k in counts if k.startswith("listed_")} == {
        f"listed_{p}" for p in built.per_practice()
    }
    assert all(isinstance(v, int) for v in counts.values())


def test_each_practice_reidentifies_exactly_its_own_people(cohort, region, cli):
    from openphm.keystore import KeyName
    from openphm.pseudonymise.pseudonyms import linkage_pseudonyms

    built, _, _ = cohort
    truth = pd.read_parquet(region.region / "truth" / "people.parquet")
    key = region.open().keystore.get(KeyName.LINKAGE)
    truth["pseudonym"] = linkage_pseudonyms(
        truth["nhs_number"].astype(str).tolist(), key
    ).to_pylist()
    nhs_of = dict(zip(truth["pseudonym"], truth["nhs_number"].astype(str), strict=True))
    listed = built.members[built.members["token"].notna()]
    assert listed["practice"].nunique() == 2
    for practice in region.practices():
        ods = practice.name
        out = practice.parent.parent.parent / f"worklist-{ods}.csv"
        result = cli(
            [
                "practice",
                "reidentify",
                region.workspace / "outputs" / "cohorts" / ods / "older-high-risk.csv",
                "--key",
                practice / "practice.key",
                "--patients",
                practice / "patients.csv",
                "--out",
                out,
                "--ods",
                ods,
            ]
        )
        assert result.exit_code == 0, result.output
        worklist = pd.read_csv(out, dtype=str, keep_default_na=False)
        own = listed.loc[listed["practice"] == ods, "pseudonym"]
        # A person registered too recently to have an NHS number has a "u" pseudonym, so the
        # truth cannot name them here: they are checked by count.
        expected = {nhs_of[p] for p in own if not p.startswith("u")}
        assert len(worklist) == len(own)
        # A person whose registration here came without an NHS number, traced to them (issue
        # 22), is on the practice's own list without it: the worklist shows them by their
        # details, which the practice holds, and a blank number, which is all it knows.
        missing = expected - set(worklist["nhs_number"])
        blank = worklist[worklist["nhs_number"] == ""]
        patients = pd.read_csv(practice / "patients.csv", dtype=str, keep_default_na=False)
        unnumbered = set(patients.loc[patients["nhs_number"] == "", "patient_ref"])
        assert set(blank["patient_ref"]) <= unnumbered
        # Each such person is one of those rows, by date of birth or family name (the
        # practice's record of a new registration may carry a typo in one of them).
        details = truth.assign(nhs_number=truth["nhs_number"].astype(str)).set_index("nhs_number")
        for n in missing:
            born = str(pd.Timestamp(details.loc[n, "date_of_birth"]).date())
            family = str(details.loc[n, "family_name"]).casefold()
            same = (blank["date_of_birth"] == born) | (
                blank["family_name"].str.casefold() == family
            )
            assert same.any(), n
        assert len(blank) <= len(missing) + sum(p.startswith("u") for p in own)
        assert len(set(worklist["nhs_number"]) - expected - {""}) <= sum(
            p.startswith("u") for p in own
        )
        others = {
            nhs_of[p]
            for p in listed.loc[listed["practice"] != ods, "pseudonym"]
            if not p.startswith("u")
        }
        assert not set(worklist["nhs_number"]) & others


def test_a_practice_given_another_practices_list_opens_nothing(region, cli, tmp_path):
    first, second = region.practices()
    result = cli(
        [
            "practice",
            "reidentify",
            region.workspace / "outputs" / "cohorts" / first.name / "older-high-risk.csv",
            "--key",
            second / "practice.key",
            "--patients",
            second / "patients.csv",
            "--out",
            tmp_path / "w.csv",
        ]
    )
    assert result.exit_code == 1
    assert "sealed for another practice" in result.output
    assert len(pd.read_csv(tmp_path / "w.csv")) == 0


def test_members_are_kept_in_the_linked_zone_for_evaluation(cohort, region):
    built, _, _ = cohort
    con = region.open().connect_linked()
    try:
        save_members(con, built)  # again: replaces, never duplicates
        kept = con.execute(
            "SELECT count(*) FROM linked.cohort_members WHERE cohort = 'older-high-risk'"
        ).fetchone()[0]
    finally:
        con.close()
    assert kept == len(built.members)


def test_lists_are_replaced_whole(cohort, region, tmp_path):
    built, _, _ = cohort
    paths = write_lists(tmp_path, built)
    assert {p.name for p in paths.values()} == {"older-high-risk.csv"}
    assert not list(tmp_path.rglob("*.tmp"))


def test_evaluate_states_its_method_and_publishes_controlled_aggregates(region, cli, tmp_path):
    # One practice's patients as the "intervention" cohort: the other practice's people give
    # like-for-like comparisons in every stratum.
    path = tmp_path / "practice.toml"
    ods = region.practices()[0].name
    path.write_text(f'name = "one-practice"\npurpose = "prevention"\npractices = ["{ods}"]\n')
    built = cli(["cohort", region.workspace, path, "--role", "analyst"])
    assert built.exit_code == 0, built.output
    args = ["--cohort", "one-practice", "--from", "2026-05-01", "--months", "6"]
    result = cli(["evaluate", region.workspace, *args, "--role", "analyst"])
    assert result.exit_code == 0, result.output
    folder = region.workspace / "outputs" / "evaluations"
    text = (folder / "one-practice-from-2026-05-01.md").read_text()
    assert "difference-in-differences" in text and "Parallel trends" in text
    table = pd.read_csv(folder / "one-practice-from-2026-05-01.csv")
    assert set(table["group"]) == {"cohort", "comparison"}
    for column in ("people", "events"):
        assert all(pd.isna(v) or v % 5 == 0 for v in table[column])
    assert "pseudonym" not in table.columns
    # A rate beside a suppressed count is withheld; the cohort's rates come from the
    # published counts, so they cannot give a true count back.
    assert table.loc[table["events"].isna(), "rate_per_1000_years"].isna().all()
    assert (
        table["rate_per_1000_years"].dropna().round(1) == table["rate_per_1000_years"].dropna()
    ).all()


def test_a_cohort_with_no_like_for_like_comparison_is_refused_clearly(cohort, region, cli):
    result = cli(
        [
            "evaluate",
            region.workspace,
            "--cohort",
            "older-high-risk",
            "--from",
            "2026-05-01",
            "--role",
            "analyst",
        ]
    )
    assert result.exit_code in (0, 2)
    if result.exit_code == 2:
        assert "comparison" in result.output
