"""Activity: what each person's care looks like in the extracts, drawn for a chunk of people at
a time. GP consultations, coded events, medicines and objections; hospital spells, emergency
care attendances and outpatient appointments; community contacts, social care services and
deaths. Rates come from `calibration`, scaled by each person's need. Writes test data only.

Every function returns one DataFrame per table with `person` (person_id), `day` (the date that
decides the extract period) and `provider` (ODS code), plus the table's own columns in the
canonical (flavour A / secondary care) names; dates are day numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from openphm import reference
from openphm.analytics.definitions import EFI_POLYPHARMACY_DRUGS
from openphm.synth import calibration as cal
from openphm.synth import codes, coding
from openphm.synth.conditions import (
    DEFICIT_RECORDED_WITHIN_YEARS,
    OTHER_DEFICITS_FROM_AGE,
    condition_deficits,
    deprivation_factor,
    scaled_chance,
)
from openphm.synth.population import YEAR
from openphm.synth.timeline import NEVER

CONDITION_NAMES = [c.name for c in cal.CONDITIONS]
_FRAILTY_NEED = np.array([0.0, 0.3, 0.6, 0.9])


@dataclass
class Region:
    """Everything about the region's people that activity depends on (global arrays)."""

    people: pd.DataFrame
    onset: np.ndarray
    deficits: np.ndarray  # the other eFI deficits: a mask (conditions.extra_deficits)
    frailty: np.ndarray  # eFI category at the end date, without polypharmacy
    start: int  # first day of the history window
    end: int
    practices: pd.DataFrame
    trusts: list[str]
    community: str
    social_care: str
    deaths: str
    objection_rate: float

    def __post_init__(self) -> None:
        p = self.people
        exit_day = np.minimum(p["leave_date"].to_numpy(), p["death_date"].to_numpy()).astype(
            np.int64
        )
        self.exit = exit_day
        self.begin = np.maximum(p["registration_start"].to_numpy().astype(np.int64), self.start)
        self.stop = np.minimum(exit_day, self.end + 1)  # exclusive
        self.years = np.maximum(self.stop - self.begin, 0) / YEAR
        self.age = (self.end - p["date_of_birth"].to_numpy()) / YEAR
        n_conditions = (self.onset <= self.end).sum(axis=1)
        self.need = np.exp(
            0.018 * (self.age - 40)
            + 0.5 * (self.age < 5)
            + 0.22 * n_conditions
            + _FRAILTY_NEED[self.frailty]
            + np.log(deprivation_factor(p["imd_decile"].to_numpy(), 0.3))
        )
        # Each person's home trust: Leeds residents use the first trust, others the second.
        home = (p["town"].to_numpy() != "Leeds").astype(np.int64) % len(self.trusts)
        self.trust = home

    def rate(self, per_1000: float, weight: np.ndarray) -> np.ndarray:
        """Per-person yearly rates proportional to `weight`, averaging `per_1000` per 1,000
        person-years over the whole region."""
        return weight * (per_1000 / 1000) * self.years.sum() / (weight * self.years).sum()

    def practice_at(self, person: np.ndarray, day: np.ndarray) -> np.ndarray:
        p = self.people
        previous = p["previous_practice"].to_numpy()[person]
        before_move = day < p["move_date"].to_numpy()[person]
        index = np.where((previous >= 0) & before_move, previous, p["practice"].to_numpy()[person])
        return self.practices["ods_code"].to_numpy()[index]

    def trust_for(self, rng: np.random.Generator, person: np.ndarray) -> np.ndarray:
        """Mostly the home trust; 8% of care happens at the other."""
        trust = self.trust[person]
        away = rng.random(len(person)) < 0.08
        return np.array(self.trusts, dtype=object)[(trust + away) % len(self.trusts)]


def _events(rng, region, chunk, rate):
    """Poisson events over each person's time in the window: (person_id, day)."""
    years = region.years[chunk]
    count = rng.poisson(rate[chunk] * years)
    person = np.repeat(chunk, count)
    day = region.begin[person] + (rng.random(len(person)) * region.years[person] * YEAR).astype(
        np.int64
    )
    return person, day


def _choice(rng, options, n, p=None):
    return np.array(options, dtype=object)[rng.choice(len(options), size=n, p=p)]


def consultations(rng, region, chunk) -> pd.DataFrame:
    person, day = _events(
        rng, region, chunk, region.rate(cal.GP_CONSULTATIONS_PER_1000, region.need)
    )
    frail = region.frailty[person] >= 2
    kind = _choice(rng, ["face-to-face", "telephone", "video"], len(person), p=[0.64, 0.33, 0.03])
    home = rng.random(len(person)) < np.where(frail, 0.15, 0.01)
    kind[home] = "home-visit"
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.practice_at(person, day),
            "consultation_date": day,
            "consultation_type": kind,
            "staff_role": _choice(
                rng, ["GP", "nurse", "pharmacist", "other"], len(person), p=[0.55, 0.28, 0.07, 0.10]
            ),
        }
    )


def _has(region, chunk, *names):
    columns = [CONDITION_NAMES.index(n) for n in names]
    return (region.onset[np.ix_(chunk, columns)] <= region.end).any(axis=1)


def events(rng, region, chunk) -> pd.DataFrame:
    """Diagnoses at onset (whole history), and measurements in the window."""
    parts = [_diagnoses(rng, region, chunk)]
    age = region.age[chunk]
    adult = age >= 18
    monitored = _has(
        region,
        chunk,
        "hypertension",
        "chd",
        "diabetes",
        "ckd",
        "stroke_tia",
        "heart_failure",
        "atrial_fibrillation",
    )
    hypertensive = _has(region, chunk, "hypertension")
    diabetic = _has(region, chunk, "diabetes")

    bp_rate = np.zeros(len(region.years))
    bp_rate[chunk] = np.where(monitored, 2.0, np.where(age >= 40, 0.25, 0.0))
    person, day = _events(rng, region, chunk, bp_rate)
    local = np.searchsorted(chunk, person)
    systolic = rng.normal(128 + 12 * hypertensive[local] + 0.25 * (age[local] - 50), 14)
    diastolic = rng.normal(78 + 5 * hypertensive[local], 9)
    parts.append(_measure(region, person, day, codes.SYSTOLIC, np.round(systolic), "mmHg"))
    parts.append(_measure(region, person, day, codes.DIASTOLIC, np.round(diastolic), "mmHg"))

    a1c_rate = np.zeros(len(region.years))
    a1c_rate[chunk] = np.where(diabetic, 2.0, np.where(age >= 40, 0.15, 0.0))
    person, day = _events(rng, region, chunk, a1c_rate)
    local = np.searchsorted(chunk, person)
    a1c = np.clip(
        np.where(diabetic[local], rng.normal(60, 13, len(person)), rng.normal(38, 5, len(person))),
        25,
        150,
    )
    parts.append(_measure(region, person, day, codes.HBA1C, np.round(a1c), "mmol/mol"))

    bmi_rate = np.zeros(len(region.years))
    bmi_rate[chunk] = np.where(adult, 0.3, 0.0)
    person, day = _events(rng, region, chunk, bmi_rate)
    local = np.searchsorted(chunk, person)
    bmi = rng.lognormal(np.log(27.0), 0.17, len(person)) + 2 * diabetic[local]
    parts.append(_measure(region, person, day, codes.BMI, np.round(bmi, 1), "kg/m2"))

    once = np.zeros(len(region.years))
    once[chunk] = np.where(adult, 0.5 / np.maximum(region.years[chunk], 0.05), 0.0)
    person, day = _events(rng, region, chunk, once)
    person, first = np.unique(person, return_index=True)
    day = day[first]
    current = 0.09 * deprivation_factor(region.people["imd_decile"].to_numpy()[person], 0.9)
    u = rng.random(len(person))
    status = np.where(
        u < current, codes.SMOKER, np.where(u < current + 0.25, codes.EX_SMOKER, codes.NEVER_SMOKED)
    )
    parts.append(_measure(region, person, day, status, None, None))

    return pd.concat(parts, ignore_index=True)


def deficits(rng, region, chunk) -> pd.DataFrame:
    """The other eFI deficits (not conditions, not polypharmacy), each as one coded event from
    its own list, first recorded on a day in the years before the end date after the person's
    50th birthday (none after they leave or die)."""
    mask = region.deficits[chunk]
    kinds = len(coding.OTHER_DEFICITS)
    has = (mask.reshape(-1, 1) >> np.arange(kinds, dtype=np.uint32)) & 1 == 1
    local, kind = np.nonzero(has)
    person = chunk[local]
    dob = region.people["date_of_birth"].to_numpy()[person].astype(np.int64)
    earliest = np.maximum(
        region.end - int(DEFICIT_RECORDED_WITHIN_YEARS * YEAR),
        dob + int(np.ceil(OTHER_DEFICITS_FROM_AGE * YEAR)),
    )
    day = earliest + (rng.random(len(person)) * (region.end + 1 - earliest)).astype(np.int64)
    code = np.empty(len(person), dtype=object)
    pick = rng.random(len(person))
    for i, name in enumerate(coding.OTHER_DEFICITS):
        at = kind == i
        pool = coding.deficit_codes(name)
        code[at] = pool[(pick[at] * len(pool)).astype(int)]
    recorded = day <= np.minimum(region.exit[person] - 1, region.end)
    return _measure(region, person[recorded], day[recorded], code[recorded], None, None)


def recorded_deficits(region, chunk, events, medications, since: int) -> np.ndarray:
    """Each of `chunk`'s eFI deficits at the end date as their record holds them: the
    conditions', the other deficits', a peptic ulcer planted by the indicators' signals, and
    polypharmacy (five or more different medicines issued in [since, end], as Clegg et al.
    count it)."""
    mask = region.deficits[chunk].copy()
    ulcer = events["person"].to_numpy()[
        (events["snomed_code"].to_numpy() == codes.SIGNAL_TESTS["peptic_ulcer"][0])
        & (events["day"].to_numpy() <= region.end)
    ]
    bit = np.uint32(1) << np.uint32(coding.OTHER_DEFICITS.index("peptic_ulcer"))
    mask[in_chunk_index(chunk, ulcer)] |= bit
    day = medications["day"].to_numpy()
    issued = medications[(day >= since) & (day <= region.end)]
    drug, _ = pd.factorize(issued["dmd_code"])
    pairs = np.unique(np.searchsorted(chunk, issued["person"].to_numpy()) * 1024 + drug)
    drugs = np.bincount(pairs // 1024, minlength=len(chunk))
    polypharmacy = drugs >= EFI_POLYPHARMACY_DRUGS
    return (
        condition_deficits(region.onset[chunk], region.end)
        + np.bitwise_count(mask).astype(np.int16)
        + polypharmacy
    ).astype(np.int16)


def in_chunk_index(chunk: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Positions in the (sorted) chunk of `person`, all of whom belong to it."""
    return np.searchsorted(chunk, person)


def frailty_codes(rng, region, chunk, category: np.ndarray) -> pd.DataFrame:
    """A frailty diagnosis (mild, moderate, severe) for about half of the frail 65s and over,
    once, on a day in the window: `category` is each person's eFI category at the end date as
    their record gives it (by global person_id)."""
    age = region.age[chunk]
    frail = np.zeros(len(region.years))
    frail[chunk] = np.where(
        (age >= 65) & (category[chunk] > 0), 0.7 / np.maximum(region.years[chunk], 0.05), 0.0
    )
    person, day = _events(rng, region, chunk, frail)
    person, first = np.unique(person, return_index=True)
    frailty_code = np.array(codes.FRAILTY, dtype=object)[category[person]]
    return _measure(region, person, day[first], frailty_code, None, None)


def _measure(region, person, day, code, value, unit) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.practice_at(person, day),
            "event_date": day,
            "snomed_code": code,
            "value": value if value is not None else np.full(len(person), np.nan),
            "unit": unit,
        }
    )


def _diagnoses(rng, region, chunk) -> pd.DataFrame:
    onset = region.onset[chunk]
    recorded = onset <= np.minimum(region.exit[chunk], region.end).reshape(-1, 1)
    local, condition = np.nonzero(recorded)
    person = chunk[local]
    day = onset[local, condition].astype(np.int64)
    code = np.empty(len(person), dtype=object)
    pick = rng.random(len(person))
    for j, c in enumerate(cal.CONDITIONS):
        at = condition == j
        cluster = coding.condition_codes(c.name)
        code[at] = cluster[(pick[at] * len(cluster)).astype(int)]
    return _measure(region, person, day, code, None, None)


def medications(rng, region, chunk) -> pd.DataFrame:
    """Repeat issues every 56 days from diagnosis (or window start) while registered."""
    frames = []
    for name, (dmd, drug, quantity) in codes.MEDICINES.items():
        j = CONDITION_NAMES.index(name)
        onset = region.onset[chunk, j].astype(np.int64)
        first = np.maximum(onset, region.begin[chunk]) + rng.integers(0, 56, len(chunk))
        last = region.stop[chunk] - 1
        on_it = (onset <= region.end) & (first <= last) & (rng.random(len(chunk)) < 0.85)
        count = np.where(on_it, (last - first) // 56 + 1, 0)
        person = np.repeat(chunk, count)
        step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
        day = np.repeat(first, count) + 56 * step
        frames.append(
            pd.DataFrame(
                {
                    "person": person,
                    "day": day,
                    "provider": region.practice_at(person, day),
                    "issue_date": day,
                    "dmd_code": dmd,
                    "drug_name": drug,
                    "quantity": quantity,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def objections(rng, region, chunk) -> pd.DataFrame:
    """Type 1 dissent for a share of patients, some recorded before the window; about one in
    ten withdrawn later."""
    p = region.people
    objects = rng.random(len(chunk)) < region.objection_rate
    person = chunk[objects]
    registered_here = np.where(
        p["previous_practice"].to_numpy()[person] >= 0,
        p["move_date"].to_numpy()[person],
        p["registration_start"].to_numpy()[person],
    ).astype(np.int64)
    earliest = np.maximum(registered_here, region.start - 3 * 365)
    latest = np.minimum(region.stop[person] - 1, region.end)
    ok = earliest <= latest
    person, earliest, latest = person[ok], earliest[ok], latest[ok]
    day = earliest + (rng.random(len(person)) * (latest - earliest + 1)).astype(np.int64)
    withdrawn = rng.random(len(person)) < 0.1
    later = day + (rng.random(len(person)) * (latest - day + 1)).astype(np.int64)
    withdrawn &= later > day
    person = np.concatenate([person, person[withdrawn]])
    day = np.concatenate([day, later[withdrawn]])
    code = np.where(
        np.arange(len(person)) < len(person) - withdrawn.sum(),
        codes.TYPE1_DISSENT,
        codes.DISSENT_WITHDRAWN,
    )
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.practice_at(person, day),
            "recorded_date": day,
            "snomed_code": code,
        }
    )


def in_chunk(chunk: np.ndarray, person: np.ndarray) -> np.ndarray:
    """Which of `person` belong to the (sorted) chunk."""
    at = np.searchsorted(chunk, person).clip(0, len(chunk) - 1)
    return chunk[at] == person


def admitted_care(rng, region, chunk, emergency_person, emergency_day) -> pd.DataFrame:
    """Emergency spells from the outcome model; elective spells at a rate by need."""
    keep = (
        in_chunk(chunk, emergency_person)
        & (emergency_day >= region.start)
        & (emergency_day <= region.end)
    )
    em_person, em_day = emergency_person[keep], emergency_day[keep].astype(np.int64)
    el_person, el_day = _events(
        rng, region, chunk, region.rate(cal.ELECTIVE_ADMISSIONS_PER_1000, region.need)
    )
    person = np.concatenate([em_person, el_person])
    day = np.concatenate([em_day, el_day])
    emergency = np.arange(len(person)) < len(em_person)
    n = len(person)
    age = region.age[person]
    stay = np.where(
        emergency,
        rng.geometric(1 / (2 + age / 12)) - 1,
        np.where(rng.random(n) < 0.7, 0, rng.geometric(0.4, n)),
    )
    discharge = day + stay
    death = region.people["death_date"].to_numpy()[person].astype(np.int64)
    died = (death >= day) & (death <= discharge)
    discharge = np.where(died, death, discharge)
    via_ed = emergency & (rng.random(n) < cal.ADMISSIONS_VIA_ED)
    method = np.where(
        emergency,
        np.where(via_ed, "21", _choice(rng, ["22", "23", "24", "28"], n, p=[0.6, 0.1, 0.2, 0.1])),
        _choice(rng, ["11", "12", "13"], n, p=[0.75, 0.15, 0.1]),
    )
    primary, secondary, procedure = _diagnoses_and_procedures(rng, region, person, emergency)
    destination = np.where(
        died, "79", _choice(rng, ["19", "54", "51", "65"], n, p=[0.9, 0.04, 0.03, 0.03])
    )
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.trust_for(rng, person),
            "admission_date": day,
            "discharge_date": np.where(discharge <= region.end, discharge, NEVER),
            "admission_method": method,
            "primary_diagnosis": primary,
            "secondary_diagnoses": secondary,
            "primary_procedure": procedure,
            "discharge_destination": destination,
            "via_ed": via_ed,
            "died": died,
        }
    )


def _diagnoses_and_procedures(rng, region, person, emergency):
    n = len(person)
    present = region.onset[person] <= region.end
    primary = _choice(rng, codes.ICD10_EMERGENCY, n)
    elective_pick = rng.integers(len(codes.ELECTIVE), size=n)
    elective_dx = np.array([dx for _, dx in codes.ELECTIVE], dtype=object)[elective_pick]
    elective_proc = np.array([proc for proc, _ in codes.ELECTIVE], dtype=object)[elective_pick]
    primary = np.where(emergency, primary, elective_dx)
    procedure = np.where(emergency, None, elective_proc)
    # A code drawn at random that names a register (J44.0, a COPD exacerbation; C50.9, a
    # breast cancer excised) is given only to people on it; others get another draw from the
    # codes that name none.
    safe_primary, safe_elective = _register_free()
    wrong = ~_registers_present(primary, present)
    primary[wrong & emergency] = _choice(rng, safe_primary, n)[wrong & emergency]
    swap = wrong & ~emergency
    redraw = rng.integers(len(safe_elective), size=n)
    primary = np.where(swap, np.array([dx for _, dx in safe_elective], object)[redraw], primary)
    procedure = np.where(
        swap, np.array([proc for proc, _ in safe_elective], object)[redraw], procedure
    )
    u = rng.random(n)
    for j, c in enumerate(cal.CONDITIONS):
        if c.icd10_list is None:
            continue
        icd = coding.hospital_codes(c.name)
        at = emergency & present[:, j] & (u < 0.12)
        primary[at] = icd[rng.integers(len(icd), size=at.sum())]
    secondary = pd.Series([""] * n, dtype=object)
    shown = present & (rng.random(present.shape) < 0.8)
    for j, c in enumerate(cal.CONDITIONS):
        secondary = secondary + np.where(shown[:, j], codes.ICD10_SECONDARY[c.name] + ";", "")
    secondary = secondary.str.rstrip(";").replace("", None).to_numpy()
    procedure = np.where(
        emergency,
        np.where(rng.random(n) < 0.3, _choice(rng, codes.OPCS_EMERGENCY, n), None),
        procedure,
    )
    return primary, secondary, procedure


def _register_free():
    """The emergency diagnoses and elective (procedure, diagnosis) pairs that name no register."""
    primary = [c for c in codes.ICD10_EMERGENCY if not coding.icd10_registers(c)]
    elective = [(p, dx) for p, dx in codes.ELECTIVE if not coding.icd10_registers(dx)]
    return primary, elective


def _registers_present(diagnosis: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Whether every register each diagnosis names is one the person's conditions are on."""
    ok = np.ones(len(diagnosis), dtype=bool)
    for code in np.unique(diagnosis):
        registers = coding.icd10_registers(code)
        if registers:
            at = diagnosis == code
            for register in registers:
                ok[at] &= present[at, coding.condition_of_register(register)]
    return ok


def emergency_care(rng, region, chunk, spells: pd.DataFrame) -> pd.DataFrame:
    """Attendances: one for each emergency admission through the department, and others at a
    rate that brings the total to the national figure."""
    admitted = spells[spells["via_ed"]]
    ed_share = cal.ADMISSIONS_VIA_ED * cal.EMERGENCY_ADMISSIONS_PER_1000
    other_rate = region.rate(cal.EMERGENCY_ATTENDANCES_PER_1000 - ed_share, region.need**0.7)
    person, day = _events(rng, region, chunk, other_rate)
    person = np.concatenate([admitted["person"].to_numpy(), person])
    day = np.concatenate([admitted["day"].to_numpy(), day])
    n = len(person)
    was_admitted = np.arange(n) < len(admitted)
    provider = np.concatenate(
        [admitted["provider"].to_numpy(), region.trust_for(rng, person[len(admitted) :])]
    )
    destination = np.where(
        was_admitted,
        codes.ED_ADMITTED,
        np.where(rng.random(n) < 0.96, codes.ED_DISCHARGED_HOME, codes.ED_TRANSFERRED),
    )
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": provider,
            "arrival_date": day,
            "department_type": np.where(
                was_admitted,
                "01",
                _choice(rng, ["01", "03", "02", "04"], n, p=[0.7, 0.25, 0.03, 0.02]),
            ),
            "chief_complaint": _choice(rng, codes.ED_COMPLAINTS, n),
            "diagnosis": np.where(rng.random(n) < 0.8, _choice(rng, codes.ED_DIAGNOSES, n), None),
            "discharge_destination": destination,
        }
    )


def outpatients(rng, region, chunk) -> pd.DataFrame:
    person, day = _events(
        rng, region, chunk, region.rate(cal.OUTPATIENT_APPOINTMENTS_PER_1000, region.need)
    )
    n = len(person)
    specialty = np.where(
        region.age[person] < 16, codes.PAEDIATRICS, _choice(rng, codes.TREATMENT_FUNCTIONS, n)
    )
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.trust_for(rng, person),
            "appointment_date": day,
            "treatment_function_code": specialty,
            "first_attendance": np.where(rng.random(n) < 0.35, "1", "2"),
            "attendance_status": _choice(
                rng, ["5", "6", "7", "2", "3"], n, p=[0.8, 0.04, 0.07, 0.05, 0.04]
            ),
        }
    )


def community(rng, region, chunk) -> pd.DataFrame:
    weight = np.where(region.age >= 18, region.need**2, 0.0)
    person, day = _events(rng, region, chunk, region.rate(cal.COMMUNITY_CONTACTS_PER_1000, weight))
    n = len(person)
    frail = region.frailty[person] >= 2
    service = np.where(
        frail & (rng.random(n) < 0.4),
        _choice(rng, ["community matron", "falls service"], n),
        _choice(rng, codes.COMMUNITY_SERVICES[:3], n, p=[0.5, 0.3, 0.2]),
    )
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.community,
            "contact_date": day,
            "service": service,
            "contact_type": _choice(
                rng, ["face-to-face", "telephone", "video"], n, p=[0.8, 0.18, 0.02]
            ),
        }
    )


def social_care(rng, region, chunk) -> pd.DataFrame:
    """Clients of the local authority, chosen by need (adults), with one or two services."""
    adults = (region.age >= 18) & (region.years > 0)
    chance = scaled_chance(cal.SOCIAL_CARE_CLIENT_SHARE_ADULTS, region.need**2 * adults, adults)
    client = chunk[rng.random(len(chunk)) < chance[chunk]]
    services = rng.integers(1, 3, len(client))
    person = np.repeat(client, services)
    n = len(person)
    earliest = region.begin[person] - (rng.exponential(2.0, n) * YEAR).astype(np.int64)
    start = np.where(
        rng.random(n) < 0.5,
        earliest,
        region.begin[person] + (rng.random(n) * region.years[person] * YEAR).astype(np.int64),
    )
    service_type = _choice(rng, codes.SOCIAL_CARE_SERVICES, n, p=[0.45, 0.15, 0.08, 0.15, 0.17])
    length = np.where(
        service_type == "reablement", 42, (rng.exponential(1.5, n) * YEAR).astype(np.int64)
    )
    stop = np.minimum(start + length, region.exit[person])
    present = region.onset[person] <= region.end
    reason = np.full(n, "physical support", dtype=object)
    for name, label in [
        ("smi", "mental health"),
        ("learning_disability", "learning disability"),
        ("dementia", "memory and cognition"),
    ]:
        reason[present[:, CONDITION_NAMES.index(name)]] = label
    return pd.DataFrame(
        {
            "person": person,
            "day": np.maximum(start, region.start),
            "provider": region.social_care,
            "client_id": person,
            "service_start": start,
            "service_end": np.where(stop <= region.end, stop, NEVER),
            "service_type": service_type,
            "primary_support_reason": reason,
        }
    )


def deaths(rng, region, chunk, spells: pd.DataFrame) -> pd.DataFrame:
    death = region.people["death_date"].to_numpy()[chunk].astype(np.int64)
    dead = (death >= region.start) & (death <= region.end)
    person = chunk[dead]
    day = death[dead]
    n = len(person)
    in_hospital = np.isin(person, spells.loc[spells["died"], "person"].to_numpy())
    place = np.where(
        in_hospital,
        "hospital",
        _choice(rng, ["home", "care home", "hospice", "other"], n, p=[0.45, 0.38, 0.12, 0.05]),
    )
    cause = _choice(rng, codes.ICD10_DEATH_OTHER, n)
    present = region.onset[person] <= region.end
    # The gravest condition present names the cause, as certifying doctors usually record it.
    for name in [
        "hypertension",
        "diabetes",
        "chd",
        "copd",
        "stroke_tia",
        "heart_failure",
        "dementia",
        "cancer",
    ]:
        j = CONDITION_NAMES.index(name)
        if cal.CONDITIONS[j].icd10_list:
            icd = reference.codelist(cal.CONDITIONS[j].icd10_list)["code"].to_numpy(dtype=object)
            chosen = icd[rng.integers(len(icd), size=n)]
        else:
            chosen = np.full(n, codes.ICD10_SECONDARY[name], dtype=object)
        cause = np.where(present[:, j] & (rng.random(n) < 0.7), chosen, cause)
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.deaths,
            "date_of_death": day,
            "underlying_cause": cause,
            "place_of_death": place,
        }
    )
