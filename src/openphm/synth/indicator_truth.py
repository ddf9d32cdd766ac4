"""Who each indicator should flag at the region's end date, and why: the truth a test compares
`phm indicators` with. Written independently of openphm.indicators (plain pandas over the rows
the generator wrote for a chunk, no Ibis, no shared rule code), from the rules as
docs/indicators.md states them, so that the two agreeing means something. Writes test data only.

Reads the chunk's GP events and medications (every row, the signals' included), its emergency
care attendances and hospital spells; the people registered and alive at the end date are the
population. Not known here, and left to the test: who objected (their data never reaches the
linked zone) and which rows the landing stage quarantined (synth.faults).

The ambulatory care sensitive conditions indicator has no truth: OpenPHM ships no ACSC list.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from openphm import reference
from openphm.synth import codes
from openphm.synth.activity import Region
from openphm.synth.timeline import NEVER

# Every list the rules read: shipped lists by name, and the region's own (codes.REGION_LISTS).
LISTS = (
    "pincer-nsaid", "pincer-ppi", "pincer-anticoag", "pincer-antiplat", "pincer-aspirin",
    "pincer-non_asp_antiplate", "pincer-nsbb", "pincer-acei", "pincer-diur", "pincer-met",
    "pincer-lith", "pincer-amio", "pincer-pep", "pincer-gi_bleed", "pincer-ast",
    "pincer-ast_res", "pincer-hf", "pincer-renal", "pincer-electro", "pincer-fbc", "pincer-lft",
    "pincer-lith_lev", "pincer-tft", "qof-hyp", "qof-hypres", "qof-dm", "qof-dmres", "qof-afib",
    "qof-ckd", "qof-ckd1and2", "qof-chd", "qof-strk", "qof-pad", "qof-hf", "qof-hfres",
    "qof-palcare",
)  # fmt: skip
# QOF register: (diagnosis list, resolved list or None, minimum age)
REGISTERS = {
    "hypertension": ("qof-hyp", "qof-hypres", 0), "diabetes": ("qof-dm", "qof-dmres", 17),
    "af": ("qof-afib", None, 0), "ckd": ("qof-ckd", "qof-ckd1and2", 18),
    "chd": ("qof-chd", None, 0), "stroke": ("qof-strk", None, 0), "pad": ("qof-pad", None, 0),
    "hf": ("qof-hf", "qof-hfres", 0), "palliative": ("qof-palcare", None, 0),
}  # fmt: skip


@functools.cache
def _membership() -> pd.DataFrame:
    rows = []
    for name in LISTS:
        frame = reference.codelist(name)
        column = "code" if "code" in frame else "id"
        rows.append(pd.DataFrame({"code": frame[column].astype(str), "list": name}))
    for name, (code, _) in codes.REGION_LISTS.items():
        rows.append(pd.DataFrame({"code": [code], "list": [name]}))
    return pd.concat(rows, ignore_index=True)


# Lists of medicines (read from prescriptions); every other list is read from GP events.
MEDICINE_LISTS = {
    "pincer-nsaid", "pincer-ppi", "pincer-anticoag", "pincer-antiplat", "pincer-aspirin",
    "pincer-non_asp_antiplate", "pincer-nsbb", "pincer-acei", "pincer-diur", "pincer-met",
    "pincer-lith", "pincer-amio", "statins-dmd",
}  # fmt: skip


class Rows:
    """One chunk's coded rows, each tagged with every list its code is in."""

    def __init__(self, events: pd.DataFrame, meds: pd.DataFrame, end: int):
        members = _membership()
        ev = events[["person", "day", "snomed_code", "value"]].rename(
            columns={"snomed_code": "code"}
        )
        md = meds[["person", "day", "dmd_code"]].rename(columns={"dmd_code": "code"})
        self.events = ev[ev["day"] <= end].merge(members, on="code")
        self.meds = md[md["day"] <= end].merge(members, on="code")
        self.end = end

    def table(self, name: str) -> pd.DataFrame:
        return self.meds if name in MEDICINE_LISTS else self.events

    def dates(self, names, start, stop) -> pd.DataFrame:
        """Rows of `names` dated in [start, stop] (start None: from the beginning)."""
        parts = []
        for name in names:
            t = self.table(name)
            t = t[(t["list"] == name) & (t["day"] <= stop)]
            parts.append(t if start is None else t[t["day"] >= start])
        return pd.concat(parts)

    def first(self, names, start, stop) -> pd.Series:
        return self.dates(names, start, stop).groupby("person")["day"].min()

    def last(self, names, start, stop) -> pd.Series:
        return self.dates(names, start, stop).groupby("person")["day"].max()


def window(end: int, months: int | None, ends_before: int = 0) -> tuple[int | None, int]:
    """Day numbers of the `months` months ending `ends_before` months before `end`, both ends
    included (months None: everything up to that end)."""
    epoch = pd.Timestamp("1970-01-01")
    stop = epoch + pd.Timedelta(days=int(end)) - pd.DateOffset(months=ends_before)
    if months is None:
        return None, (stop - epoch).days
    start = stop - pd.DateOffset(months=months) + pd.Timedelta(days=1)
    return (start - epoch).days, (stop - epoch).days


def truth(
    region: Region, chunk: np.ndarray, events: pd.DataFrame, meds: pd.DataFrame,
    attendances: pd.DataFrame, spells: pd.DataFrame,
) -> pd.DataFrame:  # fmt: skip
    """(person_id, indicator, reason) for every flag at the end date among `chunk`."""
    end = region.end
    rows = Rows(events[events["person"].isin(chunk)], meds[meds["person"].isin(chunk)], end)
    people = chunk[region.exit[chunk] > end]  # registered and alive at the end date
    dob = region.people["date_of_birth"].to_numpy()
    age = pd.Series(_age(dob[people], end), index=people)
    female = pd.Series(~region.people["male"].to_numpy()[people], index=people)
    flags: dict[str, tuple[pd.Index, str]] = {}
    flags |= _pincer(rows, age, end)
    flags |= _care(rows, age, female, end)
    flags |= _hospital(people, attendances, spells, end)
    out = [
        pd.DataFrame({"person_id": who, "indicator": name, "reason": why})
        for name, (who, why) in flags.items()
    ]
    return pd.concat(out, ignore_index=True)


def _age(dob: np.ndarray, end: int) -> np.ndarray:
    born = pd.to_datetime(dob, unit="D")
    on = pd.Timestamp("1970-01-01") + pd.Timedelta(days=int(end))
    before_birthday = (born.month > on.month) | ((born.month == on.month) & (born.day > on.day))
    return (on.year - born.year - before_birthday.astype(int)).to_numpy()


def _within(series: pd.Series, people) -> pd.Index:
    return pd.Index(series.index).intersection(people)


def _pincer(rows: Rows, age: pd.Series, end: int) -> dict:
    people = age.index
    three = window(end, 3)

    def given(name, w=three):
        return _within(rows.first([name], *w), people)

    nsaid, ppi, anticoag = given("pincer-nsaid"), given("pincer-ppi"), given("pincer-anticoag")
    old = people[age >= 65]
    ulcer = _within(rows.first(["pincer-pep", "pincer-gi_bleed"], *window(end, None, 3)), people)
    asthma = _within(rows.first(["pincer-ast"], *window(end, None, 3)), people)
    latest_asthma = rows.last(["pincer-ast"], None, end)
    resolved = rows.last(["pincer-ast_res"], None, end).reindex(latest_asthma.index)
    active = latest_asthma.index[resolved.isna().to_numpy() | (latest_asthma > resolved).to_numpy()]
    heart_failure = _within(rows.first(["pincer-hf"], *window(end, None, 3)), people)

    def continuing(name, earlier, recent):
        return given(name, earlier).intersection(given(name, recent))

    def missing(name, months):
        return people.difference(given(name, window(end, months)))

    long_term = continuing("pincer-acei", window(end, None, 15), window(end, 6)).union(
        continuing("pincer-diur", window(end, None, 15), window(end, 6))
    )
    return {
        "pincer_gi_a": (old.intersection(nsaid).difference(ppi), "aged 65+, NSAID, no PPI"),
        "pincer_gi_b": (ulcer.intersection(nsaid).difference(ppi), "ulcer history, NSAID, no PPI"),
        "pincer_gi_d": (anticoag.intersection(nsaid), "anticoagulant and NSAID"),
        "pincer_gi_e": (anticoag.intersection(given("pincer-antiplat")).difference(ppi),
                        "anticoagulant and antiplatelet, no PPI"),
        "pincer_gi_f": (given("pincer-aspirin").intersection(given("pincer-non_asp_antiplate"))
                        .difference(ppi), "aspirin and another antiplatelet, no PPI"),
        "pincer_as_g": (asthma.intersection(active).intersection(given("pincer-nsbb")),
                        "asthma, non-selective beta-blocker"),
        "pincer_hf_i": (heart_failure.intersection(nsaid), "heart failure, NSAID"),
        "pincer_mo_ac": (people[age >= 75].intersection(long_term).intersection(
            missing("pincer-renal", 15).union(missing("pincer-electro", 15))),
            "75+, ACE inhibitor or loop diuretic, unmonitored"),
        "pincer_mo_me": (continuing("pincer-met", window(end, 3, 3), three).intersection(
            missing("pincer-fbc", 3).union(missing("pincer-lft", 3))),
            "methotrexate unmonitored"),
        "pincer_mo_li": (continuing("pincer-lith", window(end, 3, 3), three).intersection(
            missing("pincer-lith_lev", 3)), "lithium without a level"),
        "pincer_mo_am": (continuing("pincer-amio", window(end, 6, 6), window(end, 6))
                         .intersection(missing("pincer-tft", 6)), "amiodarone without TFT"),
    }  # fmt: skip


def _registers(rows: Rows, age: pd.Series, end: int) -> dict[str, pd.Index]:
    out = {}
    for name, (diagnosis, resolved, min_age) in REGISTERS.items():
        latest = rows.last([diagnosis], None, end)
        on = latest.index
        if resolved:
            res = rows.last([resolved], None, end).reindex(on)
            on = on[res.isna().to_numpy() | (latest > res).to_numpy()]
        out[name] = _within(pd.Series(0, index=on), age.index[age >= min_age])
    return out


def _readings(rows: Rows, start: int, stop: int) -> pd.DataFrame:
    """Blood pressure readings: per person and day, the lowest systolic and diastolic."""
    t = rows.dates(["bp-systolic", "bp-diastolic"], start, stop).dropna(subset=["value"])
    return t.pivot_table(index=["person", "day"], columns="list", values="value", aggfunc="min")


def _care(rows: Rows, age: pd.Series, female: pd.Series, end: int) -> dict:
    people = age.index
    regs = _registers(rows, age, end)
    year = window(end, 12)
    readings = _readings(rows, *year)
    latest = readings.groupby(level="person").tail(1).reset_index(level="day")
    latest = latest.reindex(columns=["day", "bp-systolic", "bp-diastolic"])
    target = np.where(age.reindex(latest.index) >= 80, 150, 140)
    above = latest.index[(latest["bp-systolic"] > target) | (latest["bp-diastolic"] > 90)]
    measured = _within(rows.first(["bp-systolic"], *year), people)
    hba1c = rows.dates(["hba1c"], *year).dropna(subset=["value"])
    last_day = hba1c.groupby("person")["day"].transform("max")
    last_hba1c = hba1c[hba1c["day"] == last_day].groupby("person")["value"].min()
    has_hba1c = _within(rows.first(["hba1c"], *year), people)
    score = (
        (age >= 75).astype(int) * 2 + ((age >= 65) & (age < 75)).astype(int)
        + female.astype(int)
        + sum(people.isin(regs[r]).astype(int) for r in ("hf", "hypertension", "diabetes"))
        + people.isin(regs["stroke"]).astype(int) * 2
        + people.isin(regs["chd"].union(regs["pad"])).astype(int)
    )  # fmt: skip
    anticoagulated = _within(rows.first(["pincer-anticoag"], *window(end, 6)), people)
    statin = _within(rows.first(["statins-dmd"], *window(end, 6)), people)
    acr = _within(rows.first(["urine-acr"], *year), people)
    cvd = regs["chd"].union(regs["stroke"]).union(regs["pad"])
    raised = readings[(readings["bp-systolic"] >= 140) | (readings["bp-diastolic"] >= 90)]
    twice = raised.groupby(level="person").size()
    ndh_coded = _within(rows.first(["ndh", "ndpp-referral"], None, end), people)
    adults = people[age >= 18]
    return {
        "gap_hypertension_bp": (regs["hypertension"].difference(measured).union(
            regs["hypertension"].intersection(above)), "hypertension, BP missing or high"),
        "gap_diabetes_hba1c": (regs["diabetes"].difference(has_hba1c).union(regs["diabetes"]
                               .intersection(last_hba1c.index[last_hba1c > 58])),
                               "diabetes, HbA1c missing or above 58"),
        "gap_af_anticoagulation": (regs["af"].intersection(people[score.to_numpy() >= 2])
                                   .difference(anticoagulated), "AF, score 2+, no anticoagulant"),
        "gap_ckd_acr": (regs["ckd"].difference(acr), "CKD without ACR"),
        "gap_cvd_statin": (cvd.difference(regs["diabetes"]).difference(regs["palliative"])
                           .difference(statin), "CVD without statin"),
        "find_raised_bp": (adults.difference(regs["hypertension"]).intersection(
            twice.index[twice >= 2]), "raised BP twice, undiagnosed"),
        "find_ndh_hba1c": (adults.difference(regs["diabetes"]).difference(ndh_coded)
                           .intersection(last_hba1c.index[last_hba1c.between(42, 47)]),
                           "HbA1c 42-47, undiagnosed"),
    }  # fmt: skip


def _hospital(people, attendances: pd.DataFrame, spells: pd.DataFrame, end: int) -> dict:
    start, stop = window(end, 12)
    ed = attendances[attendances["day"].between(start, stop)]
    counts = ed.groupby("person").size()
    s = spells.assign(
        emergency=spells["admission_method"].astype(str).str.startswith("2"),
        discharge=spells["discharge_date"].astype(np.int64),
    ).sort_values(["person", "admission_date", "discharge", "emergency"],
                  ascending=[True, True, True, False])  # fmt: skip
    previous = s.groupby("person")["discharge"].shift()
    gap = s["admission_date"] - previous
    readmitted = s["emergency"] & previous.notna() & (previous < NEVER) & gap.between(0, 30)
    in_window = s["admission_date"].between(start, stop)
    admitted = pd.Index(s.loc[in_window & s["emergency"], "person"].unique())
    return {
        "use_frequent_ed": (_within(counts[counts >= 5], people), "5+ ED attendances"),
        "use_readmission_30d": (admitted.intersection(pd.Index(
            s.loc[readmitted & in_window, "person"].unique())).intersection(people),
            "readmitted within 30 days"),
    }  # fmt: skip
