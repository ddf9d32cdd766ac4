"""programme.toml: what the programme is, who takes part and what it may do with data.

Everything the privacy notice promises that is specific to one programme (its sources, its
purposes, its recipients, how long identifiable data may be held, which objections exclude data)
lives here, so the system and the notice are driven from one place. Reads a TOML file, writes
nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from openphm.errors import UserFacingError

# GP practices are a letter and five digits (A81001); trusts three characters (RXX) and their
# sites five; local authorities and other bodies vary. We accept 3 to 6 upper-case letters and
# digits, which covers every ODS organisation code in use, and refuse anything else.
ODS_CODE = re.compile(r"^[A-Z0-9]{3,6}$")
GP_PRACTICE_CODE = re.compile(r"^[A-Z][0-9]{5}$")


class ConfigError(UserFacingError, ValueError):
    """A programme.toml that cannot be used; the message names the file and the field."""


def _ods_code(value: str) -> str:
    if not ODS_CODE.match(value):
        raise ValueError(
            f"{value!r} is not an ODS code: use 3 to 6 upper-case letters and digits, e.g. A81001"
        )
    return value


def _gp_practice_code(value: str) -> str:
    if not GP_PRACTICE_CODE.match(value):
        raise ValueError(
            f"{value!r} is not a GP practice ODS code: a letter and five digits, e.g. A81001"
        )
    return value


OdsCode = Annotated[str, AfterValidator(_ods_code)]
PracticeCode = Annotated[str, AfterValidator(_gp_practice_code)]


class Purpose(StrEnum):
    """The purposes a PHM privacy notice lists. Anything else is refused (promise P6)."""

    QUALITY_IMPROVEMENT = "quality-improvement"
    RESEARCH = "research"
    PREVENTION = "prevention"
    SAFETY_MONITORING = "safety-monitoring"
    SERVICE_PLANNING = "service-planning"

    @property
    def label(self) -> str:
        return self.value.replace("-", " ")


class SourceKind(StrEnum):
    """Kinds of provider extract OpenPHM can receive (one landing adapter each)."""

    GP = "gp"
    ADMITTED_CARE = "admitted-care"
    EMERGENCY_CARE = "emergency-care"
    OUTPATIENTS = "outpatients"
    COMMUNITY = "community"
    SOCIAL_CARE = "social-care"
    DEATHS = "deaths"

    @property
    def label(self) -> str:
        return {
            "gp": "GP practice records",
            "admitted-care": "hospital admitted patient care",
            "emergency-care": "emergency care attendances",
            "outpatients": "hospital outpatient appointments",
            "community": "community services contacts",
            "social-care": "adult social care",
            "deaths": "civil registration deaths",
        }[self.value]


# The kinds of extract whose provider (a trust) may receive cohort lists of its own patients:
# their records carry the provider's local patient id (docs/risk-and-cohorts.md, "Lists for
# hospital providers").
PROVIDER_KINDS = frozenset(
    {
        SourceKind.ADMITTED_CARE,
        SourceKind.EMERGENCY_CARE,
        SourceKind.OUTPATIENTS,
        SourceKind.COMMUNITY,
    }
)


class _Strict(BaseModel):
    # A misspelt key is an error, not silently ignored: a typo in "retention" must not leave
    # the default in force without anyone noticing.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Processor(_Strict):
    name: str = Field(min_length=1)
    ods_code: OdsCode


class Source(_Strict):
    kind: SourceKind
    provider: OdsCode = Field(description="ODS code of the organisation that sends the extracts")
    name: str = ""
    inbox: str = Field(
        default="",
        description="where this provider's extracts arrive (a folder; relative to programme.toml)",
    )
    format: str = Field(default="csv", pattern=r"^(csv|parquet|fhir-ndjson)$")
    layout: str = Field(
        default="",
        description="the layout its files are in: a built-in layout or data set (`phm "
        "layouts`), or a local layout file beside programme.toml (`my-hes.toml`); blank: the "
        "contract's own",
    )
    period: str = Field(
        default="",
        description="a regular expression a file's name must match, whose named group "
        "`yyyymm` (or `fyear`, HES's `0102`) gives the extract's period; blank: names follow "
        "<ODS>_<table>_<YYYYMM>",
    )

    @model_validator(mode="after")
    def _layout_and_period(self) -> Source:
        if self.layout:
            from openphm.programme.layouts import builtin, datasets

            layouts = builtin()
            tables = datasets().get(self.layout)
            if tables:
                if tables[0].kind != self.kind.value:
                    raise ValueError(
                        f"layout {self.layout!r} (a data set) is for {tables[0].kind} sources, "
                        f"not {self.kind.value}"
                    )
            elif layouts.get(self.layout) and layouts[self.layout].dataset:
                raise ValueError(
                    f"layout {self.layout!r} is one table of the "
                    f"{layouts[self.layout].dataset} data set: name the data set "
                    f'(layout = "{layouts[self.layout].dataset}"), whose tables arrive together'
                )
            elif self.layout.endswith(".toml"):
                if "/" in self.layout or "\\" in self.layout or self.layout.startswith("."):
                    raise ValueError(
                        "layout: a local layout is a file name beside programme.toml, "
                        f"not a path (got {self.layout!r})"
                    )
            elif self.layout not in layouts:
                raise ValueError(
                    f"layout {self.layout!r} is not a built-in layout or data set "
                    f"({', '.join([*layouts, *datasets()])}) "
                    "nor a local layout file (a .toml file beside programme.toml)"
                )
            elif layouts[self.layout].kind != self.kind.value:
                raise ValueError(
                    f"layout {self.layout!r} is for {layouts[self.layout].kind} sources, "
                    f"not {self.kind.value}"
                )
        if self.period:
            try:
                groups = re.compile(self.period).groupindex
            except re.error as err:
                raise ValueError(f"period is not a regular expression ({err})") from None
            if not {"yyyymm", "fyear"} & set(groups):
                raise ValueError(
                    "period needs a named group (?P<yyyymm>...) or (?P<fyear>...) that says "
                    "the extract's period"
                )
        return self


# What a recipient's extract may hold besides generalised demographics: one group of linked
# tables' fields each (openphm.pseudonymise.extracts maps them to columns).
RECIPIENT_FIELD_GROUPS = (
    "consultations",
    "clinical coding",
    "medications",
    "hospital activity",
    "emergency care",
    "outpatients",
    "community",
    "social care",
)


def _field_group(value: str) -> str:
    if value not in RECIPIENT_FIELD_GROUPS:
        raise ValueError(
            f"{value!r} is not a field group; use any of: {', '.join(RECIPIENT_FIELD_GROUPS)}"
        )
    return value


class Recipient(_Strict):
    name: str = Field(min_length=1)
    purpose: Purpose
    expires: dt.date
    fields: list[Annotated[str, AfterValidator(_field_group)]] = Field(
        default_factory=list,
        description="the field groups this recipient's purpose needs (demographics, "
        "generalised, always)",
    )

    @property
    def slug(self) -> str:
        """The recipient's name as a key and folder name: lower case, hyphens."""
        return re.sub(r"[^a-z0-9]+", "-", self.name.lower()).strip("-") or "recipient"


class ObjectionPolicy(_Strict):
    """Which objections exclude a person's data. Both on is the lawful default in England."""

    type1: bool = Field(default=True, description="Type 1 opt-out (SNOMED 827241000000103)")
    national_data_opt_out: bool = True


class DisclosurePolicy(_Strict):
    """Disclosure control for everything that leaves the outputs zone (promise P10)."""

    redact_up_to: int = Field(default=7, ge=0, description="counts from 1 to this are redacted")
    round_to: int = Field(default=5, ge=1, description="other counts rounded to this multiple")
    dominance_p: float = Field(
        default=10,
        ge=0,
        le=100,
        description="p% rule: a sum is redacted when, less its two largest contributions, it "
        "is under p% of the largest",
    )
    reason: str = Field(default="", description="required when looser than 7, 5 and 10")
    # Kept so programme files that say `true` still load; nothing leaves without a second
    # person's check (openphm.disclosure.checking), so `false` is refused below.
    releases_need_approval: bool = Field(
        default=True, description="a second person must approve each release (always)"
    )
    k_anonymity: int = Field(default=5, ge=2, description="k for recipient extracts")

    @model_validator(mode="after")
    def _always_checked(self) -> DisclosurePolicy:
        if not self.releases_need_approval:
            raise ValueError(
                "releases_need_approval = false is no longer possible: every release is checked "
                "by a second person before it leaves (docs/releases.md); remove the line"
            )
        return self

    @model_validator(mode="after")
    def _never_looser_without_reason(self) -> DisclosurePolicy:
        looser = (
            self.redact_up_to < 7
            or self.round_to < 5
            or self.dominance_p < 10
            or self.k_anonymity < 5
        )
        if looser and not self.reason.strip():
            raise ValueError(
                "rules looser than the defaults (redact_up_to 7, round_to 5, dominance_p 10, "
                "k_anonymity 5) need a recorded reason"
            )
        return self


class Programme(_Strict):
    name: str = Field(min_length=1)
    controllers: list[PracticeCode] = Field(
        min_length=1, description="ODS codes of the GP practices that are joint controllers"
    )
    processor: Processor
    start_date: dt.date
    duration_weeks: int = Field(default=20, ge=1, le=520)
    identifiable_retention_days: int = Field(default=14, ge=1, le=14)
    purposes: list[Purpose] = Field(min_length=1)
    accept_test_nhs_numbers: bool = Field(
        default=False,
        description="treat NHS numbers from the reserved 999 test range as valid: for "
        "synthetic and test data only, never for a real programme",
    )

    @property
    def end_date(self) -> dt.date:
        return self.start_date + dt.timedelta(weeks=self.duration_weeks)


class EngineKind(StrEnum):
    """Which engine runs the relational work (docs/promises.md "Engines")."""

    DUCKDB = "duckdb"
    SPARK = "spark"


class EngineSettings(_Strict):
    """[engine]: DuckDB on one machine (the default), or Spark for a region or a nation."""

    kind: EngineKind = EngineKind.DUCKDB
    spark_master: str | None = Field(
        default=None,
        description="a Spark master URL (spark://host:7077, yarn, k8s://…); "
        "none: a local Spark session (local[2])",
    )

    @model_validator(mode="after")
    def _master_only_for_spark(self) -> EngineSettings:
        if self.spark_master and self.kind is not EngineKind.SPARK:
            raise ValueError('spark_master is set but kind is not "spark"')
        return self


class IndicatorPack(_Strict):
    """A pack of indicators (openphm.indicators.packs) and the purpose the programme uses it for:
    one of the programme's purposes (P6), and one the pack serves (checked when it is built)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]{0,62}$")
    purpose: Purpose


class Icb(_Strict):
    """An integrated care board the programme's practices are in: its name, and the places
    (of indicators.places) in it. With one ICB and no places, every practice is in it."""

    name: str = Field(min_length=1)
    places: list[str] = Field(default_factory=list)


class IndicatorSettings(_Strict):
    """[indicators]: the packs the programme builds with `phm indicators`, and, for rates and
    breakdowns, the practices of each primary care network and place (each practice in at most
    one of each), and the integrated care board(s) (ICB) of the programme or of each place: the
    hierarchy practice → PCN → place → ICB."""

    packs: list[IndicatorPack] = Field(default_factory=list)
    pcns: dict[str, list[PracticeCode]] = Field(default_factory=dict)
    places: dict[str, list[PracticeCode]] = Field(default_factory=dict)
    # ICB ODS code (QWE) -> the ICB
    icbs: dict[str, Icb] = Field(default_factory=dict)

    def areas(self) -> dict[str, dict[str, str]]:
        """The PCNs and places as {level: {practice: area}} ("pcn", "place")."""
        return {
            level: {practice: area for area, members in groups.items() for practice in members}
            for level, groups in (("pcn", self.pcns), ("place", self.places))
        }

    def hierarchy(self, practices) -> dict[str, dict[str, str]]:
        """The programme's PCNs, places and ICBs as {level: {practice: area}} over `practices`
        (the programme's), each level only where programme.toml names areas of it: every
        breakdown by area (indicators, measures, the pages) reads this one mapping."""
        levels = {**self.areas(), "icb": self.icb_areas(practices)}
        return {level: areas for level, areas in levels.items() if areas}

    def icb_areas(self, practices) -> dict[str, str]:
        """{practice: ICB} over `practices` (the programme's): the one ICB for every practice
        when it lists no places, else each practice through its place (a practice in no place
        of an ICB is in none). The ICB is named "name (code)"."""
        if len(self.icbs) == 1:
            ((code, icb),) = self.icbs.items()
            if not icb.places:
                return {p: icb_label(code, icb) for p in practices}
        place_of = self.areas()["place"]
        icb_of_place = {
            place: icb_label(code, icb) for code, icb in self.icbs.items() for place in icb.places
        }
        wanted = set(practices)
        return {
            p: icb_of_place[place]
            for p, place in place_of.items()
            if p in wanted and place in icb_of_place
        }

    @model_validator(mode="after")
    def _each_practice_once(self) -> IndicatorSettings:
        names = [p.name for p in self.packs]
        if len(set(names)) != len(names):
            raise ValueError("indicators.packs: a pack is listed twice")
        in_icb: dict[str, str] = {}
        for code, icb in self.icbs.items():
            if not ODS_CODE.match(code):
                raise ValueError(
                    f"indicators.icbs.{code}: {code!r} is not an ICB's ODS code: 3 to 6 "
                    "upper-case letters and digits, e.g. QWE"
                )
            if len(self.icbs) > 1 and not icb.places:
                raise ValueError(
                    f"indicators.icbs.{code}.places: with more than one ICB, each names the "
                    "places (of indicators.places) in it"
                )
            for place in icb.places:
                if place not in self.places:
                    raise ValueError(
                        f"indicators.icbs.{code}.places: {place!r} is not one of indicators.places"
                    )
                if place in in_icb:
                    raise ValueError(
                        f"indicators.icbs.{code}.places: {place!r} is also in ICB {in_icb[place]}"
                    )
                in_icb[place] = code
        labels = [icb.name for icb in self.icbs.values()]
        if len(set(labels)) != len(labels):
            raise ValueError("indicators.icbs: two ICBs have the same name")
        for grouping in ("pcns", "places"):
            seen: dict[str, str] = {}
            for group, practices in getattr(self, grouping).items():
                for practice in practices:
                    if practice in seen:
                        raise ValueError(
                            f"indicators.{grouping}: {practice} is in both {seen[practice]!r} "
                            f"and {group!r}"
                        )
                    seen[practice] = group
        return self


class CohortSettings(_Strict):
    """[cohorts]: the programme's standing cohorts, which `phm refresh` builds every refresh
    (docs/refresh.md): each a shipped definition's name (`frail-high-risk`,
    `prescribing-safety`: openphm/cohorts/examples) or a definition file beside programme.toml
    (`my-cohort.toml`), copied into the workspace with it."""

    standing: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _names(self) -> CohortSettings:
        if len(set(self.standing)) != len(self.standing):
            raise ValueError("cohorts.standing: a cohort is listed twice")
        for name in self.standing:
            local = name.endswith(".toml")
            if local and ("/" in name or "\\" in name or name.startswith(".")):
                raise ValueError(
                    "cohorts.standing: a local definition is a file name beside programme.toml, "
                    f"not a path (got {name!r})"
                )
            if not local and not re.fullmatch(r"[a-z][a-z0-9-]{0,62}", name):
                raise ValueError(
                    f"cohorts.standing: {name!r} is neither a shipped definition's name "
                    "(frail-high-risk) nor a definition file beside programme.toml (a .toml)"
                )
        return self


# The code systems a sensitive list may hold, each with the form its codes take in zone 1
# (docs/extract-formats.md: ICD-10 and OPCS-4 without the dot).
SENSITIVE_SYSTEMS = {
    "icd10": ("ICD-10", re.compile(r"[A-Z][0-9]{2}[0-9A-Z]{0,3}")),
    "opcs4": ("OPCS-4", re.compile(r"[A-Z][0-9]{2}[0-9]?")),
    "snomed": ("SNOMED CT", re.compile(r"[1-9][0-9]{5,17}")),
}
SENSITIVE_NAME = re.compile(r"[a-z][a-z0-9-]{0,62}")
# The shipped lists' names and titles (their codes: reference/sensitive/codes.csv), read here
# without loading the reference package (and pandas) so that a config check stays quick.
SENSITIVE_DEFAULTS = Path(__file__).parents[1] / "reference" / "sensitive" / "lists.toml"


def default_sensitive_lists() -> dict[str, dict[str, str]]:
    """{name: {title, basis}} of the shipped sensitive lists, in their order."""
    return {name: dict(item) for name, item in _sensitive_defaults().items()}


@functools.cache
def _sensitive_defaults() -> dict[str, dict[str, str]]:
    data = tomllib.loads(SENSITIVE_DEFAULTS.read_text(encoding="utf-8"))
    return {item["name"]: item for item in data["lists"]}


class SensitiveList(_Strict):
    """[[sensitive.lists]]: codes of a list of its own, or more codes for a default list of
    that name. ICD-10 and OPCS-4 codes are prefixes (A54 is A54 and everything under it);
    SNOMED CT (and dm+d) ids match exactly."""

    name: str
    title: str = ""
    icd10: list[str] = Field(default_factory=list)
    opcs4: list[str] = Field(default_factory=list)
    snomed: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _codes(self) -> SensitiveList:
        if not SENSITIVE_NAME.fullmatch(self.name):
            raise ValueError(
                f"name {self.name!r}: use lower-case letters, digits and hyphens, e.g. "
                "'sexual-health-clinic'"
            )
        if not (self.icd10 or self.opcs4 or self.snomed):
            raise ValueError(f"list {self.name!r} has no codes: give icd10, opcs4 or snomed")
        for key, (system, pattern) in SENSITIVE_SYSTEMS.items():
            for code in getattr(self, key):
                if not pattern.fullmatch(code):
                    hint = " (write ICD-10 and OPCS-4 codes without the dot)" if "." in code else ""
                    raise ValueError(
                        f"list {self.name!r}: {code!r} is not a valid {system} code{hint}"
                    )
        return self


class SensitiveSettings(_Strict):
    """[sensitive]: which coded records never leave the landing zone (docs/sensitive-data.md).
    The shipped lists apply unless `defaults = false`; `off` turns single default lists off.
    Either needs a `reason`, which every link records in the audit log."""

    defaults: bool = True
    off: list[str] = Field(default_factory=list)
    reason: str = ""
    lists: list[SensitiveList] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SensitiveSettings:
        names = [item.name for item in self.lists]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"lists: {', '.join(twice)} is given twice")
        if self.off and not self.defaults:
            raise ValueError("off: with defaults = false no default list is on to turn off")
        if len(set(self.off)) != len(self.off):
            raise ValueError("off: a list is named twice")
        known = default_sensitive_lists()
        unknown = [name for name in self.off if name not in known]
        if unknown:
            raise ValueError(
                f"off: {', '.join(map(repr, unknown))} is not a default list (the default lists: "
                f"{', '.join(known)})"
            )
        if (self.off or not self.defaults) and not self.reason.strip():
            raise ValueError(
                "turning default sensitive lists off needs a reason (the audit log records it "
                "with every link)"
            )
        return self


def icb_label(code: str, icb: Icb) -> str:
    """How an ICB is named in breakdowns: "NHS South West London ICB (QWE)"."""
    return f"{icb.name} ({code})"


class ProgrammeConfig(_Strict):
    programme: Programme
    sources: list[Source] = Field(min_length=1)
    recipients: list[Recipient] = Field(default_factory=list)
    objections: ObjectionPolicy = Field(default_factory=ObjectionPolicy)
    disclosure: DisclosurePolicy = Field(default_factory=DisclosurePolicy)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    indicators: IndicatorSettings = Field(default_factory=IndicatorSettings)
    cohorts: CohortSettings = Field(default_factory=CohortSettings)
    sensitive: SensitiveSettings = Field(default_factory=SensitiveSettings)
    # The folder of the programme.toml it was read from, where its local layouts are.
    _folder: Path | None = PrivateAttr(default=None)

    @property
    def folder(self) -> Path | None:
        return self._folder

    @model_validator(mode="after")
    def _consistent(self) -> ProgrammeConfig:
        controllers = set(self.programme.controllers)
        seen: set[tuple[str, str]] = set()
        for i, source in enumerate(self.sources):
            key = (source.kind.value, source.provider)
            if key in seen:
                raise ValueError(
                    f"sources[{i}]: {source.kind.value} from {source.provider} is listed twice"
                )
            seen.add(key)
            if source.kind is SourceKind.GP and source.provider not in controllers:
                raise ValueError(
                    f"sources[{i}]: GP practice {source.provider} sends data but is not among "
                    "programme.controllers; add it there or remove the source"
                )
        for i, pack in enumerate(self.indicators.packs):
            if pack.purpose not in self.programme.purposes:
                raise ValueError(
                    f"indicators.packs[{i}]: purpose {pack.purpose.value!r} is not one of the "
                    f"programme's purposes ({', '.join(p.value for p in self.programme.purposes)})"
                )
        for grouping in ("pcns", "places"):
            for group, practices in getattr(self.indicators, grouping).items():
                strangers = sorted(set(practices) - controllers)
                if strangers:
                    raise ValueError(
                        f"indicators.{grouping}.{group}: {', '.join(strangers)} "
                        "is not among programme.controllers"
                    )
        for i, recipient in enumerate(self.recipients):
            if recipient.purpose not in self.programme.purposes:
                raise ValueError(
                    f"recipients[{i}]: purpose {recipient.purpose.value!r} is not one of the "
                    f"programme's purposes ({', '.join(p.value for p in self.programme.purposes)})"
                )
        return self

    def list_providers(self) -> list[str]:
        """The ODS codes of the providers that may receive cohort lists of their own patients:
        every provider of an admitted-care, emergency-care, outpatients or community source that
        is not one of the controller practices."""
        controllers = set(self.programme.controllers)
        return sorted({s.provider for s in self.sources if s.kind in PROVIDER_KINDS} - controllers)

    def provider_name(self, provider: str) -> str:
        """The provider's name: the first `name` its hospital or community sources give, or ""."""
        return next(
            (s.name for s in self.sources if s.provider == provider and s.kind in PROVIDER_KINDS
             and s.name),
            "",
        )  # fmt: skip

    def source_for(self, kind: SourceKind | str, provider: str) -> Source | None:
        for source in self.sources:
            if source.kind == kind and source.provider == provider:
                return source
        return None


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


def _explain(error: dict[str, Any]) -> str:
    # Pydantic names enum and literal choices in its message already ("Input should be 'a' or
    # 'b'"); we add the field path and what the user wrote.
    message = error["msg"].removeprefix("Value error, ")
    location = _field_path(tuple(p for p in error["loc"] if not str(p).startswith("function")))
    if error["type"] == "extra_forbidden":
        message = "is not a setting OpenPHM knows (check the spelling)"
    elif error["type"] == "missing":
        message = "is required"
    got = error.get("input")
    if error["type"] not in ("missing", "extra_forbidden") and isinstance(got, str | int | float):
        message += f" (got {got!r})"
    return f"{location}: {message}" if location else message


def parse_config(text: str, source: str = "programme.toml") -> ProgrammeConfig:
    """Validate programme configuration text; raise ConfigError naming each bad field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{source} is not valid TOML: {err}") from None
    try:
        return ProgrammeConfig.model_validate(data)
    except ValidationError as err:
        problems = "\n".join(f"  - {_explain(e)}" for e in err.errors())
        raise ConfigError(f"{source} has {err.error_count()} problem(s):\n{problems}") from None


def load_config(path: Path) -> ProgrammeConfig:
    """Read and validate a programme.toml file, and the local layouts its sources name (files
    beside it)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such configuration file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text") from None
    config = parse_config(text, str(path))
    object.__setattr__(config, "_folder", path.parent.absolute())
    for i, source in enumerate(config.sources):
        if source.layout.endswith(".toml"):
            from openphm.programme.layouts import LayoutError, load_local

            try:
                layout = load_local(path.parent / source.layout)
            except LayoutError as err:
                raise ConfigError(f"{path}: sources[{i}].layout: {err}") from None
            if layout.kind != source.kind.value:
                raise ConfigError(
                    f"{path}: sources[{i}].layout: {source.layout} is based on {layout.name}, "
                    f"a layout for {layout.kind} sources, not {source.kind.value}"
                )
    return config
