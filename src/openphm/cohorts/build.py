"""Compile a cohort definition to one query over the linked zone, and write its lists.

Reads zone 3: people (token, practice), analytics_population, person_scores, person_segments,
person_activity, person_registers, person_risk and person_risk_features (members' drivers are
explained here: risk.explain). Writes zone 3 linked.cohort_members (who is in which cohort, for
evaluation) and zone 4 outputs/cohorts/<ODS>/<name>.csv.
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import operator
from dataclasses import dataclass
from pathlib import Path

import ibis
import pandas as pd

from openphm import clock
from openphm.analytics import REGISTERS
from openphm.analytics.registers import register_flags
from openphm.analytics.zone import Zone, memtable
from openphm.cohorts.definition import CRITERIA, INDICATOR_NAMES, CohortDefinition
from openphm.cohorts.words import (
    PERSON_COLUMNS,
    PERSON_WORDS,
    PURPOSE_WORDS,
    SEGMENT_WORDS,
    criteria_words,
    date_words,
    organisation_name,
)
from openphm.errors import UserFacingError
from openphm.indicators.build import PERSON_INDICATORS
from openphm.risk import explain

MEMBERS = "cohort_members"
LIST_FOLDER = "cohorts"
# The columns of a cohort list, in order. Nothing else is ever written to one.
LIST_COLUMNS = ("token", "risk_score", "risk_percentile", "segment", "main_drivers", "reasons")
MAKE_UP = ("practice", "age_band", "sex", "imd_quintile", "segment")
LIST_FOR = "list_for"  # members' column: whose list a member is on (practice or provider)
# Where each activity table records its provider and its date (a provider's list: people seen
# at the provider in the window).
PROVIDER_ACTIVITY = (
    ("apc_spells", "admission_date"),
    ("ec_attendances", "arrival_date"),
    ("op_appointments", "appointment_date"),
    ("community_contacts", "contact_date"),
)
PROVIDER_REFS = "_provider_refs"  # pseudonymise.hospital: the providers' sealed tokens


class CohortError(UserFacingError):
    """A cohort that cannot be built yet; the message says which step to run."""


@dataclass
class BuiltCohort:
    definition: CohortDefinition
    members: pd.DataFrame  # zone 3 only: holds pseudonyms
    analytics_date: dt.date
    risk_date: dt.date
    without_token: int  # members whose practice (or provider) has no token for them
    window_start: dt.date | None = None  # the analytics window a provider's list is seen in

    def per_practice(self) -> dict[str, int]:
        """People listed per list: per practice, or the one provider's."""
        listed = self.members[self.members["token"].notna()]
        return {str(k): int(v) for k, v in listed.groupby(list_for(listed)).size().items()}


def list_for(members: pd.DataFrame) -> pd.Series:
    """Whose list each member is on: the provider's (LIST_FOR) or else their practice's."""
    return members[LIST_FOR] if LIST_FOR in members else members["practice"]


def person_frame(zone: Zone):
    """One row per person scored in person_risk and in the analytics reference population,
    with every column a criterion reads."""
    for name, step in (
        ("person_risk", "phm risk score"),
        (explain.FEATURES, "phm risk score"),
        ("analytics_population", "phm analyse"),
        ("person_scores", "phm analyse"),
        ("person_segments", "phm analyse"),
        # Absent after a build that failed part way (analytics.runs): its tables may be mixed.
        ("analytics_runs", "phm analyse"),
    ):
        if name not in zone.tables():
            raise CohortError(f"the linked zone has no {name} yet: run {step} first")
    risk = zone.table("person_risk")
    people = zone.table("people").select("pseudonym", "token", "practice")
    pop = zone.table("analytics_population")
    pop = pop.filter(pop.in_reference_population).select(
        "pseudonym", "age", "sex", "age_band", "imd_quintile"
    )
    flags = register_flags(zone.table("person_registers"), REGISTERS).drop("ltc_count")
    t = (
        risk.join(people, "pseudonym")
        .join(pop, "pseudonym")
        .left_join(
            zone.table("person_scores").select("pseudonym", "ltc_count", "efi_category"),
            "pseudonym",
        )
        .drop("pseudonym_right")
        .left_join(zone.table("person_segments").select("pseudonym", "segment"), "pseudonym")
        .drop("pseudonym_right")
        .left_join(
            zone.table("person_activity").select(
                "pseudonym", "emergency_admissions", "ec_attendances"
            ),
            "pseudonym",
        )
        .drop("pseudonym_right")
        .left_join(flags, "pseudonym")
        .drop("pseudonym_right")
    )
    t = _with_indicator_flags(zone, t)
    filled = {f"reg_{r.name}": t[f"reg_{r.name}"].fill_null(False) for r in REGISTERS}
    for column in ("ltc_count", "emergency_admissions", "ec_attendances"):
        filled[column] = t[column].fill_null(0)
    filled["rising_percentile"] = t.rising_percentile.fill_null(0)
    return t.mutate(**filled)


def _with_indicator_flags(zone: Zone, t):
    """ind_<name> per indicator: flagged at the latest `phm indicators` (false without one)."""
    if PERSON_INDICATORS not in zone.tables():
        return t.mutate(**{f"ind_{n}": ibis.literal(False) for n in INDICATOR_NAMES})
    flags = zone.table(PERSON_INDICATORS)
    per_person = flags.group_by("pseudonym").agg(
        **{f"ind_{n}": (flags.indicator == n).any() for n in INDICATOR_NAMES}
    )
    t = t.left_join(per_person, "pseudonym").drop("pseudonym_right")
    return t.mutate(**{f"ind_{n}": t[f"ind_{n}"].fill_null(False) for n in INDICATOR_NAMES})


def _check_indicator_purposes(zone: Zone, definition: CohortDefinition) -> None:
    """A cohort that selects by indicator must be for the purpose those flags were built for
    (P6): a safety-monitoring flag does not become a prevention list."""
    if not definition.indicators:
        return
    if PERSON_INDICATORS not in zone.tables():
        raise CohortError("the linked zone has no person_indicators yet: run phm indicators first")
    flags = zone.table(PERSON_INDICATORS)
    built = flags.filter(flags.indicator.isin(list(definition.indicators)))
    purposes = built.select("indicator", "purpose").distinct().to_pandas()
    wrong = purposes[purposes["purpose"] != definition.purpose.value]
    if len(wrong):
        raise CohortError(
            f"indicator(s) {', '.join(sorted(wrong['indicator']))} were built for "
            f"{', '.join(sorted(set(wrong['purpose'])))}, not {definition.purpose.value}: give "
            "the cohort the purpose its indicators serve"
        )


def _indicator_reasons(zone: Zone, members: pd.DataFrame, names) -> dict[str, str]:
    """pseudonym -> each of `names` that flags the member, as its reason and due date."""
    if not names or not len(members):
        return {}
    flags = zone.table(PERSON_INDICATORS)
    rows = (
        flags.filter(flags.indicator.isin(list(names)))
        .select("pseudonym", "indicator", "reason", "due_date")
        .to_pandas()
    )
    rows = rows[rows["pseudonym"].isin(set(members["pseudonym"]))]
    order = {n: i for i, n in enumerate(names)}
    rows = rows.assign(order=rows["indicator"].map(order)).sort_values(["pseudonym", "order"])
    due = pd.to_datetime(rows["due_date"]).map(date_words)
    text = rows["reason"] + " (due " + due + ")"
    return text.groupby(rows["pseudonym"]).agg("; ".join).to_dict()


def seen_at_provider(zone: Zone, provider: str, start: dt.date, end: dt.date):
    """(pseudonym, provider_token): each person with activity at `provider` from `start` to
    `end` (admissions, A&E attendances, outpatient appointments, community contacts), with the
    token sealed to the provider for them, if any (one per person: the provider's first local
    id for them in `_provider_refs`' order)."""
    seen = None
    for table, date in PROVIDER_ACTIVITY:
        if table not in zone.tables():
            continue
        t = zone.table(table)
        rows = t.filter((t.provider == provider) & t[date].between(start, end)).select("pseudonym")
        seen = rows if seen is None else seen.union(rows, distinct=True)
    if seen is None:
        raise CohortError("the linked zone holds no hospital activity yet: run phm link first")
    seen = seen.distinct()
    if PROVIDER_REFS not in zone.tables():
        return seen.mutate(provider_token=ibis.null(str))
    refs = zone.table(PROVIDER_REFS)
    refs = refs.filter((refs.provider == provider) & refs.token.notnull())
    tokens = refs.group_by("pseudonym").agg(provider_token=refs.token.argmin(refs.ref_pseudonym))
    return seen.left_join(tokens, "pseudonym").drop("pseudonym_right")


def build_cohort(con_or_backend, definition: CohortDefinition) -> BuiltCohort:
    zone = Zone.over(con_or_backend)
    _check_indicator_purposes(zone, definition)
    p = person_frame(zone)
    met = {f"met_{k}": CRITERIA[k].rule(p, v) for k, v in definition.criteria().items()}
    combine = operator.and_ if definition.match == "all" else operator.or_
    selected = p.mutate(**met).filter(functools.reduce(combine, met.values()))
    run = zone.table("analytics_runs").to_pandas().iloc[-1]
    window_start = pd.Timestamp(run["window_start"]).date()
    if definition.provider:
        # The provider's list: only people it saw in the window, each with its token.
        at = seen_at_provider(
            zone, definition.provider, window_start, pd.Timestamp(run["reference_date"]).date()
        )
        selected = selected.join(at, "pseudonym")
        selected = selected.mutate(token=selected.provider_token)
    members = (
        selected.select(
            "pseudonym",
            "token",
            "practice",
            "risk",
            "risk_percentile",
            "segment",
            "age_band",
            "sex",
            "imd_quintile",
            "reference_date",
            # What the reasons give in words: the person's own counts and categories.
            "ltc_count",
            "emergency_admissions",
            "ec_attendances",
            "efi_category",
            *(f"reg_{r}" for r in definition.registers or ()),
            *met,
        )
        .left_join(explain.feature_columns(zone), "pseudonym")
        .drop("pseudonym_right")
        .order_by(["practice", ibis.desc("risk"), "pseudonym"])
        .to_pandas()
    )
    # Explained here, for the members only (risk.explain says why).
    members = explain.drivers(zone, members)
    flagged = _indicator_reasons(zone, members, definition.indicators)
    members["reasons"] = _reasons(members, definition, flagged)
    members[LIST_FOR] = definition.provider or members["practice"]
    risk_date = zone.table("person_risk").reference_date.max().to_pandas()
    return BuiltCohort(
        definition,
        members,
        pd.Timestamp(run["reference_date"]).date(),
        pd.Timestamp(risk_date).date(),
        int(members["token"].isna().sum()),
        window_start,
    )


def _reasons(
    members: pd.DataFrame, definition: CohortDefinition, flagged: dict[str, str] | None = None
) -> list[str]:
    """Each member's criteria met, in words and in definition order ("; "-separated), with the
    member's own counts and categories where a criterion has them ("2 emergency admissions in
    12 months", "frailty: moderate"; cohorts.words). A criterion on a missing value (no IMD
    decile, no earlier score) counts as not met. For `indicators`, the member's own reasons and
    due dates (`flagged`, by pseudonym) stand in for the criterion."""
    criteria = definition.criteria()
    keys = list(criteria)
    met = members[[f"met_{k}" for k in keys]].fillna(False).astype(bool).to_numpy()
    flagged = flagged or {}
    # Only the columns the words read (PERSON_WORDS): a row of every column, features and
    # drivers included, took 0.8 s for 42,000 members at a million people.
    read = [c for c in members.columns if c in PERSON_COLUMNS or c.startswith(("reg_", "ind_"))]
    out = []
    for person, row in zip(members[read].to_dict("records"), met, strict=True):
        parts = [
            flagged.get(person["pseudonym"]) or PERSON_WORDS[k](criteria[k], person)
            if k == "indicators"
            else PERSON_WORDS[k](criteria[k], person)
            for k, m in zip(keys, row, strict=True)
            if m
        ]
        out.append("; ".join(parts))
    return out


def list_rows(members: pd.DataFrame) -> pd.DataFrame:
    """A practice's list: LIST_COLUMNS only."""
    # Joined row by row over plain lists: a pandas apply per row took 0.5 s over a million
    # people's hundred lists.
    drivers = pd.Series(
        [
            "; ".join(x for x in row if isinstance(x, str))
            for row in zip(
                members["driver_1"], members["driver_2"], members["driver_3"], strict=True
            )
        ],
        index=members.index,
        dtype="object" if len(members) else "string",
    )
    return pd.DataFrame(
        {
            "token": members["token"],
            "risk_score": members["risk"].round(3),
            "risk_percentile": members["risk_percentile"].round(1),
            "segment": members["segment"].map(SEGMENT_WORDS),
            "main_drivers": drivers,
            "reasons": members["reasons"],
        }
    ).loc[:, list(LIST_COLUMNS)]


def list_about(built: BuiltCohort, ods: str, people: int, name: str = "") -> dict:
    """What a practice (or provider) reads about one of its lists (its page, the head of the
    CSV it downloads): whose list, for what, who is on it, how many, when and from which data.
    Counts and words only: nothing about any person."""
    definition = built.definition
    scope = {}
    if definition.provider:
        where = f"{name} ({ods})" if name else ods
        start, end = built.window_start, built.analytics_date
        scope = {
            "organisation": "provider",
            "seen_from": start.isoformat() if start else None,
            "scope": f"people seen at {where} between {date_words(start)} and {date_words(end)}"
            if start
            else f"people seen at {where}",
        }
    return {
        **scope,
        "cohort": definition.name,
        "description": definition.description,
        "purpose": definition.purpose.value,
        "purpose_words": PURPOSE_WORDS[definition.purpose],
        "match": definition.match,
        "criteria": criteria_words(definition.criteria()),
        "practice": ods,
        "practice_name": name,
        "people": people,
        "made": clock.now().isoformat(timespec="seconds"),
        "data_as_at": built.analytics_date.isoformat(),
        "risk_as_at": built.risk_date.isoformat(),
    }


def write_lists(outputs: Path, built: BuiltCohort, config=None) -> dict[str, Path]:
    """One CSV per practice with members, at outputs/cohorts/<ODS>/<name>.csv (replacing the
    practice's earlier list of the same name), and beside it <name>.json, what the list is
    (`list_about`; the practice's name from `config`, programme.toml, when given). Members
    without a token are not listed."""
    listed = built.members[built.members["token"].notna()]
    paths = {}
    for ods, part in listed.groupby(list_for(listed), sort=True):
        folder = Path(outputs) / LIST_FOLDER / str(ods)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{built.definition.name}.csv"
        name = organisation_name(config, str(ods)) if config is not None else ""
        about = path.with_suffix(".json")
        staging = about.with_suffix(".json.tmp")
        staging.write_text(json.dumps(list_about(built, str(ods), len(part), name), indent=1))
        staging.replace(about)
        staging = path.with_suffix(".csv.tmp")
        list_rows(part).to_csv(staging, index=False, quoting=csv.QUOTE_MINIMAL)
        staging.replace(path)  # a practice never downloads half a list
        paths[str(ods)] = path
    return paths


def save_members(con_or_backend, built: BuiltCohort) -> None:
    """Record who is in the cohort (zone 3), replacing an earlier build of the same name."""
    zone = Zone.over(con_or_backend)
    rows = pd.DataFrame(
        {
            "cohort": built.definition.name,
            "built_at": clock.now().replace(tzinfo=None),
            "reference_date": built.risk_date,
            "pseudonym": built.members["pseudonym"],
        }
    )
    new = memtable(rows)
    if MEMBERS in zone.tables():
        kept = zone.table(MEMBERS)
        kept = kept.filter(kept.cohort != built.definition.name)
        new = kept.union(new.cast(kept.schema()), distinct=False)
        new = memtable(new.to_pandas())  # materialise before replacing the table it reads
    zone.write(MEMBERS, new)


def make_up(built: BuiltCohort, rules) -> dict[str, pd.DataFrame]:
    """The cohort's size by each of MAKE_UP, disclosure-controlled, with a total."""
    from openphm.disclosure import control_table

    out = {}
    for column in MAKE_UP:
        cells = (
            built.members.assign(
                **{column: built.members[column].astype("string").fillna("Unknown")}
            )
            .groupby(column)
            .size()
            .rename("people")
            .reset_index()
        )
        out[column] = control_table(
            cells, groups=[column], counts=["people"], totals_over=[column], rules=rules
        ).table
    return out


def build_on_engine(ws, engine, definition: CohortDefinition) -> BuiltCohort:
    """Build the cohort on `engine` (an engine, its name, or None: the programme's), reading
    zone 3 as the engine opens it: the zone file read-only, or a copy deleted afterwards (as
    `phm analyse` does, analytics.commands.build_on_engine); its members are the same on every
    engine (tests/spark/test_analytics_differential.py)."""
    from openphm.engine import engine_for

    with engine_for(ws, engine).reading(ws) as zone:
        return build_cohort(zone, definition)


def without_objectors(con, built: BuiltCohort) -> int:
    """Drop members whose pseudonym is in the objectors' register now (promise P7): between the
    build (on a read-only connection, or on Spark's copy of the zone) and this write, `phm
    link` may have applied a new objection, and the list must not name that person. Returns
    how many were dropped (a count only)."""
    from openphm.linked.objectors import has_register, objecting

    if not has_register(con):
        return 0
    con.register("_members", built.members[["pseudonym"]])
    try:
        objected = {
            row[0]
            for row in con.execute(f"SELECT pseudonym FROM _members WHERE {objecting()}").fetchall()
        }
    finally:
        con.unregister("_members")
    if objected:
        kept = ~built.members["pseudonym"].isin(objected)
        built.members = built.members[kept].reset_index(drop=True)
        built.without_token = int(built.members["token"].isna().sum())
    return len(objected)


def run_cohort(
    ws, actor, definition: CohortDefinition, engine=None, by: str = ""
) -> tuple[BuiltCohort, dict[str, Path]]:
    """Build a cohort on `engine` (an engine, its name, or None: the programme's), keep its
    members in the linked zone, write one list per practice to the outputs zone and audit it
    (cohort.build, with its purpose and sizes per practice). The one way a cohort is run, from
    the command line or the web. The caller authorises. A definition for a provider writes one
    list, the provider's. `by` says on whose behalf, when not the actor's own command (the
    scheduled refresh)."""
    from openphm.engine import engine_for

    providers = ws.config.list_providers()
    if definition.provider and definition.provider not in providers:
        raise CohortError(
            f"provider {definition.provider!r} is not one of this programme's hospital or "
            f"community providers ({', '.join(providers) or 'none'}): a list goes only to an "
            "organisation that sends the programme its extracts"
        )
    engine = engine_for(ws, engine)
    built = build_on_engine(ws, engine, definition)
    con = ws.connect_linked()
    try:
        con.execute("BEGIN")
        dropped = without_objectors(con, built)
        save_members(con, built)
        con.execute("COMMIT")
    finally:
        con.close()
    paths = write_lists(ws.zone("outputs"), built, ws.config)
    ws.audit.record(
        actor,
        "cohort.build",
        purpose=definition.purpose.value,
        reads=("linked",),
        writes=("linked.cohort_members", *(str(p.relative_to(ws.root)) for p in paths.values())),
        counts={
            "members": len(built.members),
            "without_token": built.without_token,
            "objected_since_built": dropped,
            **{f"listed_{ods}": n for ods, n in built.per_practice().items()},
        },
        reason=f"engine {engine}{by}",
    )
    return built, paths
