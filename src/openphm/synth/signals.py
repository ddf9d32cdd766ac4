"""The signals indicators look for (openphm.indicators), written into a chunk's GP extracts:
medicines from the PINCER lists prescribed together as they are in practice, the monitoring
tests that go with them, history codes, urine ACRs, statins, extra raised blood pressures and
non-diabetic hyperglycaemia codes. Each is given to some people and not others, so that every
indicator has people it should flag and people it should not, some a day either side of a
window's edge. Writes test data only.

Drawn from their own random stream (`rng`), after the chunk's other rows, so the rest of the
region is the same with or without them. `synth.truth_indicators` says, from every row the
chunk was given, who each indicator should flag and why.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from openphm.synth import codes
from openphm.synth.activity import CONDITION_NAMES, Region, _measure
from openphm.synth.population import YEAR

EVERY = 56  # days between repeat issues, as activity.medications
# Indicator windows end on the region's end date: the days just inside and outside the 3-month
# window are planted on purpose for a share of people (edge_days).
EDGE_SHARE = 0.1


def _has(region: Region, chunk: np.ndarray, name: str) -> np.ndarray:
    return region.onset[chunk, CONDITION_NAMES.index(name)] <= region.end


def _onset(region: Region, chunk: np.ndarray, name: str) -> np.ndarray:
    return region.onset[chunk, CONDITION_NAMES.index(name)].astype(np.int64)


def _repeats(person, first, last, every):
    """Issues on first, first + every, ... up to last, per person."""
    first, last = np.asarray(first, np.int64), np.asarray(last, np.int64)
    count = np.where(first <= last, (last - first) // every + 1, 0)
    out_person = np.repeat(person, count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    return out_person, np.repeat(first, count) + every * step


def _course(rng, region, people, start, every, share=1.0, jitter=True):
    """Repeat issues for `share` of `people` from `start` (or their registration) to the day
    before they leave (or the end)."""
    take = rng.random(len(people)) < share
    people, start = people[take], np.asarray(start, np.int64)[take]
    first = np.maximum(start, region.begin[people])
    if jitter:
        first = first + rng.integers(0, every, len(people))
    last = np.minimum(region.stop[people] - 1, region.end)
    return _repeats(people, first, last, every)


def _medicine(region, person, day, name: str) -> pd.DataFrame:
    """Issues of a signal medicine (codes.SIGNAL_MEDICINES, or a region list's drug)."""
    if name in codes.SIGNAL_MEDICINES:
        dmd, drug, _ = codes.SIGNAL_MEDICINES[name]
    else:
        dmd, drug = codes.REGION_LISTS[name]
    return pd.DataFrame(
        {
            "person": person,
            "day": day,
            "provider": region.practice_at(person, day),
            "issue_date": day,
            "dmd_code": dmd,
            "drug_name": drug,
            "quantity": "56",
        }
    )


def _test(region, person, day, name: str) -> pd.DataFrame:
    """Records of a signal test or history code (codes.SIGNAL_TESTS), with no value."""
    return _measure(region, person, day, codes.SIGNAL_TESTS[name][0], None, None)


def edge_days(end: int) -> tuple[int, int]:
    """The first day of the 3 months ending on `end`, and the day before it."""
    last = (pd.Timestamp(0) + pd.Timedelta(days=end)).normalize()
    first = (last - pd.DateOffset(months=3) + pd.Timedelta(days=1)).date()
    inside = (first - pd.Timestamp(0).date()).days
    return inside, inside - 1


def _registered_now(region: Region, chunk: np.ndarray) -> np.ndarray:
    return chunk[region.exit[chunk] > region.end]


def generate(
    rng: np.random.Generator, region: Region, chunk: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(events, medications) of the signals for `chunk`, in activity's frame shapes."""
    age = region.age
    end = region.end
    meds, events = [], []

    def course(people, start, name, share=1.0, every=EVERY):
        person, day = _course(rng, region, people, start, every, share)
        meds.append(_medicine(region, person, day, name))
        return person

    def tests(people, start, name, every, share=1.0):
        person, day = _course(rng, region, people, start, every, share)
        events.append(_test(region, person, day, name))

    adults = chunk[age[chunk] >= 18]
    # NSAID courses (PINCER A, B, D, I): more often in the old; a course is 1-4 monthly issues
    # starting anywhere in the history; some planted on the window's edges.
    chance = np.where(age[adults] >= 65, 0.10, 0.04) * (age[adults] >= 40)
    users = adults[rng.random(len(adults)) < chance]
    begin, stop = region.begin[users], np.minimum(region.stop[users] - 1, end)
    first = begin + (rng.random(len(users)) * np.maximum(stop - begin, 0)).astype(np.int64)
    inside, outside = edge_days(end)
    edge = rng.random(len(users)) < EDGE_SHARE
    first = np.where(edge, np.where(rng.random(len(users)) < 0.5, inside, outside), first)
    ok = (first >= begin) & (first <= stop)
    users, first, stop = users[ok], first[ok], stop[ok]
    # NSAIDs given where they are a hazard, recently: to some with heart failure, atrial
    # fibrillation (anticoagulated) or a peptic ulcer, as happens when a pain flares.
    hazard = _has(region, chunk, "heart_failure") | _has(region, chunk, "atrial_fibrillation")
    hazard = _registered_now(region, chunk[hazard])
    hazard = hazard[(rng.random(len(hazard)) < 0.12) & ~np.isin(hazard, users)]
    users = np.concatenate([users, hazard])
    first = np.concatenate([first, end - rng.integers(0, 80, len(hazard))])
    stop = np.concatenate([stop, np.minimum(region.stop[hazard] - 1, end)])
    issues = rng.integers(1, 5, len(users))
    last = np.minimum(first + 30 * (issues - 1), stop)
    person, day = _repeats(users, first, last, 30)
    drug = np.where(rng.random(len(users)) < 0.5, "naproxen", "ibuprofen")
    for name in ("naproxen", "ibuprofen"):
        mine = np.isin(person, users[drug == name])
        meds.append(_medicine(region, person[mine], day[mine], name))
    # Gastroprotection with the NSAID for half of the old, a fifth of the young.
    protected = np.isin(
        person, users[rng.random(len(users)) < np.where(age[users] >= 65, 0.5, 0.2)]
    )
    meds.append(_medicine(region, person[protected], day[protected], "omeprazole"))
    # Peptic ulcer or GI bleed history (PINCER B): some NSAID users, some others over 40.
    history = np.concatenate([
        users[rng.random(len(users)) < 0.15],
        adults[(age[adults] >= 40) & (rng.random(len(adults)) < 0.02)],
    ])  # fmt: skip
    history = np.unique(history)
    latest = np.minimum(region.stop[history] - 1, end)
    when = latest - (rng.random(len(history)) * 8 * YEAR).astype(np.int64)
    kind = np.where(rng.random(len(history)) < 0.6, "peptic_ulcer", "gi_bleed")
    for k in ("peptic_ulcer", "gi_bleed"):
        events.append(_test(region, history[kind == k], when[kind == k], k))

    # Antiplatelets and anticoagulants (PINCER E, F): aspirin for most with CHD (with
    # clopidogrel already for stroke/PAD, and apixaban for AF), warfarin for a few with AF;
    # gastroprotection for some of those on them.
    chd = chunk[_has(region, chunk, "chd")]
    course(chd, _onset(region, chd, "chd"), "aspirin", share=0.75)
    af = chunk[_has(region, chunk, "atrial_fibrillation")]
    course(af, _onset(region, af, "atrial_fibrillation"), "warfarin", share=0.05)
    at_risk = chunk[_has(region, chunk, "chd") | _has(region, chunk, "atrial_fibrillation")
                    | _has(region, chunk, "stroke_tia") | _has(region, chunk, "pad")]  # fmt: skip
    course(at_risk, region.begin[at_risk], "lansoprazole", share=0.45)

    # Non-selective beta-blocker (PINCER G): propranolol for some adults, asthma or not.
    asthma = _has(region, adults, "asthma")
    chance = np.where(asthma, 0.04, 0.015) * (age[adults] < 75)
    takers = adults[rng.random(len(adults)) < chance]
    course(takers, region.begin[takers], "propranolol")

    # Long-term ACE inhibitor (ramipril, CKD) or loop diuretic (furosemide, heart failure) and
    # their monitoring (PINCER AC): renal function and electrolytes twice a year for most.
    hf = chunk[_has(region, chunk, "heart_failure")]
    course(hf, _onset(region, hf, "heart_failure"), "furosemide", share=0.75)
    on_acei = chunk[_has(region, chunk, "ckd") | _has(region, chunk, "heart_failure")]
    monitored = on_acei[rng.random(len(on_acei)) < 0.8]
    start = region.begin[monitored] - rng.integers(0, 200, len(monitored))
    tests(monitored, start, "creatinine", 180)
    tests(monitored, start, "potassium", 180, share=0.95)

    # Methotrexate (rheumatoid arthritis) monitoring (PINCER ME): most every 11 weeks.
    ra = chunk[_has(region, chunk, "rheumatoid_arthritis")]
    both = ra[rng.random(len(ra)) < 0.75]
    tests(both, region.begin[both], "fbc", 77)
    tests(both, region.begin[both], "lft", 77, share=0.9)

    # Lithium for some with serious mental illness, and its levels (PINCER LI).
    smi = chunk[_has(region, chunk, "smi")]
    lithium = course(smi, _onset(region, smi, "smi"), "lithium", share=0.4)
    lithium = np.unique(lithium)
    tests(lithium, region.begin[lithium], "lithium_level", 80, share=0.6)

    # Amiodarone for some with AF, and thyroid function (PINCER AM).
    amio = np.unique(course(af, _onset(region, af, "atrial_fibrillation"), "amiodarone", 0.15))
    tests(amio, region.begin[amio], "tft", 150, share=0.6)

    # Statins for stroke and PAD as well as CHD (care gap: CVD without a statin).
    cvd = chunk[_has(region, chunk, "stroke_tia") | _has(region, chunk, "pad")]
    course(cvd, region.begin[cvd], "statins-dmd", share=0.7)

    # Urine ACR for CKD about once a year (care gap: CKD without ACR).
    ckd = chunk[_has(region, chunk, "ckd")]
    person, day = _course(rng, region, ckd, region.begin[ckd], 330, share=0.75)
    events.append(_measure(region, person, day, codes.URINE_ACR, np.round(rng.lognormal(
        1.0, 0.8, len(person)), 1), "mg/mmol"))  # fmt: skip

    # Raised blood pressures without a diagnosis (case finding), in the last 12 months.
    now = _registered_now(region, chunk)
    candidates = now[(age[now] >= 40) & ~_has(region, now, "hypertension")]
    raised = candidates[rng.random(len(candidates)) < 0.03]
    readings = rng.integers(1, 4, len(raised))
    person = np.repeat(raised, readings)
    day = end - rng.integers(0, 365, len(person))
    systolic = np.round(rng.normal(146, 7, len(person)))
    diastolic = np.round(rng.normal(88, 5, len(person)))
    events.append(_measure(region, person, day, codes.SYSTOLIC, systolic, "mmHg"))
    events.append(_measure(region, person, day, codes.DIASTOLIC, diastolic, "mmHg"))

    # Non-diabetic hyperglycaemia: an HbA1c of 42-47 in the last year for some adults, and a
    # diagnosis or DPP referral code for some of them.
    candidates = now[(age[now] >= 40) & ~_has(region, now, "diabetes")]
    ndh = candidates[rng.random(len(candidates)) < 0.03]
    day = end - rng.integers(0, 365, len(ndh))
    events.append(_measure(region, ndh, day, codes.HBA1C, rng.integers(42, 48, len(ndh))
                           .astype(float), "mmol/mol"))  # fmt: skip
    coded = ndh[rng.random(len(ndh)) < 0.3]
    code = np.where(rng.random(len(coded)) < 0.6, codes.NDH, codes.NDPP_REFERRAL)
    events.append(_measure(region, coded, end - rng.integers(0, 700, len(coded)), code, None,
                           None))  # fmt: skip

    return _frame(events), _frame(meds)


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
