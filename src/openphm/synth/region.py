"""Generate one synthetic region: the public entry point of `openphm.synth`.

Writes test data only, into a new directory: DIR/extracts/ (what providers send), DIR/practices/
(each practice's key pair and patient list, standing for the practice's own machine),
DIR/providers/ (each hospital and community provider's patient list, standing for its own),
DIR/programme.toml and DIR/truth/ (for tests; the pipeline never reads it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from openphm.practice.keys import generate_keypair
from openphm.synth import activity, faults, indicator_truth, signals, truth
from openphm.synth import layouts as published
from openphm.synth.conditions import category, extra_deficits, frailty_category, onset_dates
from openphm.synth.extracts import (
    LOCAL_ID,
    TABLES,
    ExtractWriter,
    append_csv,
    convert_to_parquet,
)
from openphm.synth.identifiers import IDENTITY_NOISE, as_recorded, local_patient_ids
from openphm.synth.outcomes import simulate, survivor_boost
from openphm.synth.population import make_people, make_practices
from openphm.synth.programme import programme_toml
from openphm.synth.registers import snapshots
from openphm.synth.timeline import DEFAULT_END, Timeline, add_months, day_number

CHUNK = 100_000  # people per chunk: bounds memory whatever the region's size
TRUSTS = ["RZ1", "RZ2"]
COMMUNITY_PROVIDER = "RZ3"
LOCAL_AUTHORITY = "LA001"
DEATHS_PROVIDER = "X26"
MIN_PEOPLE_PER_PRACTICE = 200


@dataclass(frozen=True)
class RegionOptions:
    people: int
    practices: int
    seed: int
    months: int = 24
    end: dt.date = DEFAULT_END
    format: str = "csv"
    objection_rate: float = 0.03
    missing_nhs_rate: float = 0.05
    invalid_nhs_rate: float = 0.01
    identity_noise: str = "nhs"  # low, nhs or high: faults in non-GP records' identifiers
    # own: every extract in the contract's tables; real: hospital data as HES, community as
    # CSDS (openphm.synth.layouts)
    layouts: str = "own"

    def __post_init__(self) -> None:
        if self.layouts not in published.LAYOUTS:
            raise ValueError(
                f"layouts must be one of {', '.join(published.LAYOUTS)}, not {self.layouts!r}"
            )
        if self.identity_noise not in IDENTITY_NOISE:
            raise ValueError(
                f"identity noise must be one of {', '.join(IDENTITY_NOISE)}, "
                f"not {self.identity_noise!r}"
            )
        if self.practices < 2:
            raise ValueError("a region needs at least 2 practices (one of each GP flavour)")
        if self.people < self.practices * MIN_PEOPLE_PER_PRACTICE:
            raise ValueError(
                f"{self.people} people is too few for {self.practices} practices: "
                f"use at least {MIN_PEOPLE_PER_PRACTICE} per practice"
            )
        if not 2 <= self.months <= 240:
            raise ValueError("months of history must be between 2 and 240")
        if self.format not in ("csv", "parquet"):
            raise ValueError(f"format must be csv or parquet, not {self.format!r}")
        for name in ("objection_rate", "missing_nhs_rate", "invalid_nhs_rate"):
            if not 0 <= getattr(self, name) <= 0.5:
                raise ValueError(f"{name} must be between 0 and 0.5")


@dataclass(frozen=True)
class RegionSummary:
    directory: Path
    people: int
    practices: list[str]
    files: int
    faults: int


def generate_region(
    directory: Path, options: RegionOptions, progress: Callable[[str], None] = lambda _: None
) -> RegionSummary:
    """Write a whole region into `directory` (which must be new or empty). The same options
    give byte-identical files, except the practices' key pairs, which are fresh each time as
    a practice's own keys would be."""
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise FileExistsError(f"{directory} is not empty: give a new directory for the region")
    rng = np.random.default_rng(options.seed)
    timeline = Timeline(options.end, options.months)
    end = day_number(timeline.end)

    progress("people, conditions and outcomes")
    practices = make_practices(rng, options.practices)
    people = make_people(rng, options.people, timeline, practices)
    onset = onset_dates(rng, people, end, survivor_boost(options.seed, people, timeline))
    deficits = extra_deficits(rng, people, end)
    outcomes = simulate(rng, people, onset, deficits, timeline)
    frailty = frailty_category(onset, deficits, end)
    region = activity.Region(
        people,
        onset,
        deficits,
        frailty,
        day_number(timeline.start),
        end,
        practices,
        TRUSTS,
        COMMUNITY_PROVIDER,
        LOCAL_AUTHORITY,
        DEATHS_PROVIDER,
        options.objection_rate,
    )
    codes = practices["ods_code"].to_numpy()
    writer = ExtractWriter(
        directory,
        timeline,
        dict(zip(codes, practices["flavour"], strict=True)),
        codes[people["practice"].to_numpy()],
    )
    objections, flags = [], []
    # The eFI as each person's record gives it at the end date (with polypharmacy), filled in
    # chunk by chunk: what truth/people says and what the analytics should find.
    recorded = np.zeros(options.people, dtype=np.int16)
    # The indicators' signals draw from a stream of their own: the rest of the region is the
    # same with or without them.
    signal_rng = np.random.default_rng((options.seed, 25))
    # So do the published layouts' own details (episodes, telephone appointments, ...).
    layout_rng = np.random.default_rng((options.seed, 21))
    for lo in range(0, options.people, CHUNK):
        chunk = np.arange(lo, min(lo + CHUNK, options.people))
        progress(f"extracts for people {lo + 1:,} to {chunk[-1] + 1:,}")
        objected, flagged = _write_chunk(
            rng,
            signal_rng,
            layout_rng,
            region,
            writer,
            chunk,
            outcomes,
            options,
            timeline,
            recorded,
        )
        objections.append(objected)
        flags.append(flagged)

    progress("faults, truth, keys and programme.toml")
    injected = faults.inject(
        directory,
        writer,
        practices,
        TRUSTS,
        timeline.monthly_period,
        timeline.baseline_period,
        allow_column_faults=options.format == "csv",
        real=options.layouts == "real",
    )
    records = writer.records()
    if options.format == "parquet":
        renamed = dict(
            zip(writer.written, convert_to_parquet(directory, list(writer.written)), strict=True)
        )
        injected = [faults.Fault(renamed[f.file], f.row, f.kind, f.field) for f in injected]
        records = records.set_column(0, "file", pc.cast(records["file"], pa.string()))
        records = records.set_column(
            0, "file", pc.replace_substring_regex(records["file"], r"\.csv$", ".parquet")
        )
    person, day, code = (np.concatenate(parts) for parts in zip(*objections, strict=True))
    truth.write(
        directory / "truth",
        {
            "people": truth.people_table(people, onset, recorded, category(recorded), practices),
            "records": records,
            "risk": pa.Table.from_pandas(outcomes.risk, preserve_index=False),
            "objections": truth.objections_table(person, day, code),
            "indicators": truth.indicators_table(pd.concat(flags, ignore_index=True), timeline),
        },
        injected,
    )
    for code_ in codes:
        generate_keypair(directory / "practices" / code_)
    providers = {
        "apc": TRUSTS,
        "ecds": TRUSTS,
        "opa": TRUSTS,
        "community": [COMMUNITY_PROVIDER],
        "socialcare": [LOCAL_AUTHORITY],
        "deaths": [DEATHS_PROVIDER],
    }
    (directory / "programme.toml").write_text(
        programme_toml(
            list(codes),
            providers,
            timeline.end,
            options.format,
            published.REAL if options.layouts == "real" else {},
        ),
        encoding="utf-8",
    )
    return RegionSummary(directory, options.people, list(codes), len(writer.written), len(injected))


def _write_chunk(
    rng, signal_rng, layout_rng, region, writer, chunk, outcomes, options, timeline, recorded
):
    """Write one chunk of people's rows into every extract; return their objection codes and
    the indicators' truth for them; fill in their eFI deficits as recorded (`recorded`)."""
    people = region.people
    for day in (day_number(timeline.baseline_end), region.end):
        patients, registrations = snapshots(rng, people, chunk, day, region.practices)
        writer.write(TABLES["patients"], patients)
        writer.write(TABLES["registrations"], registrations)
    _practice_lists(writer, patients, region.practices["ods_code"])
    events = activity.events(rng, region, chunk)
    deficit_events = activity.deficits(rng, region, chunk)
    medications = activity.medications(rng, region, chunk)
    signal_events, signal_medications = signals.generate(signal_rng, region, chunk)
    medications = pd.concat([medications, signal_medications], ignore_index=True)
    year_ago = day_number(add_months(timeline.end, -12))
    recorded[chunk] = activity.recorded_deficits(
        region, chunk, signal_events, medications, year_ago
    )
    frailty_events = activity.frailty_codes(rng, region, chunk, category(recorded))
    events = pd.concat([events, deficit_events, signal_events, frailty_events], ignore_index=True)
    writer.write(TABLES["events"], events)
    writer.write(TABLES["medications"], medications)
    writer.write(TABLES["consultations"], activity.consultations(rng, region, chunk))
    objections = activity.objections(rng, region, chunk)
    writer.write(TABLES["objections"], objections)

    spells = activity.admitted_care(
        rng, region, chunk, outcomes.admission_person, outcomes.admission_day
    )
    secondary = {
        "apc": spells,
        "ecds": activity.emergency_care(rng, region, chunk, spells),
        "opa": activity.outpatients(rng, region, chunk),
        "community": activity.community(rng, region, chunk),
        "socialcare": activity.social_care(rng, region, chunk),
        "deaths": activity.deaths(rng, region, chunk, spells),
    }
    for name, frame in secondary.items():
        recorded = as_recorded(
            rng,
            people,
            frame["person"].to_numpy(),
            frame["day"].to_numpy(),
            options.missing_nhs_rate,
            options.invalid_nhs_rate,
            IDENTITY_NOISE[options.identity_noise],
        )
        if options.layouts == "real" and name in published.REAL:
            published.write(writer, layout_rng, name, frame, recorded)
        else:
            writer.write(TABLES[name], frame, recorded)
    _provider_lists(writer, people, [f for n, f in secondary.items() if TABLES[n].local_id])
    flags = indicator_truth.truth(
        region, chunk, events, medications, secondary["ecds"], secondary["apc"]
    )
    objected = (
        objections["person"].to_numpy(),
        objections["day"].to_numpy(),
        objections["snomed_code"].to_numpy(),
    )
    return objected, flags


def _provider_lists(writer: ExtractWriter, people: pd.DataFrame, frames) -> None:
    """DIR/providers/<ODS>/patients.csv: a hospital or community provider's own patient index,
    everyone with a record there (its local patient id and the identity it holds), the list
    it re-identifies its cohort lists with."""
    seen = pd.concat([f[["provider", "person"]] for f in frames], ignore_index=True)
    seen = seen.drop_duplicates().sort_values(["provider", "person"], kind="stable")
    for code, mine in seen.groupby("provider", sort=True):
        person = mine["person"].to_numpy()
        table = pa.table(
            {
                LOCAL_ID: local_patient_ids(person, np.full(len(person), code, dtype=object)),
                "nhs_number": pa.array(people["nhs_number"].to_numpy()[person]).cast(pa.string()),
                "given_name": pa.array(people["given_name"].to_numpy()[person], pa.string()),
                "family_name": pa.array(people["family_name"].to_numpy()[person], pa.string()),
                "date_of_birth": pa.array(
                    people["date_of_birth"].to_numpy()[person].astype(np.int32)
                )
                .cast(pa.date32())
                .cast(pa.string()),
            }
        )
        path = writer.root / "providers" / str(code) / "patients.csv"
        append_csv(path, table, new=not path.exists())


def _practice_lists(writer: ExtractWriter, patients, codes) -> None:
    """DIR/practices/<ODS>/patients.csv: the list a practice re-identifies cohort lists with."""
    columns = ["patient_ref", "nhs_number", "given_name", "family_name", "date_of_birth"]
    for code in codes:
        mine = patients[patients["provider"] == code]
        table = writer.plain_table(TABLES["patients"], mine, columns)
        path = writer.root / "practices" / code / "patients.csv"
        append_csv(path, table, new=not path.exists())
