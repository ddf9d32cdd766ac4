"""Layouts as data: how one published data set is laid out, declared in a TOML file.

Reads the built-in layouts shipped beside this module (`<name>.toml`) and local layouts a
programme keeps beside its programme.toml; writes nothing. A layout names the data set's
columns as its specification spells them, the versions of its column set, each kept field's
type, code system and special values (nulls, "not known", invalid), which fields identify the
person, and the canonical identifiable table its rows land in (and, for HES APC, how episodes
become spells; for HES outpatients and A&E, the contract's table its rows are read as). A data
set sent as several tables (MHSDS, CSDS) is one layout per table, grouped by `dataset`, whose
`[[links]]` say which rows of its other tables a row names (`datasets()`). The
landing load compiles it to the same checks as every other extract
(openphm.landing.adapters.layout_schema); docs/extract-formats.md documents each built-in
layout. Nothing here reads or holds patient data, so the programme's configuration can name and
check layouts without reaching zone 1's code.

A local layout adapts a built-in one to how a sender really writes it:

    base = "hes-apc"
    delimiter = "|"
    encoding = "windows-1252"
    date_format = "%d/%m/%Y"
    [columns]            # the file's column = the layout's column
    "NHS_NUMBER" = "NEWNHSNO"
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from openphm.errors import UserFacingError

ENCODINGS = ("utf-8", "windows-1252")
TYPES = ("text", "upper-text", "nhs-number", "date", "code", "choice", "number")
IDENTIFIES = ("NHS number", "date of birth", "postcode", "name", "local id", "sex")


class LayoutError(UserFacingError, ValueError):
    """A layout file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class LayoutField:
    """One kept field of a layout, as the specification declares it."""

    column: str
    canonical: str
    type: str
    required: bool = False
    system: str = ""
    pattern: str = ""
    codes: tuple[tuple[str, str], ...] = ()
    nulls: tuple[str, ...] = ()
    recode: tuple[tuple[str, str], ...] = ()
    invalid: tuple[tuple[str, str], ...] = ()
    not_before: tuple[str, ...] = ()
    filler: str = ""
    width: int = 0
    identifies: str = ""
    meaning: str = ""


@dataclass(frozen=True)
class Link:
    """A field of a data set's table that names a row of another of its tables (the MHSDS
    care contact's RecordNumber names its person in MHS001MPI), found in the same export: the
    tables one provider (folder) sends for one period and revision, ingested together. A row
    whose link finds no row there is quarantined when the export lands
    (openphm.landing.links); `person`: the person's identifiers are that row's, and `dates`
    (this table's) may not be before its date of birth."""

    field: str  # this table's canonical field
    to: str  # the layout of the table it names
    key: str  # that table's canonical field it matches
    person: bool = False
    dates: tuple[str, ...] = ()


@dataclass(frozen=True)
class Version:
    """One version of the data set's column set, recognised from a file's header."""

    name: str
    title: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class HeaderCheck:
    """What a file's header is, against a layout: the version it matches best, the kept
    fields it carries, the version's columns it lacks, the columns only other versions have
    (a file no one version holds whole: an extract spanning data years) and the columns no
    version knows."""

    version: Version
    mapped: tuple[str, ...]
    missing: tuple[str, ...]
    unknown: tuple[str, ...]
    problems: tuple[str, ...]  # why the file cannot be loaded; empty when it can
    elsewhere: tuple[str, ...] = ()


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    specification: str
    version: str
    kind: str
    canonical: str
    record_id: str
    fields: tuple[LayoutField, ...]
    versions: tuple[Version, ...]
    delimiters: tuple[str, ...] = (",",)
    pad: str = " "
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)  # each matched exactly; the first is shown
    times: bool = False  # dates may carry a time of day, which is dropped
    encoding: str = ""  # "" = recognised from the bytes (UTF-8 with or without BOM, else 1252)
    identifiable: tuple[str, ...] = ()
    pseudonymised: tuple[str, ...] = ()
    spell_key: tuple[str, ...] = ()
    spell_order: str = ""
    becomes: str = ""
    source: str = ""  # where the layout was read from
    local: bool = False  # a local layout (a sender's adaptation of this built-in one)
    renamed: tuple[tuple[str, str], ...] = ()  # a local layout's file column -> layout column
    # One table of a data set sent as several (MHSDS, CSDS): the data set's name, the table's
    # name as its specification spells it (which the file's name carries), its links to the
    # data set's other tables, and, for a table read as the contract's, which of its rows are
    # (`becomes_when`: a field's values) and the contract's columns it fills with a constant.
    dataset: str = ""
    table: str = ""
    links: tuple[Link, ...] = ()
    becomes_when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    becomes_values: tuple[tuple[str, str], ...] = ()

    @property
    def known_columns(self) -> frozenset[str]:
        return frozenset(c for v in self.versions for c in v.columns) | {
            f.column for f in self.fields
        }

    def file_column(self, column: str) -> str:
        """The name a file carries for the layout's `column` (a local layout may rename it)."""
        return next((file for file, ours in self.renamed if ours == column), column)

    def as_layout_names(self, header: list[str]) -> list[str]:
        """The layout's name for each of a file's columns: a local layout's renaming, and a
        name the specification spells in capitals given in lower or mixed case (`epikey`, as
        some warehouses export it) read as the specification spells it."""
        mapping = dict(self.renamed)
        known = self.known_columns
        names = [mapping.get(n, n) for n in header]
        return [n.upper() if n not in known and n.upper() in known else n for n in names]

    def check_header(self, header: list[str]) -> HeaderCheck:
        """Match a file's header (as the file names its columns) to a version, and say what
        stops it from loading: a column no version knows (we hold nothing the layout does not
        declare), a required or identifying field missing, a column given twice."""
        names = self.as_layout_names([n.strip() for n in header])
        present = frozenset(names)

        def distance(v: Version) -> tuple[int, int, int]:
            # First the versions that have every column the file has (a real extract carries
            # some of its version's columns, never another's), then the nearest header: by
            # the nearest header alone, a 2019-20 extract of 60 columns, LOPATID among them,
            # was the Artificial Data pilot's (196 columns, no LOPATID) rather than 2019-20's
            # (about 300).
            return (len(present - set(v.columns)), len(set(v.columns) ^ present),
                    -len(v.columns))  # fmt: skip

        version = min(self.versions, key=distance)
        missing = tuple(c for c in version.columns if c not in present)
        unknown = tuple(sorted(present - self.known_columns))
        elsewhere = tuple(sorted((present & self.known_columns) - set(version.columns)))
        mapped = tuple(f.column for f in self.fields if f.column in present)
        problems = []
        if unknown:
            problems.append(
                f"column(s) the {self.name} layout does not list: {', '.join(unknown)} (no "
                "version of the specification declared here has them; nothing undeclared is "
                "held)"
            )
        absent_ids = [c for c in self.identifiable if c not in present]
        if absent_ids:
            carried = [c for c in self.pseudonymised if c in present]
            problems.append(
                f"it does not carry {', '.join(absent_ids)}"
                + (f" (it carries only the pseudonymised {', '.join(carried)})" if carried else "")
                + ": the identifiable flow to a processor carries the NHS number, date of birth "
                "and postcode, without which its people cannot be linked. Ask the sender for "
                "the identifiable extract your data sharing agreement covers"
            )
        required = [f.column for f in self.fields if f.required and f.column not in present]
        if required:
            problems.append(f"missing required column(s) {', '.join(required)}")
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            problems.append(f"repeated column(s) {', '.join(twice)}")
        return HeaderCheck(version, mapped, missing, unknown, tuple(problems), elsewhere)


# ----- reading layout files ------------------------------------------------------------------


def _pairs(value, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise LayoutError(f"{where}: must be a table of text values")
    return tuple((str(k), v) for k, v in value.items())


def _texts(value, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise LayoutError(f"{where}: must be a list of text")
    return tuple(value)


_FIELD_KEYS = {f.name for f in dataclasses.fields(LayoutField)} | {"repeat"}


def _fields(raw: list[dict], where: str) -> tuple[LayoutField, ...]:
    out: list[LayoutField] = []
    for i, item in enumerate(raw):
        at = f"{where}: fields[{i}]"
        unknown = set(item) - _FIELD_KEYS
        if unknown:
            raise LayoutError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        if item.get("type") not in TYPES:
            raise LayoutError(f"{at}: type must be one of {', '.join(TYPES)}")
        if item.get("identifies", "") not in ("", *IDENTIFIES):
            raise LayoutError(f"{at}: identifies must be one of {', '.join(IDENTIFIES)}")
        if item.get("type") == "code" and not item.get("pattern"):
            raise LayoutError(f"{at}: a code field needs its code system's pattern")
        if item.get("pattern"):
            try:
                re.compile(item["pattern"])
            except re.error as err:
                raise LayoutError(f"{at}: pattern is not a regular expression ({err})") from None
        repeat = item.get("repeat", 0)
        for n in range(1, repeat + 1) if repeat else (None,):
            values = {k: v for k, v in item.items() if k != "repeat"}
            if n is not None:
                values["column"] = values["column"].format(n=n)
                values["canonical"] = values["canonical"].format(n=n)
            for key in ("codes", "recode", "invalid"):
                if key in values:
                    values[key] = _pairs(values[key], f"{at}.{key}")
            for key in ("nulls", "not_before"):
                if key in values:
                    values[key] = _texts(values[key], f"{at}.{key}")
            out.append(LayoutField(**values))
    canonical = [f.canonical for f in out]
    twice = sorted({c for c in canonical if canonical.count(c) > 1})
    if twice:
        raise LayoutError(f"{where}: canonical name(s) given twice: {', '.join(twice)}")
    return tuple(out)


def _versions(raw: list[dict], where: str) -> tuple[Version, ...]:
    versions: dict[str, Version] = {}
    for i, item in enumerate(raw):
        if "base" in item:
            base = versions.get(item["base"])
            if base is None:
                raise LayoutError(f"{where}: versions[{i}]: base {item['base']!r} is not declared")
            columns = (
                *(c for c in base.columns if c not in item.get("drops", [])),
                *item.get("adds", []),
            )
        else:
            columns = _texts(item.get("columns"), f"{where}: versions[{i}].columns")
        versions[item["name"]] = Version(item["name"], item.get("title", ""), tuple(columns))
    if not versions:
        raise LayoutError(f"{where}: a layout declares at least one version of its columns")
    return tuple(versions.values())


_LINK_KEYS = {f.name for f in dataclasses.fields(Link)}


def _links(raw: list[dict], where: str) -> tuple[Link, ...]:
    out = []
    for i, item in enumerate(raw):
        unknown = set(item) - _LINK_KEYS
        if unknown:
            raise LayoutError(f"{where}: links[{i}]: unknown key(s) {', '.join(sorted(unknown))}")
        try:
            out.append(
                Link(
                    field=item["field"],
                    to=item["to"],
                    key=item["key"],
                    person=bool(item.get("person", False)),
                    dates=_texts(item.get("dates", []), f"{where}: links[{i}].dates"),
                )
            )
        except KeyError as missing:
            raise LayoutError(f"{where}: links[{i}]: {missing.args[0]} is required") from None
    if sum(link.person for link in out) > 1:
        raise LayoutError(f"{where}: at most one link gives the person")
    return tuple(out)


def _when(value, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        raise LayoutError(f"{where}: becomes_when must be a table of lists of values")
    return tuple((str(k), _texts(v, f"{where}: becomes_when.{k}")) for k, v in value.items())


def parse(data: dict, where: str) -> Layout:
    """A layout from a built-in layout's parsed TOML."""
    try:
        spells = data.get("spells", {})
        layout = Layout(
            name=data["name"],
            title=data["title"],
            specification=data["specification"],
            version=data["version"],
            kind=data["kind"],
            canonical=data["canonical"],
            record_id=data["record_id"],
            fields=_fields(data["fields"], where),
            versions=_versions(data["versions"], where),
            delimiters=tuple(data.get("delimiters", [","])),
            pad=data.get("pad", " "),
            date_formats=_formats(data.get("date_formats", ["%Y-%m-%d"]), where),
            times=bool(data.get("times", False)),
            identifiable=_texts(data.get("identifiable", []), f"{where}: identifiable"),
            pseudonymised=_texts(data.get("pseudonymised", []), f"{where}: pseudonymised"),
            spell_key=tuple(spells.get("key", ())),
            spell_order=spells.get("order", ""),
            # HES APC's episodes become spells ([spells]); a layout whose rows are already
            # the contract's records (one outpatient appointment, one A&E attendance) names
            # the contract's table as `becomes` and is read as it, field for field.
            becomes=spells.get("becomes", data.get("becomes", "")),
            source=where,
            dataset=data.get("dataset", ""),
            table=data.get("table", ""),
            links=_links(data.get("links", []), where),
            becomes_when=_when(data.get("becomes_when", {}), where),
            becomes_values=_pairs(data.get("becomes_values", {}), f"{where}: becomes_values"),
        )
    except KeyError as missing:
        raise LayoutError(f"{where}: {missing.args[0]} is required") from None
    canonical = {f.canonical for f in layout.fields}
    if layout.record_id not in canonical:
        raise LayoutError(f"{where}: record_id {layout.record_id!r} is not a field")
    if bool(layout.dataset) != bool(layout.table):
        raise LayoutError(f"{where}: a data set's table gives both dataset and table")
    for link in layout.links:
        for name in (link.field, *link.dates):
            if name not in canonical:
                raise LayoutError(f"{where}: links: {name!r} is not a field")
        if not next(f for f in layout.fields if f.canonical == link.field).required:
            raise LayoutError(f"{where}: links: {link.field!r} must be a required field")
    for name, _ in layout.becomes_when:
        if name not in canonical:
            raise LayoutError(f"{where}: becomes_when: {name!r} is not a field")
    return layout


def _check_links(layouts: dict[str, Layout]) -> None:
    """Every link names a table of its own data set, by a field that table has."""
    for layout in layouts.values():
        for link in layout.links:
            target = layouts.get(link.to)
            if target is None or target.dataset != layout.dataset:
                raise LayoutError(
                    f"{layout.source}: links: {link.to!r} is not a table of the "
                    f"{layout.dataset} data set"
                )
            if link.key not in {f.canonical for f in target.fields}:
                raise LayoutError(f"{layout.source}: links: {link.to} has no field {link.key!r}")


@cache
def datasets() -> dict[str, tuple[Layout, ...]]:
    """The built-in data sets sent as several tables (MHSDS, CSDS): each its tables' layouts,
    the tables others link to first."""
    grouped: dict[str, list[Layout]] = {}
    for layout in builtin().values():
        if layout.dataset:
            grouped.setdefault(layout.dataset, []).append(layout)
    ordered = {}
    for name, members in grouped.items():
        done: list[Layout] = []
        while len(done) < len(members):
            ready = [
                m
                for m in members
                if m not in done and all(link.to in {d.name for d in done} for link in m.links)
            ]
            if not ready:
                raise LayoutError(f"the {name} data set's tables link to each other in a circle")
            done.extend(ready)
        ordered[name] = tuple(done)
    return ordered


@cache
def builtin() -> dict[str, Layout]:
    """The built-in layouts by name."""
    folder = resources.files(__name__)
    layouts = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".toml"):
            layout = parse(tomllib.loads(item.read_text(encoding="utf-8")), item.name)
            layouts[layout.name] = layout
    _check_links(layouts)
    return layouts


def _formats(value, where: str) -> tuple[str, ...]:
    """Date formats as given (one, or a list), each with an exact pattern."""
    formats = (value,) if isinstance(value, str) else _texts(value, f"{where}: date formats")
    if not formats:
        raise LayoutError(f"{where}: give at least one date format")
    for fmt in formats:
        strptime_pattern(fmt)
    return formats


_LOCAL_KEYS = {"base", "delimiter", "encoding", "date_format", "times", "columns"}


def load_local(path: Path) -> Layout:
    """A local layout: a built-in layout as one sender writes it (docs/programme-config.md)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LayoutError(f"{path}: no such layout file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise LayoutError(f"{path} is not valid TOML ({type(err).__name__})") from None
    unknown = set(data) - _LOCAL_KEYS
    if unknown:
        raise LayoutError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    base = builtin().get(data.get("base", ""))
    if base is None:
        raise LayoutError(
            f"{path}: base must name a built-in layout ({', '.join(builtin())}), "
            f"got {data.get('base')!r}"
        )
    if base.dataset:
        raise LayoutError(
            f"{path}: {base.name} is one table of the {base.dataset} data set, which a source "
            'names whole (layout = "' + base.dataset + '"); a local layout cannot adapt it yet'
        )
    changes: dict = {"source": str(path), "local": True}
    if "delimiter" in data:
        if data["delimiter"] not in (",", "|", "\t", ";"):
            raise LayoutError(f"{path}: delimiter must be one of , | ; or a tab")
        changes["delimiters"] = (data["delimiter"],)
    if "encoding" in data:
        if data["encoding"] not in ENCODINGS:
            raise LayoutError(f"{path}: encoding must be one of {', '.join(ENCODINGS)}")
        changes["encoding"] = data["encoding"]
    if "date_format" in data:
        changes["date_formats"] = _formats(data["date_format"], str(path))
    if "times" in data:
        changes["times"] = bool(data["times"])
    renamed = _pairs(data.get("columns", {}), f"{path}: columns")
    strangers = sorted(ours for _, ours in renamed if ours not in base.known_columns)
    if strangers:
        raise LayoutError(
            f"{path}: columns maps onto column(s) the {base.name} layout does not have: "
            f"{', '.join(strangers)}"
        )
    changes["renamed"] = renamed
    return dataclasses.replace(base, **changes)


def resolve(name: str, folder: Path | None = None) -> Layout:
    """A built-in layout by name, or a local layout file (relative to `folder`)."""
    if name in builtin():
        return builtin()[name]
    if name in datasets():
        raise LayoutError(
            f"{name!r} is a data set sent as several tables: name one of its tables' layouts "
            f"({', '.join(t.name for t in datasets()[name])})"
        )
    if name.endswith(".toml"):
        return load_local((folder or Path.cwd()) / name)
    raise LayoutError(
        f"{name!r} is not a built-in layout ({', '.join(builtin())}) nor a local layout file "
        "(a .toml file beside programme.toml)"
    )


_DIRECTIVES = frozenset("YmdHMSyb%")  # those with an exact pattern (landing.schema)


def strptime_pattern(fmt: str) -> None:
    """Refuse a date format with a directive the landing checks cannot match exactly."""
    for directive in re.findall("%(.)", fmt):
        if directive not in _DIRECTIVES:
            raise LayoutError(f"date format {fmt!r}: %{directive} has no exact pattern")


def fiscal_year_end(fyear: str) -> str:
    """HES's FYEAR (`0102` = 2001-02) as the period YYYYMM of its last month (March)."""
    end = int(fyear[2:])
    century = 2000 if end < 80 else 1900
    return f"{century + end:04d}03"
