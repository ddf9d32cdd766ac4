"""Features for the risk model, as at a reference date, from data on or before it only.

Reads zone 3. The registers, scores and segment come from the analytics build itself
(`openphm.analytics.build`), run at the reference date into a scratch catalogue that lives in
memory and is never written to the zone file (the engine's scratch space), so a feature means what
the same name means in analytics. Activity windows and medicines are counted here.

Leakage is the error that flatters a risk model most, so the rule is structural: every date
filter below ends at the reference date, and tests/risk/test_leakage.py plants events after it
and checks that no feature moves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import pandas as pd

from openphm.analytics import MEASURES, REGISTERS, AnalyticsOptions, build
from openphm.analytics.population import distinct_drugs
from openphm.analytics.registers import register_flags
from openphm.analytics.runs import INPUTS, current_build
from openphm.analytics.zone import Zone, date_literal, months_before
from openphm.risk.store import SOURCE

# The per-person tables only: the features read nothing else, and a build thrown away has no
# use for measures, their history, the months' activity or the pages' figures.
FEATURE_BUILD = AnalyticsOptions(
    measures=MEASURES[:1], groupings=(), sii_simulations=10, person_tables_only=True
)
# A person with no emergency admission in the year reads as this many days since one.
NO_RECENT_ADMISSION_DAYS = 366
# The analytics tables `features_over` reads.
ANALYTICS_READ = ("analytics_population", "person_scores", "person_segments", "person_registers")


@dataclass(frozen=True)
class Feature:
    """A model input, and how a clinician reads it when it drives someone's score."""

    name: str
    label: str


@dataclass(frozen=True)
class Window:
    """Events of one kind counted in the `months` before the reference date (inclusive)."""

    name: str
    label: str
    table: str
    date_column: str
    months: int
    where: str | None = None  # a boolean column of `table` the event must have


WINDOWS: tuple[Window, ...] = (
    Window(
        "emergency_admissions_3m",
        "emergency admissions, last 3 months",
        "apc_spells",
        "admission_date",
        3,
        "emergency",
    ),
    Window(
        "emergency_admissions_12m",
        "emergency admissions, last 12 months",
        "apc_spells",
        "admission_date",
        12,
        "emergency",
    ),
    Window(
        "elective_admissions_12m",
        "elective admissions, last 12 months",
        "apc_spells",
        "admission_date",
        12,
        "elective",
    ),
    Window(
        "ec_attendances_3m", "A&E attendances, last 3 months", "ec_attendances", "arrival_date", 3
    ),
    Window(
        "ec_attendances_12m",
        "A&E attendances, last 12 months",
        "ec_attendances",
        "arrival_date",
        12,
    ),
    Window(
        "gp_consultations_3m",
        "GP consultations, last 3 months",
        "consultations",
        "consultation_date",
        3,
    ),
    Window(
        "gp_consultations_12m",
        "GP consultations, last 12 months",
        "consultations",
        "consultation_date",
        12,
    ),
    Window(
        "outpatient_attendances_12m",
        "outpatient attendances, last 12 months",
        "op_appointments",
        "appointment_date",
        12,
        "attended",
    ),
    Window(
        "community_contacts_12m",
        "community contacts, last 12 months",
        "community_contacts",
        "contact_date",
        12,
    ),
)

FEATURES: tuple[Feature, ...] = (
    Feature("age", "age"),
    Feature("sex_female", "sex"),
    Feature("imd_decile", "deprivation (IMD decile)"),
    *(Feature(f"reg_{r.name}", f"{r.label} register") for r in REGISTERS),
    Feature("ltc_count", "number of long-term conditions"),
    Feature("cms", "Cambridge Multimorbidity Score"),
    Feature("efi", "electronic Frailty Index"),
    Feature("hfrs", "Hospital Frailty Risk Score"),
    Feature("charlson", "Charlson comorbidity index"),
    Feature("elixhauser", "Elixhauser comorbidity index"),
    Feature("segment_order", "population segment"),
    *(Feature(w.name, w.label) for w in WINDOWS),
    Feature("days_since_emergency_admission", "recent emergency admission"),
    Feature("social_care_open", "receiving social care"),
    Feature("drugs_12m", "number of different medicines, last 12 months"),
)
FEATURE_NAMES = tuple(f.name for f in FEATURES)
LABELS = {f.name: f.label for f in FEATURES}
# Carried beside the features for per-group metrics and cohorts; never model inputs.
DESCRIPTIVE = (
    "pseudonym",
    "practice",
    "sex",
    "age_band",
    "ethnic_group",
    "imd_quintile",
    "segment",
)


def feature_frame(con, reference_date: dt.date, *, source: str = SOURCE) -> pd.DataFrame:
    """One row per person registered and alive at the end of `reference_date`: DESCRIPTIVE
    columns then FEATURE_NAMES. `con` has the linked zone attached as `source`.

    The analytics under the features are the zone's own when its build is current at
    `reference_date` (`analytics.runs`: a scoring after `phm analyse` at the same date), and
    are built into the scratch catalogue otherwise."""
    built = current_build(con, reference_date, FEATURE_BUILD, source)
    return feature_frame_on(con, reference_date, built=built, source=source)


def feature_frame_on(zone, reference_date: dt.date, *, built: bool = False,
                     source: str = SOURCE) -> pd.DataFrame:  # fmt: skip
    """`feature_frame` on whichever engine `zone` is open on: a DuckDB connection with the zone
    attached as `source`, or the zone an engine gave (`Engine.alongside`: Spark's copy). The
    analytics at `reference_date` are built into the engine's scratch space
    (`Engine.scratch`: an in-memory catalogue, or the session's views), never the zone's own
    tables; tests/spark compares the two engines' frames. `built`: the zone's own analytics
    are current at `reference_date` (checked on the zone file), and are read as they are."""
    from openphm.engine import engine_of

    tables = (*INPUTS, *(ANALYTICS_READ if built else ()))
    with engine_of(zone).scratch(zone, tables, source=source) as scratch:
        if not built:
            build(scratch, reference_date, FEATURE_BUILD)
        return features_over(Zone.over(scratch), reference_date)


def features_over(zone: Zone, reference_date: dt.date) -> pd.DataFrame:
    """The frame, from a zone whose analytics tables were built at `reference_date`."""
    pop = zone.table("analytics_population")
    pop = pop.filter(pop.in_reference_population)
    t = (
        pop.select(
            "pseudonym", "practice", "sex", "age_band", "ethnic_group", "imd_quintile", "imd_decile"
        )
        .left_join(zone.table("person_scores"), "pseudonym")
        .drop("pseudonym_right")
        .left_join(zone.table("person_segments"), "pseudonym")
        .drop("pseudonym_right")
        .left_join(register_flags(zone.table("person_registers"), REGISTERS), "pseudonym")
        .drop("pseudonym_right", "ltc_count_right")
    )
    for part in (
        *_window_counts(zone, reference_date),
        _medicines(zone, reference_date),
        _social_care(zone, reference_date),
    ):
        t = t.left_join(part, "pseudonym").drop("pseudonym_right")
    numbers = {name: _as_number(t, name) for name in FEATURE_NAMES if name not in _IN_PANDAS}
    # Through Arrow: Ibis's own to_pandas turns every column holding a null into Python
    # objects one value at a time (to_pylist), and the left joins give nulls in most columns;
    # dates too, unless kept as datetime64.
    frame = (
        t.select(*DESCRIPTIVE, "last_emergency_admission", **numbers)
        .order_by("pseudonym")
        .to_pyarrow()
        .to_pandas(date_as_object=False)
    )
    last = pd.to_datetime(frame.pop("last_emergency_admission"))
    days = (pd.Timestamp(reference_date) - last).dt.days
    frame["days_since_emergency_admission"] = days.fillna(NO_RECENT_ADMISSION_DAYS).astype(
        "float64"
    )
    return frame.loc[:, [*DESCRIPTIVE, *FEATURE_NAMES]]


# Worked out in pandas: each engine writes a difference of dates in days its own way.
_IN_PANDAS = ("days_since_emergency_admission",)


def _as_number(t, name: str):
    """A feature as a float, with the documented meaning of an absent row: zero (no event,
    not on the register), except sex and IMD decile, which stay missing when unknown. Made
    by the engine in the query that joins the parts: in pandas, column by column, it took a
    second a frame at 1M people. Register flags leave as numbers too: a boolean column
    holding nulls (the left join's people on no register) becomes Python objects in pandas."""
    if name == "sex_female":
        return ibis.cases((t.sex == "F", 1.0), (t.sex == "M", 0.0), else_=ibis.null("float64"))
    number = t[name].cast("float64")
    return number if name == "imd_decile" else number.fill_null(0)


def _window_counts(zone: Zone, reference_date: dt.date):
    """One aggregate per event table, a conditional count per window, plus days since the
    last emergency admission in the year."""
    ref = date_literal(reference_date)
    by_table: dict[tuple[str, str], list[Window]] = {}
    for w in WINDOWS:
        by_table.setdefault((w.table, w.date_column), []).append(w)
    for (table, column), windows in by_table.items():
        events = zone.table(table)
        since = months_before(reference_date, max(w.months for w in windows))
        events = events.filter(events[column].between(date_literal(since), ref))
        counts = {}
        for w in windows:
            inside = events[column] >= date_literal(months_before(reference_date, w.months))
            if w.where:
                inside = inside & events[w.where].fill_null(False)
            counts[w.name] = events.count(where=inside).cast("int32")
        if table == "apc_spells":
            last = events[column].max(where=events.emergency.fill_null(False))
            counts["last_emergency_admission"] = last
        yield events.group_by("pseudonym").agg(**counts)


def _medicines(zone: Zone, reference_date: dt.date):
    drugs = distinct_drugs(zone, reference_date, months_before(reference_date, 12))
    return drugs.select("pseudonym", drugs_12m=drugs.drugs.cast("int32"))


def _social_care(zone: Zone, reference_date: dt.date):
    # An end date after the reference date was not known then: such a service was open.
    services = zone.table("social_care_services")
    ref = date_literal(reference_date)
    open_at = (services.service_start <= ref) & (
        services.service_end.isnull() | (services.service_end >= ref)
    )
    return (
        services.filter(open_at)
        .select("pseudonym")
        .distinct()
        .mutate(social_care_open=ibis.literal(1).cast("int8"))
    )
