"""Through the whole pipeline (land, trace, link, `phm analyse`), each register and each
person's eFI equal what the synthetic region's truth says (truth/people.parquet), person for
person; tests/synth/test_truth_agrees.py checks the same straight from the extract files.

Left out of both sides, as in test_synthetic_truth: objectors (their data never reaches the
linked zone) and people with a quarantined GP row or a quarantined or doubled spell. People are
matched through the re-identification tokens, opened with each practice's own key."""

from __future__ import annotations

import pandas as pd
import pytest

from openphm.analytics.definitions import REGISTERS
from openphm.practice.keys import load_private_key
from openphm.practice.tokens import open_tokens
from openphm.programme.workspace import Workspace
from openphm.synth.codes import TYPE1_DISSENT

from .conftest import END
from .test_synthetic_truth import _faulted, _person_of_ref

TRUTH_COLUMN = {r.name: f"onset_{r.name}" for r in REGISTERS} | {
    "serious_mental_illness": "onset_smi",
    "peripheral_arterial_disease": "onset_pad",
}


@pytest.fixture(scope="module")
def analysed(built, cli):
    from .conftest import PEOPLE

    result = cli(["analyse", built.workspace, "--reference-date", END.isoformat(),
                  "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    ws = Workspace.open(built.workspace)
    con = ws.connect_linked(read_only=True)
    try:
        people = con.sql(
            "SELECT p.pseudonym, p.token, p.practice, a.age FROM linked.people p "
            "JOIN linked.analytics_population a USING (pseudonym) "
            "WHERE a.in_reference_population"
        ).df()
        registers = con.sql("SELECT pseudonym, register FROM linked.person_registers").df()
        scores = con.sql("SELECT pseudonym, efi_deficits, efi_category FROM linked.person_scores")
        scores = scores.df()
    finally:
        con.close()
    refs = []
    for practice, part in people.groupby("practice"):
        key = load_private_key(built.region / "practices" / practice / "practice.key")
        opened = open_tokens(part["token"], key, ods_code=practice)
        refs.append(pd.Series([p.patient_ref for p in opened.patients], index=part.index))
    people["person_id"] = pd.concat(refs).astype("int64").map(_person_of_ref(PEOPLE))
    person_of = dict(zip(people["pseudonym"], people["person_id"], strict=True))

    truth = pd.read_parquet(built.region / "truth" / "people.parquet").set_index("person_id")
    objections = pd.read_parquet(built.region / "truth" / "objections.parquet")
    objectors = set(objections.loc[objections["latest_code"] == TYPE1_DISSENT, "person_id"])
    gp_faults, hospital_faults = _faulted(built.region)
    left_out = objectors | gp_faults | hospital_faults
    exit_day = pd.to_datetime(truth[["death_date", "leave_date"]].min(axis=1))
    registered = (exit_day.isna() | (exit_day > pd.Timestamp(END))) & (
        pd.to_datetime(truth["registration_start"]) <= pd.Timestamp(END)
    )
    truth = truth[registered & ~truth.index.isin(left_out)]
    people = people[people["person_id"].isin(truth.index)].set_index("person_id")
    registers["person_id"] = registers["pseudonym"].map(person_of)
    scores["person_id"] = scores["pseudonym"].map(person_of)
    return truth, people, registers, scores.dropna(subset=["person_id"])


def test_the_zone_holds_everyone_the_truth_has_registered(analysed):
    truth, people, _, _ = analysed
    assert set(people.index) == set(truth.index)


@pytest.mark.parametrize("register", REGISTERS, ids=lambda r: r.name)
def test_each_register_is_the_truths_person_for_person(analysed, register):
    truth, people, registers, _ = analysed
    # Age as the analytics take it (from the month of birth: docs/linked-model.md).
    old_enough = people.index[people["age"] >= register.min_age]
    onset = pd.to_datetime(truth.loc[old_enough, TRUTH_COLUMN[register.name]])
    expected = set(old_enough[(onset <= pd.Timestamp(END)).to_numpy()])
    got = set(registers.loc[registers["register"] == register.name, "person_id"]) & set(
        people.index
    )
    assert expected, f"nobody is on the {register.name} register"
    assert got == expected, (
        f"{register.name}: truth {len(expected)}, zone {len(got)}; only in the truth "
        f"{sorted(expected - got)[:10]}, only in the zone {sorted(got - expected)[:10]}"
    )


def test_each_persons_efi_is_the_truths(analysed):
    truth, people, _, scores = analysed
    got = scores.set_index("person_id")["efi_deficits"].reindex(people.index).fillna(0)
    expected = truth.loc[people.index, "efi_deficits"]
    differ = people.index[(got.astype(int) != expected.astype(int)).to_numpy()]
    assert len(differ) == 0, f"{len(differ)} differ: {list(differ[:10])}"
    old = people.index[people["age"] >= 65]
    category = scores.set_index("person_id")["efi_category"].reindex(old).fillna("fit")
    assert (category == truth.loc[old, "frailty"]).all()
    assert category.isin(["moderate", "severe"]).mean() > 0.05
