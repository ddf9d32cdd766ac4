"""The region's hospital and community data in the published layouts (`phm synth --layouts
real`): admitted care as HES APC episodes (`hes-apc`), outpatients as HES OP (`hes-op`),
A&E as HES A&E (`hes-ae`), community contacts as the CSDS v1.6 commissioning extract's three
tables (`csds`: CYP001MPI, CYP101Referral, CYP201CareContact). Writes test data only.

The rows are the same region's: the spells, attendances, appointments and contacts the
contract's tables would hold (openphm.synth.activity), with the identifiers each record holds
(openphm.synth.identifiers.as_recorded), written in the columns, codes and special values the
built-in layouts declare (src/openphm/programme/layouts/*.toml; docs/extract-formats.md).
What a layout adds that the contract's tables do not have (a spell split into two consultant
episodes, an appointment by telephone, an unfinished spell's `98`, a CSDS referral) is drawn
from a random stream of its own, so the rest of the region is byte for byte the one
`--layouts own` writes. What a layout cannot carry is left out: docs/synthetic-region.md,
"Published layouts", lists it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.synth import codes
from openphm.synth.identifiers import local_patient_ids
from openphm.synth.timeline import NEVER, day_number

LAYOUTS = ("own", "real")
# The contract's table -> the built-in layout (or data set) the region writes it in.
REAL = {"apc": "hes-apc", "ecds": "hes-ae", "opa": "hes-op", "community": "csds"}
KIND = {"apc": "admitted-care", "ecds": "emergency-care", "opa": "outpatients",
        "community": "community"}  # fmt: skip
DIAGNOSES, PROCEDURES = 20, 24  # HES APC's DIAG_4_01..20 and OPERTN_4_01..24
HES_NULL_DATE = "1800-01-01"  # HES's null date, for a date of birth the record lacks
SPLIT_SHARE = 0.25  # spells of two nights or more seen by a second consultant (two episodes)
REMOTE_SHARE = 0.15  # outpatient appointments by telephone or video (FIRSTATT 3, 4)
NO_PRACTICE_SHARE = 0.01  # GPPRAC V81999 (not known)
LATE_SHARE = 0.05  # community contacts arrived late but seen (AttendanceStatus 6)
# Community appointments that did not take place, a few days after a contact, by ATTENDED OR
# DID NOT ATTEND: 3 did not attend, 2 cancelled by the patient, 4 by the provider, 7 late
# and not seen.
MISSED_SHARE, MISSED_AFTER_DAYS = 0.1, 3
MISSED = {"3": 0.5, "2": 0.25, "4": 0.2, "7": 0.05}

# HES A&E's codes for what the contract's ECDS-like table codes in SNOMED CT (NHS Data
# Dictionary: A&E ATTENDANCE DISPOSAL; A&E DIAGNOSIS, its 2-character condition).
AE_DISPOSAL = {codes.ED_ADMITTED: "01", codes.ED_DISCHARGED_HOME: "03", codes.ED_TRANSFERRED: "07"}
AE_DIAGNOSIS = {
    "233604007": "25",  # pneumonia: respiratory conditions
    "68566005": "27",  # urinary tract infection: urological conditions
    "22298006": "20",  # myocardial infarction: cardiac conditions
    "49436004": "20",  # atrial fibrillation
    "230690007": "21",  # stroke: cerebro-vascular conditions
    "195967001": "25",  # asthma
    "13645005": "25",  # chronic obstructive lung disease
    "72704001": "05",  # fracture: dislocation, fracture, joint injury
    "62315008": "26",  # diarrhoea: gastrointestinal conditions
    "84114007": "20",  # heart failure
    "271737000": "23",  # anaemia: haematological conditions
    "125667009": "02",  # contusion: contusion or abrasion
    "44465007": "06",  # sprain of ankle: sprain or ligament injury
    "91175000": "24",  # seizure: central nervous system conditions
}


def _text(values) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object), pa.string(), from_pandas=True)


def _iso(days: np.ndarray) -> pa.Array:
    days = np.asarray(days, dtype=np.int64)
    return pa.array(days.astype(np.int32), mask=days >= NEVER).cast(pa.date32()).cast(pa.string())


def _fyear(days: np.ndarray) -> pa.Array:
    """HES's financial year of a date: `2526` for April 2025 to March 2026."""
    dates = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype(int) + 1970
    month = dates.astype("datetime64[M]").astype(int) % 12 + 1
    start = np.where(month >= 4, year, year - 1)
    return _text([f"{s % 100:02d}{(s + 1) % 100:02d}" for s in start])


def _hes_person(recorded: pd.DataFrame, practice: np.ndarray, rng) -> dict[str, pa.Array]:
    """NEWNHSNO, DOB, SEX, HOMEADD and GPPRAC as HES gives them: the NHS number as ten digits
    (NHS England's cleaned field), a date of birth the record lacks as HES's null date."""
    nhs = pd.Series(recorded["nhs_number"].to_numpy(), dtype=object).str.replace(" ", "")
    dob = recorded["date_of_birth"].to_numpy().astype(np.int64)
    gp = np.where(rng.random(len(practice)) < NO_PRACTICE_SHARE, "V81999", practice)
    return {
        "NEWNHSNO": _text(nhs.to_numpy()),
        "DOB": pc.fill_null(_iso(dob), HES_NULL_DATE),
        "SEX": _text(recorded["sex"].to_numpy()),
        "HOMEADD": _text(recorded["postcode"].to_numpy()),
        "GPPRAC": _text(gp),
    }


def _start_age(dob: np.ndarray, day: np.ndarray) -> pa.Array:
    """STARTAGE: whole years at `day`; under a year, HES's 7001-7007 (under a day, 1-6 days,
    7-28 days, 29-90 days, 3-6, 6-9, 9-12 months); blank without a date of birth."""
    dob = np.asarray(dob, dtype=np.int64)
    born = dob.astype("datetime64[D]")
    at = np.asarray(day, dtype=np.int64).astype("datetime64[D]")
    months = (at.astype("datetime64[M]") - born.astype("datetime64[M]")).astype(int)
    before = (at - at.astype("datetime64[M]")) < (born - born.astype("datetime64[M]"))
    months = months - before
    years = months // 12
    days = (at - born).astype(int)
    infant = np.select(
        [days < 1, days < 7, days < 29, days < 91, months < 6, months < 9],
        [7001, 7002, 7003, 7004, 7005, 7006],
        7007,
    )
    age = np.where(years >= 1, years, infant)
    return pa.array(age, mask=dob >= NEVER).cast(pa.string())


def write(writer, rng, name: str, frame: pd.DataFrame, recorded: pd.DataFrame) -> None:
    """Write one chunk's rows of the contract's table `name` (apc, ecds, opa, community) in
    its published layout."""
    if len(frame) == 0:
        return
    frame = frame.reset_index(drop=True)
    recorded = recorded.reset_index(drop=True)
    practice = writer.current_practice[frame["person"].to_numpy()]
    {"apc": _hes_apc, "ecds": _hes_ae, "opa": _hes_op, "community": _csds}[name](
        writer, rng, frame, recorded, practice
    )


def _monthly(writer, day: np.ndarray) -> np.ndarray:
    return np.asarray(day) > day_number(writer.timeline.baseline_end)


def _hes_apc(writer, rng, frame, recorded, practice) -> None:
    """Each spell as one consultant episode, or two (a second consultant from a day within
    the stay): both carry the spell's admission date, method and person, the first its
    diagnoses and procedure, the last the discharge (blank, with DISDEST 98 not applicable,
    while the spell is unfinished)."""
    n = len(frame)
    admission = frame["admission_date"].to_numpy().astype(np.int64)
    discharge = frame["discharge_date"].to_numpy().astype(np.int64)
    end = day_number(writer.timeline.end)
    stay = np.where(discharge < NEVER, discharge, end) - admission
    split = (stay >= 2) & (rng.random(n) < SPLIT_SHARE)
    handover = admission + np.floor(rng.random(n) * (stay - 1)).astype(np.int64) + 1
    # Episode rows: every spell's first, then the second of those split, in spell order.
    spell = np.r_[np.arange(n), np.flatnonzero(split)]
    order = np.r_[np.ones(n, dtype=np.int64), np.full(split.sum(), 2)]
    rows = np.lexsort((order, spell))
    spell, order = spell[rows], order[rows]
    last = (order == 2) | ~split[spell]
    first = order == 1
    finished = discharge[spell] < NEVER
    start = np.where(first, admission[spell], handover[spell])
    episode_end = np.where(last, discharge[spell], handover[spell])
    # Each episode's trust and person (the spell's).
    trust, who = frame["provider"].to_numpy()[spell], frame["person"].to_numpy()[spell]
    columns = {
        "FYEAR": _fyear(admission[spell]),
        "EPIKEY": _text(writer.next_ids("hes-apc", len(spell), 100_000_000_001).astype(str)),
        "EPIORDER": _text(order.astype(str)),
        "EPISTART": _iso(start),
        "EPIEND": _iso(episode_end),
        "EPISTAT": _text(np.where(episode_end < NEVER, "3", "1")),
        "ADMIDATE": _iso(admission[spell]),
        "ADMIMETH": _text(frame["admission_method"].to_numpy()[spell]),
        "DISDATE": _iso(np.where(last, discharge[spell], NEVER)),
        "DISDEST": _text(
            np.where(last & finished, frame["discharge_destination"].to_numpy()[spell], "98")
        ),
        "PROCODE3": _text(trust),
    }
    person = {k: v.take(pa.array(spell)) for k, v in _hes_person(recorded, practice, rng).items()}
    columns |= person
    # The trust's own id for the patient, which HES APC carries from 2013-14 (the TOS's
    # LOPATID): the one the contract's table gives the person at this trust.
    columns["LOPATID"] = local_patient_ids(who, trust)
    columns["STARTAGE"] = _start_age(recorded["date_of_birth"].to_numpy()[spell], start)
    # The first episode: the primary diagnosis, then the secondary ones (4 characters, an X
    # filling a 3-character code); the second: the primary again.
    secondary = pd.Series(frame["secondary_diagnoses"].to_numpy(), dtype=object).str.split(";")
    listed = [
        [p, *(s if isinstance(s, list) else [])]
        for p, s in zip(frame["primary_diagnosis"].to_numpy(), secondary, strict=True)
    ]
    if max(len(d) for d in listed) > DIAGNOSES:
        raise ValueError("a spell has more diagnoses than HES APC's 20 DIAG_4 fields")
    diag = np.full((len(spell), DIAGNOSES), None, dtype=object)
    for i, (s, o) in enumerate(zip(spell, order, strict=True)):
        for j, code in enumerate(listed[s] if o == 1 else listed[s][:1]):
            diag[i, j] = code.ljust(4, "X")
    for j in range(DIAGNOSES):
        columns[f"DIAG_4_{j + 1:02d}"] = _text(diag[:, j])
    procedure = frame["primary_procedure"].to_numpy()[spell]
    columns["OPERTN_4_01"] = _text(np.where(first & pd.notna(procedure), procedure, "-"))
    for j in range(2, PROCEDURES + 1):
        columns[f"OPERTN_4_{j:02d}"] = pa.nulls(len(spell), pa.string())
    writer.write_rows(
        KIND["apc"], REAL["apc"], trust,
        _monthly(writer, frame["day"].to_numpy()[spell]), admission[spell],
        who, pa.table(columns),
    )  # fmt: skip


def _hes_ae(writer, rng, frame, recorded, practice) -> None:
    """One row per attendance; the SNOMED CT diagnosis and disposal of the contract's table
    as HES A&E's codes; no chief complaint (HES A&E has none)."""
    day = frame["arrival_date"].to_numpy().astype(np.int64)
    diagnosis = frame["diagnosis"].map(AE_DIAGNOSIS)
    if diagnosis[frame["diagnosis"].notna()].isna().any():
        raise ValueError("an A&E diagnosis with no HES A&E code: add it to AE_DIAGNOSIS")
    columns = {
        "FYEAR": _fyear(day),
        "AEKEY": _text(writer.next_ids("hes-ae", len(frame), 500_000_000_001).astype(str)),
        "PROCODE3": _text(frame["provider"].to_numpy()),
        "ARRIVALDATE": _iso(day),
        "AEDEPTTYPE": _text(frame["department_type"].to_numpy()),
        "DIAG3_01": _text(diagnosis.to_numpy()),
        "AEATTENDDISP": _text(frame["discharge_destination"].map(AE_DISPOSAL).to_numpy()),
        **_hes_person(recorded, practice, rng),
    }
    writer.write_rows(
        KIND["ecds"], REAL["ecds"], frame["provider"].to_numpy(), _monthly(writer, day), day,
        frame["person"].to_numpy(), pa.table(columns),
    )  # fmt: skip


def _hes_op(writer, rng, frame, recorded, practice) -> None:
    """One row per appointment; a share held by telephone or video (FIRSTATT 3 first, 4
    follow-up, which the layout reads as 1 and 2)."""
    day = frame["appointment_date"].to_numpy().astype(np.int64)
    first = frame["first_attendance"].to_numpy().astype(str)
    remote = rng.random(len(frame)) < REMOTE_SHARE
    firstatt = np.where(remote, np.where(first == "1", "3", "4"), first)
    columns = {
        "FYEAR": _fyear(day),
        "ATTENDKEY": _text(writer.next_ids("hes-op", len(frame), 300_000_000_001).astype(str)),
        "PROCODE3": _text(frame["provider"].to_numpy()),
        "APPTDATE": _iso(day),
        "TRETSPEF": _text(frame["treatment_function_code"].to_numpy()),
        "FIRSTATT": _text(firstatt),
        "ATTENDED": _text(frame["attendance_status"].to_numpy()),
        **_hes_person(recorded, practice, rng),
    }
    writer.write_rows(
        KIND["opa"], REAL["opa"], frame["provider"].to_numpy(), _monthly(writer, day), day,
        frame["person"].to_numpy(), pa.table(columns),
    )  # fmt: skip


def _csds(writer, rng, frame, recorded, practice) -> None:
    """A provider's monthly CSDS submission as three tables, each period its own export: one
    CYP001MPI row per person with a contact in it (the identifiers their first contact's
    record holds), one CYP101Referral row per referral (a person's contacts with one
    service; received on their first contact, still open), one CYP201CareContact row per
    contact (attended on time, or late but seen), naming its person's RecordNumber and its
    referral's ServiceRequestID."""
    kind = KIND["community"]
    day = frame["contact_date"].to_numpy().astype(np.int64)
    monthly = _monthly(writer, day)
    person = frame["person"].to_numpy()
    provider = frame["provider"].to_numpy().astype(object)
    by = pd.DataFrame({"provider": provider, "monthly": monthly, "person": person, "day": day})
    by["service"] = frame["service"].to_numpy()
    by = by.sort_values(["provider", "monthly", "person", "day"], kind="stable")

    # CYP001MPI: a person's first contact of each export gives the record.
    mpi = by.drop_duplicates(["provider", "monthly", "person"])
    record_number = writer.next_ids("csds-record", len(mpi), 10_001)
    who = recorded.iloc[mpi.index]
    local = local_patient_ids(mpi["person"].to_numpy(), mpi["provider"].to_numpy())
    writer.write_rows(
        kind, "CYP001MPI", mpi["provider"].to_numpy(), mpi["monthly"].to_numpy(),
        mpi["day"].to_numpy(), mpi["person"].to_numpy(),
        pa.table({
            "LocalPatientID": local,
            "OrgID_LocalPatientID": _text(mpi["provider"].to_numpy()),
            "NHSNumber": _text(who["nhs_number"].to_numpy()),
            "DateOfBirth": _iso(who["date_of_birth"].to_numpy()),
            "Postcode": _text(who["postcode"].to_numpy()),
            "Gender": _text(who["sex"].to_numpy()),
            "RecordNumber": _text(record_number.astype(str)),
            "OrgID_Provider": _text(mpi["provider"].to_numpy()),
        }),
    )  # fmt: skip
    records = pd.Series(
        record_number,
        index=pd.MultiIndex.from_frame(mpi[["provider", "monthly", "person"]]),
    )

    # CYP101Referral: a person's contacts with one service are one referral, received on the
    # first of them (whichever export it fell in), in every export that holds one of them.
    referral_key = ["provider", "person", "service"]
    received = by.groupby(referral_key, sort=True)["day"].min()
    ids = pd.Series(writer.next_ids("csds-referral", len(received)), index=received.index)
    rows = by.drop_duplicates(["provider", "monthly", "person", "service"])
    key = pd.MultiIndex.from_frame(rows[referral_key])
    number = records.reindex(pd.MultiIndex.from_frame(rows[["provider", "monthly", "person"]]))
    writer.write_rows(
        kind, "CYP101Referral", rows["provider"].to_numpy(), rows["monthly"].to_numpy(),
        rows["day"].to_numpy(), rows["person"].to_numpy(),
        pa.table({
            "ServiceRequestID": _text(np.char.add("SR", ids.reindex(key).to_numpy().astype(str))),
            "LocalPatientID": local_patient_ids(rows["person"].to_numpy(),
                                                rows["provider"].to_numpy()),
            "ReferralRequest_ReceivedDate": _iso(received.reindex(key).to_numpy()),
            "Discharge_Date": pa.nulls(len(rows), pa.string()),
            "RecordNumber": _text(number.to_numpy().astype(str)),
            "OrgID_Provider": _text(rows["provider"].to_numpy()),
        }),
    )  # fmt: skip

    # CYP201CareContact: every contact, in the contract's row order, and after some an
    # appointment that did not take place (in the same export), which stays in zone 1.
    missed = rng.random(len(frame)) < MISSED_SHARE
    missed_day = day + MISSED_AFTER_DAYS
    missed &= (_monthly(writer, missed_day) == monthly) & (missed_day <= day_number(
        writer.timeline.end))  # fmt: skip
    rows = np.r_[np.arange(len(frame)), np.flatnonzero(missed)]
    status = np.r_[
        np.where(rng.random(len(frame)) < LATE_SHARE, "6", "5"),
        np.array(list(MISSED))[rng.choice(len(MISSED), missed.sum(), p=list(MISSED.values()))],
    ]
    when = np.r_[day, missed_day[missed]]
    key = pd.MultiIndex.from_arrays(
        [provider[rows], person[rows], frame["service"].to_numpy()[rows]]
    )
    number = records.reindex(
        pd.MultiIndex.from_arrays([provider[rows], monthly[rows], person[rows]])
    )
    contact_id = writer.next_ids("csds-contact", len(rows))
    writer.write_rows(
        kind, "CYP201CareContact", provider[rows], monthly[rows], when, person[rows],
        pa.table({
            "CareContactID": _text(np.char.add("CC", contact_id.astype(str))),
            "ServiceRequestID": _text(np.char.add("SR", ids.reindex(key).to_numpy().astype(str))),
            "Contact_Date": _iso(when),
            "AttendanceStatus": _text(status),
            "RecordNumber": _text(number.to_numpy().astype(str)),
            "OrgID_Provider": _text(provider[rows]),
        }),
    )  # fmt: skip
