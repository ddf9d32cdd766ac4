"""Compile indicators to Ibis over the linked zone: one rule per criterion type.

Reads zone 3 (people, registrations, gp_events, medications, apc_spells, ec_attendances) through
`analytics.zone.Zone`, so the same code runs on DuckDB and on Spark. Writes nothing itself:
`indicators.build` writes what `evaluate` returns.

How: every criterion names the facts it needs (a first and last date of codes from some lists
in a window, a latest value, a register, a count of admissions...). Each fact is computed once,
in as few passes as possible (one aggregation over the coded prescriptions, one over the coded
GP events), and joined to the population into one person frame. A criterion then compiles to
two expressions over that frame: whether it holds, and since when. An indicator is those
expressions combined (definitions.Indicator says how).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import operator
from dataclasses import dataclass

import ibis
import pandas as pd

from openphm.analytics import population as analytics_population
from openphm.analytics import registers as analytics_registers
from openphm.analytics.activity import readmitted_spells
from openphm.analytics.codelists import Codelist
from openphm.analytics.definitions import REGISTERS
from openphm.analytics.zone import Zone, date_literal, memtable, months_before
from openphm.indicators import definitions as d

NULL_DATE = ibis.null("date")

# ----- facts: what criteria read, each computed once -----------------------------------------


@dataclass(frozen=True)
class Span:
    """Codes from `lists` in `source` ("medications" or "gp_events") dated in [start, end]:
    the first and last such date per person."""

    source: str
    lists: tuple[str, ...]
    start: dt.date | None
    end: dt.date


@dataclass(frozen=True)
class Latest:
    """The latest value of `lists` in [start, end] (the lowest that day) and its date."""

    lists: tuple[str, ...]
    start: dt.date | None
    end: dt.date


@dataclass(frozen=True)
class Readings:
    """Blood pressure readings in [start, end]: days with the lowest systolic and diastolic."""

    start: dt.date | None
    end: dt.date


@dataclass(frozen=True)
class Nth:
    """The date of the `n`-th event of a kind in [start, end]: emergency admissions (with a
    primary diagnosis in `lists` when given), attendances or readmissions."""

    kind: str
    start: dt.date | None
    end: dt.date
    n: int
    lists: tuple[str, ...] = ()


def window_bounds(window: d.Window, reference_date: dt.date) -> tuple[dt.date | None, dt.date]:
    end = (pd.Timestamp(reference_date) - pd.DateOffset(months=window.ends_months_before)).date()
    start = None if window.months is None else months_before(end, window.months)
    return start, end


def register(name: str) -> d.Criterion:
    """Analytics' register of this name, its GP lists only (QOF registers are the practice's)."""
    for r in REGISTERS:
        if r.name == name:
            return dataclasses.replace(r, hospital=())
    raise KeyError(f"no register {name!r}; registers: {', '.join(r.name for r in REGISTERS)}")


CHA2DS2_VASC_REGISTERS = (("heart_failure", 1), ("hypertension", 1), ("diabetes", 1),
                          ("stroke_tia", 2))  # fmt: skip
CHA2DS2_VASC_VASCULAR = ("chd", "peripheral_arterial_disease")


def registers_read(criterion) -> tuple[str, ...]:
    if isinstance(criterion, d.OnRegister):
        return (criterion.register,)
    if isinstance(criterion, d.Cha2ds2VascAtLeast):
        return (*(n for n, _ in CHA2DS2_VASC_REGISTERS), *CHA2DS2_VASC_VASCULAR)
    return ()


def lists_needed(indicator: d.Indicator) -> tuple[set[str], set[str]]:
    """(lists it cannot do without, lists it reads when present): its own code lists and its
    registers' diagnosis lists; registers' resolved lists are optional, as in analytics."""
    required = {cl.name for cl in indicator.codelists()}
    optional: set[str] = set()
    for c in indicator.criteria():
        for name in registers_read(c):
            r = register(name)
            required |= set(r.gp)
            optional |= set(r.resolved)
    return required, optional


# ----- the compiler ----------------------------------------------------------------------------


class Compiler:
    """Facts and expressions for a set of indicators at one reference date."""

    def __init__(self, zone: Zone, reference_date: dt.date, lists: dict[str, Codelist]):
        self.zone = zone
        self.ref = reference_date
        self.lists = lists
        self.spans: dict[Span, str] = {}
        self.latest: dict[Latest, str] = {}
        self.readings: dict[Readings, str] = {}
        self.nth: dict[Nth, str] = {}
        self.registers: set[str] = set()
        self.cha2ds2: set[int] = set()
        self.frame = None

    # -- naming the facts -------------------------------------------------------------------

    def _span(self, source: str, codes, window: d.Window) -> str:
        start, end = window_bounds(window, self.ref)
        key = Span(source, tuple(sorted(cl.name for cl in codes)), start, end)
        return self.spans.setdefault(key, f"s{len(self.spans)}")

    def _fact(self, table: dict, key) -> str:
        return table.setdefault(key, f"{type(key).__name__.lower()}{len(table)}")

    @functools.singledispatchmethod
    def need(self, c) -> None:
        raise TypeError(f"no compile rule for {type(c).__name__}")

    @need.register
    def _(self, c: d.Age):
        pass

    @need.register
    def _(self, c: d.Prescribed | d.NotPrescribed):
        self._span("medications", c.codes, c.window)
        if isinstance(c, d.NotPrescribed):
            self._span("medications", c.codes, d.Window(None, c.window.ends_months_before))

    @need.register
    def _(self, c: d.Continuing):
        self._span("medications", c.codes, c.earlier)
        self._span("medications", c.codes, c.recent)

    @need.register
    def _(self, c: d.Recorded):
        self._span("gp_events", c.codes, c.window)
        if c.resolved:
            self._span("gp_events", c.codes, d.EVER)
            self._span("gp_events", c.resolved, d.EVER)

    @need.register
    def _(self, c: d.NotRecorded):
        self._span("gp_events", c.codes, c.window)
        self._span("gp_events", c.codes, d.Window(None, c.window.ends_months_before))

    @need.register
    def _(self, c: d.OnRegister):
        self.registers.add(c.register)

    @need.register
    def _(self, c: d.LatestValue):
        self._fact(self.latest, Latest(self._names(c.codes), *window_bounds(c.window, self.ref)))

    @need.register
    def _(self, c: d.BloodPressureAboveTarget | d.RaisedBloodPressures):
        self._fact(self.readings, Readings(*window_bounds(c.window, self.ref)))
        if isinstance(c, d.RaisedBloodPressures):
            self._fact(self.nth, self._raised(c))

    @need.register
    def _(self, c: d.Cha2ds2VascAtLeast):
        self.registers |= set(registers_read(c))
        self.cha2ds2.add(c.score)

    @need.register
    def _(self, c: d.EmergencyAdmissions | d.EmergencyAttendances | d.Readmissions):
        self._fact(self.nth, self._nth_key(c))

    @need.register
    def _(self, c: d.AnyOf | d.AllOf):
        for member in c.criteria:
            self.need(member)

    @staticmethod
    def _names(codes) -> tuple[str, ...]:
        return tuple(sorted(cl.name for cl in codes))

    def _raised(self, c: d.RaisedBloodPressures) -> Nth:
        start, end = window_bounds(c.window, self.ref)
        return Nth(f"raised_bp_{c.systolic:g}_{c.diastolic:g}", start, end, c.at_least)

    def _nth_key(self, c) -> Nth:
        start, end = window_bounds(c.window, self.ref)
        if isinstance(c, d.EmergencyAdmissions):
            lists = (c.primary_diagnosis.name,) if c.primary_diagnosis else ()
            return Nth("emergency_admission", start, end, c.at_least, lists)
        if isinstance(c, d.EmergencyAttendances):
            return Nth("attendance", start, end, c.at_least)
        return Nth("readmission", start, end, c.at_least)

    # -- the person frame ---------------------------------------------------------------------

    def build_frame(self, population, scratch):
        """Join every fact to `population` (pseudonym, practice, age, sex, birth_month): one row
        per person. `scratch(name, expr)` keeps an intermediate table for this build."""
        frame = population
        parts = []
        coded = self._coded(scratch)
        for source, table in coded.items():
            spans = {k: v for k, v in self.spans.items() if k.source == source}
            if spans:
                parts.append(self._span_table(table, spans))
        events = coded.get("gp_events")
        for key, name in self.latest.items():
            parts.append(self._latest_table(events, key, name))
        readings = {
            key: scratch(f"bp_{name}", self._readings_table(events, key))
            for key, name in self.readings.items()
        }
        for key, name in self.readings.items():
            parts.append(self._latest_reading(readings[key], name))
        for key, name in self.nth.items():
            parts.append(self._nth_table(key, name, readings))
        if self.registers:
            regs = scratch("registers", self._register_table(events, population))
            parts.append(regs)
            for score in sorted(self.cha2ds2):
                parts.append(self._cha2ds2_table(regs, population, score))
        for part in parts:
            frame = frame.left_join(part, "pseudonym").drop("pseudonym_right")
        self.frame = scratch("frame", frame)
        return self.frame

    def _coded(self, scratch) -> dict[str, object]:
        """The prescriptions and GP events on or before the reference date whose code is in a
        list some fact reads, tagged with the list (one row per list a code is in)."""
        ref = date_literal(self.ref)
        wanted = {"medications": set(), "gp_events": set()}
        for key in self.spans:
            wanted[key.source] |= set(key.lists)
        for key in self.latest:
            wanted["gp_events"] |= set(key.lists)
        if self.readings:
            wanted["gp_events"] |= {d.BP_SYSTOLIC.name, d.BP_DIASTOLIC.name}
        for name in self.registers:
            r = register(name)
            wanted["gp_events"] |= {n for n in (*r.gp, *r.resolved) if n in self.lists}
        out = {}
        for source, date_col, code_col in (("medications", "issue_date", "dmd_code"),
                                           ("gp_events", "event_date", "snomed_code")):  # fmt: skip
            names = sorted(wanted[source])
            if not names:
                continue
            rows = [(n, c) for n in names for c in sorted(self.lists[n].codes)]
            members = memtable(pd.DataFrame(rows, columns=["list", "code"], dtype="string"))
            t = self.zone.table(source)
            t = t.filter(t[date_col] <= ref)
            value = t.value if source == "gp_events" else ibis.null("float64")
            joined = t.join(members, t[code_col] == members.code)
            out[source] = scratch(
                f"coded_{source}",
                joined.select("pseudonym", "list", day=joined[date_col], value=value),
            )
        return out

    def _span_table(self, coded, spans: dict[Span, str]):
        aggs = {}
        for key, name in spans.items():
            where = coded.list.isin(list(key.lists)) & (coded.day <= date_literal(key.end))
            if key.start is not None:
                where &= coded.day >= date_literal(key.start)
            aggs[f"{name}_first"] = coded.day.min(where=where)
            aggs[f"{name}_last"] = coded.day.max(where=where)
        return coded.group_by("pseudonym").agg(**aggs)

    def _in(self, t, lists, start, end):
        where = t.list.isin(list(lists)) & (t.day <= date_literal(end))
        if start is not None:
            where &= t.day >= date_literal(start)
        return t.filter(where)

    def _latest_table(self, coded, key: Latest, name: str):
        t = self._in(coded, key.lists, key.start, key.end).filter(ibis._.value.notnull())
        last = t.group_by("pseudonym").agg(day=t.day.max())
        on_day = t.join(last, ["pseudonym", "day"])
        return on_day.group_by("pseudonym").agg(
            **{f"{name}_value": on_day.value.min(), f"{name}_day": on_day.day.max()}
        )

    def _readings_table(self, coded, key: Readings):
        t = self._in(coded, (d.BP_SYSTOLIC.name, d.BP_DIASTOLIC.name), key.start, key.end)
        t = t.filter(t.value.notnull())
        return t.group_by(["pseudonym", "day"]).agg(
            systolic=t.value.min(where=t.list == d.BP_SYSTOLIC.name),
            diastolic=t.value.min(where=t.list == d.BP_DIASTOLIC.name),
        )

    def _latest_reading(self, readings, name: str):
        last = readings.group_by("pseudonym").agg(day=readings.day.max())
        row = readings.join(last, ["pseudonym", "day"])
        return row.select(
            "pseudonym",
            **{f"{name}_day": row.day, f"{name}_systolic": row.systolic,
               f"{name}_diastolic": row.diastolic},
        )  # fmt: skip

    def _nth_table(self, key: Nth, name: str, readings):
        events = self._events(key, readings)
        ranked = events.mutate(
            rank=ibis.row_number().over(ibis.window(group_by="pseudonym", order_by="day"))
        )
        nth = ranked.filter(ranked["rank"] == key.n - 1)
        return nth.group_by("pseudonym").agg(**{f"{name}_day": nth.day.min()})

    def _events(self, key: Nth, readings):
        """(pseudonym, day) of each event of `key`'s kind in its window."""
        start, end = key.start, date_literal(key.end)

        def within(t, column):
            t = t.filter(t[column] <= end)
            return t if start is None else t.filter(t[column] >= date_literal(start))

        if key.kind.startswith("raised_bp_"):
            r = next(t for k, t in readings.items() if (k.start, k.end) == (start, key.end))
            systolic, diastolic = (float(x) for x in key.kind.split("_")[2:])
            raised = r.filter((r.systolic >= systolic) | (r.diastolic >= diastolic))
            return raised.select("pseudonym", "day")
        if key.kind == "attendance":
            t = within(self.zone.table("ec_attendances"), "arrival_date")
            return t.select("pseudonym", day=t.arrival_date)
        apc = self.zone.table("apc_spells")
        if key.kind == "readmission":
            t = within(readmitted_spells(apc), "admission_date")
            return t.select("pseudonym", day=t.admission_date)
        t = within(apc, "admission_date").filter(ibis._.emergency.fill_null(False))
        if key.lists:
            codes = sorted(set().union(*(self.lists[n].codes for n in key.lists)))
            dx = t.primary_diagnosis
            t = t.filter(dx.isin(codes) | dx.substr(0, 3).isin(codes) | dx.substr(0, 4).isin(codes))
        return t.select("pseudonym", day=t.admission_date)

    def _register_table(self, coded, population):
        """reg_<name> (on the register) and reg_<name>_since (first diagnosis code) per person."""
        registers = tuple(register(n) for n in sorted(self.registers))
        first_last = coded.group_by(["pseudonym", "list"]).agg(
            first_date=coded.day.min(), last_date=coded.day.max()
        )
        roles = analytics_registers.register_roles(registers, set(self.lists))
        on = analytics_registers.person_registers(first_last, population, roles)
        return on.group_by("pseudonym").agg(
            **{f"reg_{r.name}": (on.register == r.name).any() for r in registers},
            **{f"reg_{r.name}_since": on.first_gp_date.min(where=on.register == r.name)
               for r in registers},
        )  # fmt: skip

    def _cha2ds2_table(self, regs, population, score: int):
        """The score at the reference date and the day it first reached `score`."""
        ref = date_literal(self.ref)
        p = population
        birthday = {n: p.birth_month + ibis.interval(years=n) + ibis.interval(days=14)
                    for n in (65, 75)}  # fmt: skip
        rows = [
            p.filter(p.sex == "F").select("pseudonym", day=p.birth_month, points=ibis.literal(1)),
            *(p.filter(birthday[n] <= ref).select("pseudonym", day=birthday[n],
                                                  points=ibis.literal(1))
              for n in (65, 75)),
        ]  # fmt: skip
        for name, points in CHA2DS2_VASC_REGISTERS:
            on = regs.filter(regs[f"reg_{name}"].fill_null(False))
            rows.append(on.select("pseudonym", day=on[f"reg_{name}_since"],
                                  points=ibis.literal(points)))  # fmt: skip
        vascular = functools.reduce(
            operator.or_, (regs[f"reg_{n}"].fill_null(False) for n in CHA2DS2_VASC_VASCULAR)
        )
        since = ibis.least(*(regs[f"reg_{n}_since"] for n in CHA2DS2_VASC_VASCULAR))
        rows.append(regs.filter(vascular).select("pseudonym", day=since, points=ibis.literal(1)))
        points = functools.reduce(lambda a, b: a.union(b, distinct=False), rows)
        points = points.mutate(points=points.points.cast("int32"))
        running = points.mutate(
            total=points.points.sum().over(
                ibis.window(group_by="pseudonym", order_by="day", rows=(None, 0))
            )
        )
        return running.group_by("pseudonym").agg(**{
            f"cha2ds2vasc{score}": running.points.sum(),
            f"cha2ds2vasc{score}_day": running.day.min(where=running.total >= score),
        })  # fmt: skip

    # -- criteria as expressions over the frame ------------------------------------------------

    def span(self, source: str, codes, window: d.Window) -> tuple[object, object]:
        name = self._span(source, codes, window)
        return self.frame[f"{name}_first"], self.frame[f"{name}_last"]

    @functools.singledispatchmethod
    def met(self, c):
        """(holds, since) of criterion `c` for each person of the frame."""
        raise TypeError(f"no compile rule for {type(c).__name__}")

    @met.register
    def _(self, c: d.Age):
        f = self.frame
        holds = ibis.literal(True)
        if c.at_least is not None:
            holds &= f.age >= c.at_least
        if c.at_most is not None:
            holds &= f.age <= c.at_most
        since = (
            f.birth_month + ibis.interval(years=c.at_least) + ibis.interval(days=14)
            if c.at_least
            else f.birth_month
        )
        return holds, since

    @met.register
    def _(self, c: d.Prescribed):
        first, _ = self.span("medications", c.codes, c.window)
        return first.notnull(), first

    @met.register
    def _(self, c: d.Continuing):
        began, _ = self.span("medications", c.codes, c.earlier)
        recent, _ = self.span("medications", c.codes, c.recent)
        return began.notnull() & recent.notnull(), began

    @met.register
    def _(self, c: d.NotPrescribed):
        return self._absent("medications", c.codes, c.window)

    @met.register
    def _(self, c: d.Recorded):
        first, _ = self.span("gp_events", c.codes, c.window)
        holds = first.notnull()
        if c.resolved:
            _, latest = self.span("gp_events", c.codes, d.EVER)
            _, resolved = self.span("gp_events", c.resolved, d.EVER)
            holds &= resolved.isnull() | (latest > resolved)
        return holds, first

    @met.register
    def _(self, c: d.NotRecorded):
        return self._absent("gp_events", c.codes, c.window)

    def _absent(self, source, codes, window: d.Window):
        first, _ = self.span(source, codes, window)
        _, before = self.span(source, codes, d.Window(None, window.ends_months_before))
        lapsed = before + ibis.interval(months=window.months) if window.months else NULL_DATE
        return first.isnull(), first.isnull().ifelse(lapsed, NULL_DATE)

    @met.register
    def _(self, c: d.OnRegister):
        f = self.frame
        return f[f"reg_{c.register}"].fill_null(False), f[f"reg_{c.register}_since"]

    @met.register
    def _(self, c: d.LatestValue):
        name = self.latest[Latest(self._names(c.codes), *window_bounds(c.window, self.ref))]
        value, day = self.frame[f"{name}_value"], self.frame[f"{name}_day"]
        holds = value.notnull()
        if c.above is not None:
            holds &= value > c.above
        if c.at_least is not None:
            holds &= value >= c.at_least
        if c.at_most is not None:
            holds &= value <= c.at_most
        return holds.fill_null(False), day

    @met.register
    def _(self, c: d.BloodPressureAboveTarget):
        f = self.frame
        name = self.readings[Readings(*window_bounds(c.window, self.ref))]
        systolic_target = ibis.cases(
            *((f.age >= age, float(s)) for age, s, _ in reversed(c.targets))
        )
        diastolic_target = ibis.cases(
            *((f.age >= age, float(dia)) for age, _, dia in reversed(c.targets))
        )
        above = (f[f"{name}_systolic"] > systolic_target) | (
            f[f"{name}_diastolic"] > diastolic_target
        )
        return above.fill_null(False), f[f"{name}_day"]

    @met.register
    def _(self, c: d.RaisedBloodPressures):
        day = self.frame[f"{self.nth[self._raised(c)]}_day"]
        return day.notnull(), day

    @met.register
    def _(self, c: d.Cha2ds2VascAtLeast):
        f = self.frame
        return f[f"cha2ds2vasc{c.score}"].fill_null(0) >= c.score, f[f"cha2ds2vasc{c.score}_day"]

    @met.register
    def _(self, c: d.EmergencyAdmissions | d.EmergencyAttendances | d.Readmissions):
        day = self.frame[f"{self.nth[self._nth_key(c)]}_day"]
        return day.notnull(), day

    @met.register
    def _(self, c: d.AnyOf):
        parts = [self.met(m) for m in c.criteria]
        holds = functools.reduce(operator.or_, (h for h, _ in parts))
        since = ibis.least(*(h.ifelse(s, NULL_DATE) for h, s in parts))
        return holds, since

    @met.register
    def _(self, c: d.AllOf):
        parts = [self.met(m) for m in c.criteria]
        holds = functools.reduce(operator.and_, (h for h, _ in parts))
        return holds, ibis.greatest(*(s for _, s in parts))

    # -- an indicator ----------------------------------------------------------------------

    def indicator(self, indicator: d.Indicator):
        """The frame with `in_denominator`, `flagged`, `due_date` and `reason` for `indicator`."""
        f = self.frame
        true = ibis.literal(True)
        population = [self.met(c) for c in indicator.population]
        denominator = functools.reduce(operator.and_, (h for h, _ in population), true)
        for c in indicator.exclusions:
            denominator &= ~self.met(c)[0]
        flags = [self.met(c) for c in indicator.flag]
        flagged = functools.reduce(operator.and_, (h for h, _ in flags), denominator)
        due = self._latest_of([s for _, s in (*population, *flags)])
        return f.mutate(
            in_denominator=denominator,
            flagged=flagged,
            due_date=due,
            reason=self._reason(indicator),
        )

    @staticmethod
    def _latest_of(dates):
        return dates[0] if len(dates) == 1 else ibis.greatest(*dates)

    def _reason(self, indicator: d.Indicator):
        """The indicator's reason; after it, the members met of each AnyOf among its flags."""
        text = ibis.literal(indicator.reason)
        branches = [c for c in indicator.flag if isinstance(c, d.AnyOf)]
        if not branches:
            return text
        named = [
            self.met(m)[0].ifelse(ibis.literal(m.describe()), ibis.null("string"))
            for c in branches
            for m in c.criteria
        ]
        return text + ": " + ibis.literal("; ").join(named)


def base_population(zone: Zone, reference_date: dt.date):
    """Everyone registered and alive at the end of the reference date (analytics' reference
    population), with practice, age, sex and month of birth."""
    window_start = months_before(reference_date, 12)
    pop = analytics_population.population(zone, reference_date, window_start)
    pop = pop.filter(pop.in_reference_population)
    people = zone.table("people").select("pseudonym", "birth_month")
    return pop.select("pseudonym", "practice", "age", "sex").join(people, "pseudonym")
