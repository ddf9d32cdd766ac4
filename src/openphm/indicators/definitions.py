"""The building blocks of an indicator, as data: windows, code lists with their provenance, the
criteria a person meets, and the indicator and pack that combine them.

Nothing here touches a table. `indicators.engine` compiles every criterion type with one rule
each (ehrQL's shape: an immutable, validated intermediate form, and an engine per database);
the packs (`indicators.pincer`, `indicators.care`, `indicators.hospital`) are written with
these blocks, and docs/indicators.md from them. A criterion is a frozen dataclass, equal to any
other with the same fields, so the engine computes each distinct one once however many
indicators share it.

Dates: every window ends on, or a whole number of months before, the reference date, and is
inclusive at both ends, as analytics' windows are (`analytics.zone.months_before`): the 3
months up to 2026-10-31 run from 2026-08-01 to 2026-10-31.
"""

from __future__ import annotations

from dataclasses import dataclass

from openphm.programme.config import Purpose

# ----- windows and code lists --------------------------------------------------------------


@dataclass(frozen=True)
class Window:
    """`months` months ending `ends_months_before` months before the reference date, both ends
    included; `months=None` is all history up to that end."""

    months: int | None
    ends_months_before: int = 0

    def __post_init__(self):
        if self.months is not None and self.months < 1:
            raise ValueError("a window is at least one month long")
        if self.ends_months_before < 0:
            raise ValueError("a window cannot end after the reference date")

    def describe(self) -> str:
        if self.months is None:
            if self.ends_months_before == 0:
                return "ever"
            return f"more than {self.ends_months_before} months ago"
        if self.ends_months_before == 0:
            return f"in the last {self.months} months"
        first = self.ends_months_before + 1
        return f"{first} to {self.ends_months_before + self.months} months ago"


EVER = Window(None)


@dataclass(frozen=True)
class CodeList:
    """A code list by the name it is found under (a shipped list in openphm.reference, or a
    `<name>.csv` in a programme's own folder), with what it is and where it came from. A list
    that is not shipped names what a programme must supply; until it does, indicators that use
    it are left out of a build and named in its summary."""

    name: str
    system: str  # "dm+d", "SNOMED CT" or "ICD-10"
    title: str
    source: str  # publisher and version, e.g. "OpenCodelists pincer/nsaid/23edd06e"
    shipped: bool = True

    def __post_init__(self):
        if self.system not in ("dm+d", "SNOMED CT", "ICD-10"):
            raise ValueError(f"code list {self.name}: system must be dm+d, SNOMED CT or ICD-10")


# ----- criteria ------------------------------------------------------------------------------
# Each is true or false for a person at the reference date, and carries the date it became
# true where one can be said ("since"): the engine's `criterion` rule for its type says how.


@dataclass(frozen=True)
class Age:
    """Age in whole years at the reference date (analytics' age: from the month of birth,
    taking the 15th as the day). Since: the birthday on which the lower bound was reached."""

    at_least: int | None = None
    at_most: int | None = None

    def describe(self) -> str:
        if self.at_most is None:
            return f"aged {self.at_least} or over"
        if self.at_least is None:
            return f"aged {self.at_most} or under"
        return f"aged {self.at_least} to {self.at_most}"


@dataclass(frozen=True)
class Prescribed:
    """A drug from any of `codes` (dm+d) issued in the window. Since: its first issue there."""

    codes: tuple[CodeList, ...]
    window: Window
    label: str

    def describe(self) -> str:
        return f"{self.label} issued {self.window.describe()}"


@dataclass(frozen=True)
class Continuing:
    """On a drug long term: a drug from `codes` issued in the `earlier` window and again in the
    `recent` one (PINCER's monitoring denominators). Since: its first issue in `earlier`, when
    the course began as far as the window shows."""

    codes: tuple[CodeList, ...]
    earlier: Window
    recent: Window
    label: str

    def describe(self) -> str:
        return f"{self.label} issued {self.earlier.describe()} and {self.recent.describe()}"


@dataclass(frozen=True)
class NotPrescribed:
    """No drug from `codes` issued in the window. Since: the day the latest earlier issue
    fell out of the window (that issue plus the window's length); none if never issued."""

    codes: tuple[CodeList, ...]
    window: Window
    label: str

    def describe(self) -> str:
        return f"no {self.label} issued {self.window.describe()}"


@dataclass(frozen=True)
class Recorded:
    """A code from `codes` (SNOMED CT) recorded in the window, and, with `resolved`, no code from
    it recorded (up to the reference date) on or after the latest such code. Since: the first
    such code in the window."""

    codes: tuple[CodeList, ...]
    window: Window
    label: str
    resolved: tuple[CodeList, ...] = ()

    def describe(self) -> str:
        return f"{self.label} recorded {self.window.describe()}"


@dataclass(frozen=True)
class NotRecorded:
    """No code from `codes` recorded in the window. Since: the day the latest earlier record
    fell out of the window; none if never recorded."""

    codes: tuple[CodeList, ...]
    window: Window
    label: str

    def describe(self) -> str:
        return f"no {self.label} recorded {self.window.describe()}"


@dataclass(frozen=True)
class OnRegister:
    """On a condition register at the reference date by its GP codes (analytics'
    `definitions.Register` of this name, QOF's rule with its resolved codes and minimum age;
    hospital diagnoses are not read, as QOF's registers are the practice's). Since: the first
    diagnosis code."""

    register: str

    def describe(self) -> str:
        return f"on the {self.register.replace('_', ' ')} register"


@dataclass(frozen=True)
class LatestValue:
    """The latest value recorded in the window with a code from `codes` (the lowest, when
    several share that day, as QOF reads readings) is above `above`, or within
    [`at_least`, `at_most`]. Since: the day of that reading."""

    codes: tuple[CodeList, ...]
    window: Window
    label: str
    above: float | None = None
    at_least: float | None = None
    at_most: float | None = None

    def __post_init__(self):
        if self.above is None and self.at_least is None and self.at_most is None:
            raise ValueError(f"{self.label}: give above, at_least or at_most")

    def describe(self) -> str:
        if self.above is not None:
            bound = f"above {self.above:g}"
        elif self.at_most is None:
            bound = f"{self.at_least:g} or more"
        elif self.at_least is None:
            bound = f"{self.at_most:g} or less"
        else:
            bound = f"{self.at_least:g} to {self.at_most:g}"
        return f"latest {self.label} {self.window.describe()} {bound}"


# Blood pressure: a reading is a day with a systolic and a diastolic value, the lowest of each
# that day (QOF's rule); the code lists are QOF's systolic and diastolic clusters.
BP_SYSTOLIC = CodeList(
    "bp-systolic", "SNOMED CT", "Systolic blood pressure readings",
    "QOF systolic BP cluster (SYSBP_COD); not shipped", shipped=False,
)  # fmt: skip
BP_DIASTOLIC = CodeList(
    "bp-diastolic", "SNOMED CT", "Diastolic blood pressure readings",
    "QOF diastolic BP cluster (DIABP_COD); not shipped", shipped=False,
)  # fmt: skip


@dataclass(frozen=True)
class BloodPressureAboveTarget:
    """The latest reading in the window is above the target for the person's age: systolic above
    `systolic` or diastolic above `diastolic`, each target from the last row of `targets`
    whose age the person has reached (QOF HYP008/HYP009: 140/90 under 80, 150/90 from 80).
    Since: the day of that reading."""

    window: Window
    targets: tuple[tuple[int, float, float], ...] = ((0, 140, 90), (80, 150, 90))

    def describe(self) -> str:
        return f"latest blood pressure {self.window.describe()} above target"


@dataclass(frozen=True)
class RaisedBloodPressures:
    """At least `at_least` readings in the window at or above `systolic`/`diastolic` (either).
    Since: the day of the `at_least`-th such reading."""

    window: Window
    systolic: float = 140
    diastolic: float = 90
    at_least: int = 2

    def describe(self) -> str:
        return (f"{self.at_least} or more blood pressures of {self.systolic:g}/"
                f"{self.diastolic:g} or higher {self.window.describe()}")  # fmt: skip


@dataclass(frozen=True)
class Cha2ds2VascAtLeast:
    """CHA₂DS₂-VASc (Lip et al., Chest 2010) at the reference date is at least `score`, from
    registers and age and sex: heart failure 1, hypertension 1, aged 75+ 2 (65-74 1), diabetes 1,
    stroke/TIA 2, vascular disease (CHD or PAD register) 1, female 1. Since: the day the score
    first reached `score` (the dates registers began, birthdays, birth)."""

    score: int

    def describe(self) -> str:
        return f"CHA₂DS₂-VASc {self.score} or more"


@dataclass(frozen=True)
class EmergencyAdmissions:
    """At least `at_least` emergency admissions (method 21-28) in the window, with a primary
    diagnosis in `primary_diagnosis` when given (an ICD-10 list code matches a diagnosis equal to
    it or beginning with it at 3 or 4 characters, as analytics matches). Since: the day of the
    `at_least`-th."""

    window: Window
    label: str
    at_least: int = 1
    primary_diagnosis: CodeList | None = None

    def describe(self) -> str:
        return f"{self.at_least}+ {self.label} {self.window.describe()}"


@dataclass(frozen=True)
class EmergencyAttendances:
    """At least `at_least` emergency care attendances (any department type) in the window.
    Since: the day of the `at_least`-th."""

    window: Window
    at_least: int

    def describe(self) -> str:
        return f"{self.at_least}+ emergency department attendances {self.window.describe()}"


@dataclass(frozen=True)
class Readmissions:
    """At least `at_least` emergency admissions in the window 0-30 days after the discharge of
    the person's previous spell (analytics' readmission rule, `analytics.activity`). Since: the
    day of the `at_least`-th."""

    window: Window
    at_least: int = 1

    def describe(self) -> str:
        return f"emergency readmission within 30 days {self.window.describe()}"


@dataclass(frozen=True)
class AnyOf:
    """At least one of `criteria`. Since: the earliest of the members met. A person's reason
    names the members met."""

    criteria: tuple[Criterion, ...]

    def __post_init__(self):
        if len(self.criteria) < 2:
            raise ValueError("AnyOf needs two or more criteria")

    def describe(self) -> str:
        return " or ".join(c.describe() for c in self.criteria)


@dataclass(frozen=True)
class AllOf:
    """Every one of `criteria`. Since: the latest of their dates."""

    criteria: tuple[Criterion, ...]

    def __post_init__(self):
        if len(self.criteria) < 2:
            raise ValueError("AllOf needs two or more criteria")

    def describe(self) -> str:
        return " and ".join(c.describe() for c in self.criteria)


Criterion = (
    Age | Prescribed | Continuing | NotPrescribed | Recorded | NotRecorded | OnRegister
    | LatestValue | BloodPressureAboveTarget | RaisedBloodPressures | Cha2ds2VascAtLeast
    | EmergencyAdmissions | EmergencyAttendances | Readmissions | AnyOf | AllOf
)  # fmt: skip
CRITERION_TYPES = Criterion.__args__


# ----- indicators and packs ------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    """One indicator: a person is in its denominator when every `population` criterion holds and
    no `exclusions` criterion does, and is flagged when, besides, every `flag` criterion holds.

    The date a flag became due is the latest "since" of its population and flag criteria: the
    day the last of its conditions came true, as far as the record shows (a test never done
    has no date of its own, so it is due from the day the person came into the denominator).
    `reason` is what a practice reads per person; for an `AnyOf` among the flag criteria, the
    members met follow it."""

    name: str
    title: str
    description: str
    source: str
    population: tuple[Criterion, ...]
    flag: tuple[Criterion, ...]
    reason: str
    exclusions: tuple[Criterion, ...] = ()

    def __post_init__(self):
        if not self.name.isidentifier() or self.name != self.name.lower():
            raise ValueError(f"indicator name {self.name!r}: lower case, a Python identifier")
        if not self.flag:
            raise ValueError(f"indicator {self.name} has no flag criteria")
        for c in self.criteria():
            if not isinstance(c, CRITERION_TYPES):
                raise TypeError(f"indicator {self.name}: {c!r} is not a criterion")

    def criteria(self) -> tuple[Criterion, ...]:
        """Every criterion it names, combinations opened, in order, each once."""
        out: list = []
        for c in (*self.population, *self.flag, *self.exclusions):
            for each in flatten(c):
                if each not in out:
                    out.append(each)
        return tuple(out)

    def codelists(self) -> tuple[CodeList, ...]:
        out: list[CodeList] = []
        for c in self.criteria():
            for cl in codelists_of(c):
                if cl not in out:
                    out.append(cl)
        return tuple(out)


def flatten(criterion: Criterion) -> tuple[Criterion, ...]:
    """The criterion itself and, for a combination, every member (depth first)."""
    if isinstance(criterion, AnyOf | AllOf):
        return (criterion, *(x for c in criterion.criteria for x in flatten(c)))
    return (criterion,)


def codelists_of(criterion: Criterion) -> tuple[CodeList, ...]:
    if isinstance(criterion, Prescribed | Continuing | NotPrescribed | NotRecorded | LatestValue):
        return criterion.codes
    if isinstance(criterion, Recorded):
        return criterion.codes + criterion.resolved
    if isinstance(criterion, BloodPressureAboveTarget | RaisedBloodPressures):
        return (BP_SYSTOLIC, BP_DIASTOLIC)
    if isinstance(criterion, EmergencyAdmissions) and criterion.primary_diagnosis is not None:
        return (criterion.primary_diagnosis,)
    return ()


@dataclass(frozen=True)
class Pack:
    """Indicators that serve one purpose. A programme chooses packs in programme.toml
    ([[indicators.packs]], each with the purpose it is used for); the purpose must be one of the
    programme's and one this pack serves."""

    name: str
    title: str
    purposes: tuple[Purpose, ...]
    indicators: tuple[Indicator, ...]
    source: str

    def __post_init__(self):
        names = [i.name for i in self.indicators]
        if len(set(names)) != len(names):
            raise ValueError(f"pack {self.name} names an indicator twice")
