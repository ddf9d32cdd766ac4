"""The generator's truth agrees with what its extracts say, person by person (issue 21 item 5).

Each side is computed here from files: the truth from truth/people.parquet, the extracts' view
from the extract CSVs with pandas, not with the analytics' code. What the registers and the
eFI are made of (which code lists, which ages) is the analytics' definitions, read as data:

- a person is on a register at the end date when registered with a practice then, old enough,
  and either a GP event from the register's lists is on or before the end date with no
  resolution code on or after the latest one, or a hospital spell's primary or secondary
  diagnosis matches one of its ICD-10 lists (equal, or on the first 3 or 4 characters);
- the eFI counts the deficits whose lists hold a GP event on or before the end date, and
  polypharmacy (five or more different medicines issued in the 12 months up to it).

GP rows are matched to people through the NHS numbers the practices' patient tables give, or,
for a new registration not yet traced, its exact name and date of birth; hospital rows through
truth/records. People with a GP row the fault injector spoiled are left
out of both sides (the pipeline quarantines that row; the truth cannot know it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from openphm import reference
from openphm.analytics.definitions import EFI_DEFICITS, EFI_POLYPHARMACY_DRUGS, REGISTERS

from .conftest import END, read

# The truth's column for each register of the analytics.
TRUTH_COLUMN = {r.name: f"onset_{r.name}" for r in REGISTERS} | {
    "serious_mental_illness": "onset_smi",
    "peripheral_arterial_disease": "onset_pad",
}
B_COLUMNS = {
    "PatientID": "patient_ref",
    "NHSNumber": "nhs_number",
    "Forename": "given_name",
    "Surname": "family_name",
    "DateOfBirth": "date_of_birth",
    "RegistrationDate": "registration_start",
    "DeregistrationDate": "registration_end",
    "DeregistrationReason": "deregistration_reason",
    "EventDate": "event_date",
    "SnomedCode": "snomed_code",
    "IssueDate": "issue_date",
    "DmdCode": "dmd_code",
}
DATES = {"date_of_birth", "registration_start", "registration_end", "event_date", "issue_date"}
WINDOW_START = pd.Timestamp("2024-11-01")
YEAR_AGO = pd.Timestamp("2025-10-31")  # 12 months before the end date


def _codes(names) -> set[str]:
    out: set[str] = set()
    for name in names:
        try:
            frame = reference.codelist(name)
        except KeyError:  # a list OpenPHM does not ship (an asthma "resolved" cluster, ...)
            continue
        out |= set(frame["code" if "code" in frame else "id"].astype(str))
    return out


def _gp(region, table: str) -> pd.DataFrame:
    """Every practice's `table` (both periods), flavour B renamed and dates parsed."""
    frames = []
    for path in sorted((region / "extracts" / "gp").glob(f"*/*_{table}_*.csv")):
        frame = read(path)
        flavour_b = "PatientID" in frame.columns
        frame = frame.rename(columns=B_COLUMNS)
        for column in DATES & set(frame.columns):
            frame[column] = pd.to_datetime(
                frame[column], format="%d/%m/%Y" if flavour_b else "%Y-%m-%d", errors="coerce"
            )
        frame["practice"] = path.parent.name
        frame["file"] = path.relative_to(region).as_posix()
        frame["row"] = np.arange(1, len(frame) + 1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def extracts(region, people):
    """The GP tables with a person_id column, and the people left out (untraced, faulted)."""
    patients = _gp(region, "patients")
    patients["nhs_number"] = patients["nhs_number"].str.replace(" ", "")
    person_of_nhs = dict(zip(people["nhs_number"], people["person_id"], strict=True))
    key = ["practice", "patient_ref"]
    refs = patients.dropna(subset=["nhs_number"]).drop_duplicates(key)
    refs = refs.assign(person_id=refs["nhs_number"].map(person_of_nhs))
    # A registration not yet traced (no NHS number in any snapshot): its exact name and date of
    # birth, where only one person has them.
    demographics = ["given_name", "family_name", "date_of_birth"]
    known = people[["person_id", *demographics]].assign(
        date_of_birth=pd.to_datetime(people["date_of_birth"])
    )
    known = known.drop_duplicates(demographics, keep=False)
    rest = patients.drop_duplicates(key).merge(refs[key], how="left", indicator=True)
    rest = rest[rest["_merge"] == "left_only"].drop(columns="_merge")
    refs = pd.concat([refs, rest.merge(known, on=demographics)], ignore_index=True)
    tables = {}
    for name in ("registrations", "events", "medications"):
        frame = _gp(region, name).merge(refs[[*key, "person_id"]], on=key, how="left")
        tables[name] = frame
    every = patients.drop_duplicates(key)[key].merge(refs[[*key, "person_id"]], how="left")
    untraced = every["person_id"].isna()
    faults = pd.read_csv(region / "truth" / "faults.csv")
    spoiled = set()
    for name in ("events", "medications"):
        frame = tables[name]
        hit = frame.merge(faults[["file", "row"]], on=["file", "row"])
        spoiled |= set(hit["person_id"].dropna().astype(int))
    dob = patients.drop_duplicates(key).merge(refs[[*key, "person_id"]], on=key)
    tables["date_of_birth"] = dob.groupby("person_id")["date_of_birth"].first()
    tables["left_out"] = spoiled
    tables["untraced"] = int(untraced.sum())
    tables["patients"] = len(every)
    return tables


@pytest.fixture(scope="module")
def registered(people, extracts):
    """Truth's people registered at the end date, less those left out, with age in whole years
    at the end date (from the date of birth in the GP record)."""
    left_out = extracts["left_out"]
    alive = people[people["registered_at_end"] & ~people["person_id"].isin(left_out)].copy()
    alive = alive[alive["person_id"].isin(extracts["date_of_birth"].index)]
    dob = extracts["date_of_birth"].reindex(alive["person_id"]).to_numpy()
    dob = pd.DatetimeIndex(dob)
    before_birthday = (END.month < dob.month) | ((END.month == dob.month) & (END.day < dob.day))
    alive["whole_years"] = END.year - dob.year - before_birthday.astype(int)
    return alive.set_index("person_id")


def test_few_people_are_left_out(extracts, people):
    assert extracts["untraced"] < 0.001 * extracts["patients"]
    assert len(extracts["left_out"]) <= 5


def test_the_registrations_say_who_is_registered_at_the_end(extracts, people):
    regs = extracts["registrations"]
    end_period = regs[regs["file"].str.endswith(f"_{END:%Y%m}.csv")]
    open_ = end_period[end_period["registration_end"].isna()]
    got = set(open_["person_id"].dropna().astype(int))
    expected = set(people.loc[people["registered_at_end"], "person_id"])
    # Everyone the registrations show is registered; those they do not show are exactly the
    # open registrations with no NHS number yet.
    assert got <= expected
    assert len(expected - got) == open_["person_id"].isna().sum()


def _hospital(region) -> pd.DataFrame:
    """(person_id, code): every primary and secondary diagnosis of the admitted-care files, in
    the contract's `apc` table or as HES APC episodes (`--layouts real`: every DIAG_4_nn, the
    X that fills a 3-character code dropped)."""
    records = pd.read_parquet(region / "truth" / "records.parquet")
    records["file"] = records["file"].astype(str)
    frames = []
    for path in sorted((region / "extracts" / "admitted-care").glob("*/*.csv")):
        frame = read(path)
        frame["file"] = path.relative_to(region).as_posix()
        frame["row"] = np.arange(1, len(frame) + 1)
        frames.append(frame)
    spells = pd.concat(frames, ignore_index=True).merge(records, on=["file", "row"])
    if "ADMIDATE" in spells:
        assert (pd.to_datetime(spells["ADMIDATE"]) <= pd.Timestamp(END)).all()
        columns = [c for c in spells.columns if c.startswith("DIAG_4_")]
        both = spells.melt(id_vars=["person_id"], value_vars=columns, value_name="code")
        both["code"] = both["code"].str.strip().str.replace(r"^(...)X$", r"\1", regex=True)
        both = both[~both["code"].isin(["-", "&"])]
        return both.dropna(subset=["code"])[["person_id", "code"]].drop_duplicates()
    assert (pd.to_datetime(spells["admission_date"]) <= pd.Timestamp(END)).all()
    secondary = spells.assign(code=spells["secondary_diagnoses"].str.split(";")).explode("code")
    both = pd.concat([spells.assign(code=spells["primary_diagnosis"]), secondary])
    return both.dropna(subset=["code"])[["person_id", "code"]].drop_duplicates()


@pytest.fixture(scope="module")
def registers(region, extracts, registered):
    """register -> (people the truth puts on it, people the extracts put on it)."""
    events = extracts["events"]
    events = events[events["event_date"] <= pd.Timestamp(END)].dropna(subset=["person_id"])
    hospital = _hospital(region)
    stems = pd.concat(
        [
            hospital,
            hospital.assign(code=hospital["code"].str[:3]),
            hospital.assign(code=hospital["code"].str[:4]),
        ]
    ).drop_duplicates()
    out = {}
    for r in REGISTERS:
        latest = (
            events[events["snomed_code"].isin(_codes(r.gp))]
            .groupby("person_id")["event_date"]
            .max()
        )
        resolved = events[events["snomed_code"].isin(_codes(r.resolved))]
        last_resolved = resolved.groupby("person_id")["event_date"].max()
        on = latest[~(last_resolved.reindex(latest.index) >= latest).to_numpy()]
        coded = set(on.index.astype(int))
        coded |= set(stems.loc[stems["code"].isin(_codes(r.hospital)), "person_id"])
        eligible = registered[registered["whole_years"] >= r.min_age]
        got = coded & set(eligible.index)
        onset = pd.to_datetime(eligible[TRUTH_COLUMN[r.name]])
        expected = set(eligible.index[(onset <= pd.Timestamp(END)).to_numpy()])
        out[r.name] = (expected, got)
    return out


@pytest.mark.parametrize("name", [r.name for r in REGISTERS])
def test_each_register_in_the_extracts_is_the_truths_person_for_person(registers, name):
    expected, got = registers[name]
    assert expected, f"nobody is on the {name} register"
    assert got == expected, (
        f"{name}: truth {len(expected)}, extracts {len(got)}; only in the truth "
        f"{sorted(expected - got)[:10]}, only in the extracts {sorted(got - expected)[:10]}"
    )


@pytest.fixture(scope="module")
def efi(extracts, registered) -> pd.DataFrame:
    """Per registered person: the eFI deficits the truth gives and those the extracts show."""
    events = extracts["events"]
    events = events[events["event_date"] <= pd.Timestamp(END)].dropna(subset=["person_id"])
    rows = [(d.name, code) for d in EFI_DEFICITS for code in _codes(d.gp)]
    deficit_of = pd.DataFrame(rows, columns=["deficit", "snomed_code"])
    coded = events[["person_id", "snomed_code"]].merge(deficit_of, on="snomed_code")
    meds = extracts["medications"].dropna(subset=["person_id"])
    meds = meds[(meds["issue_date"] >= YEAR_AGO) & (meds["issue_date"] <= pd.Timestamp(END))]
    drugs = meds.groupby("person_id")["dmd_code"].nunique()
    poly = pd.DataFrame(
        {"person_id": drugs.index[drugs >= EFI_POLYPHARMACY_DRUGS], "deficit": "polypharmacy"}
    )
    present = pd.concat([coded[["person_id", "deficit"]], poly]).drop_duplicates()
    counts = present.groupby("person_id")["deficit"].nunique()
    frame = pd.DataFrame(
        {
            "truth": registered["efi_deficits"].astype(int),
            "extracts": counts.reindex(registered.index).fillna(0).astype(int),
            "age": registered["whole_years"],
            "frailty": registered["frailty"],
        }
    )
    return frame


def test_each_persons_efi_deficits_in_the_extracts_are_the_truths(efi):
    differ = efi[efi["truth"] != efi["extracts"]]
    assert differ.empty, f"{len(differ)} people differ, e.g.\n{differ.head(10)}"


def _category(deficits: pd.Series) -> pd.Series:
    # Clegg 2016: fit < 0.12 <= mild < 0.24 <= moderate < 0.36 <= severe, of 36 deficits.
    efi = deficits / 36
    return pd.cut(efi, [-1, 0.12, 0.24, 0.36, 2], right=False,
                  labels=["fit", "mild", "moderate", "severe"]).astype(str)  # fmt: skip


def test_frailty_at_65_and_over_in_the_extracts_is_the_truths(efi):
    old = efi[efi["age"] >= 65]
    assert (_category(old["extracts"]) == old["frailty"]).all()
    moderate_or_severe = old["frailty"].isin(["moderate", "severe"]).mean()
    assert 0.08 < moderate_or_severe < 0.25  # Clegg 2016: about 15%


def test_deaths_fall_at_the_practice_each_person_was_registered_with(people, extracts):
    dead = people[pd.to_datetime(people["death_date"]) >= WINDOW_START]
    regs = extracts["registrations"]
    end_period = regs[regs["file"].str.endswith(f"_{END:%Y%m}.csv")]
    died = end_period[end_period["deregistration_reason"] == "died"].dropna(subset=["person_id"])
    assert died["person_id"].is_unique
    # Each death is one registration ending 'died' on that date, at the truth's practice.
    truth = dead.set_index("person_id")
    got = died.set_index(died["person_id"].astype(int))
    traced = truth.index.intersection(got.index)
    assert len(traced) >= 0.99 * len(truth)
    assert (got.loc[traced, "practice"] == truth.loc[traced, "practice"]).all()
    assert (
        got.loc[traced, "registration_end"] == pd.to_datetime(truth.loc[traced, "death_date"])
    ).all()
    # Deaths are spread over the practices as their lists are: no practice has more than twice
    # (or under half) its share of the people who were ever registered.
    share_of_deaths = truth["practice"].value_counts(normalize=True)
    share_of_people = people["practice"].value_counts(normalize=True)
    ratio = (share_of_deaths / share_of_people).fillna(0)
    assert ratio.between(0.5, 2.0).all(), ratio.to_dict()
