"""Finding providers' extract files and reading what their names and places say.

Reads file names, folders and bytes (for the fingerprint); writes nothing. The layout is the
contract's (docs/extract-formats.md): `<source kind>/<ODS code>/<ODS>_<table>_<YYYYMM>[_r<N>].csv`
(or `.parquet`, or `<ODS>_<ResourceType>_<YYYYMM>.ndjson` for FHIR R4 bulk export). A file that
does not follow it is refused whole, with a message that names the file and says what to do.
Only regular files are read (`opened`): reading a FIFO, socket or device could wait for ever,
with the landing lock held.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from openphm.errors import UserFacingError
from openphm.landing.adapters import Table, table_for
from openphm.programme.config import ProgrammeConfig, SourceKind

_NAME = re.compile(
    r"^(?P<ods>[A-Z0-9]{3,6})_(?P<table>[A-Za-z]+(?:-[A-Za-z]+)*)_(?P<period>[0-9]{4}(0[1-9]|1[0-2]))"
    r"(?:_r(?P<revision>[2-9]|[1-9][0-9]+))?\.(?P<ext>csv|parquet|ndjson)$"
)
# A file of a data set sent as several tables, named after its table as the specification
# spells it (`X26_MHS201CareContact_202603.csv`), in any of a layout's text formats.
_DATASET_NAME = re.compile(
    r"^(?P<ods>[A-Z0-9]{3,6})_(?P<table>[A-Za-z0-9-]+)_(?P<period>[0-9]{4}(0[1-9]|1[0-2]))"
    r"(?:_r(?P<revision>[2-9]|[1-9][0-9]+))?\.(?i:csv|txt|tsv|dat|parquet)$"
)
# FHIR resource types and the GP table their resources land in (docs/landing.md, "FHIR").
FHIR_RESOURCES = {
    "Patient": "patients",
    "Encounter": "consultations",
    "Condition": "events",
    "Observation": "events",
    "MedicationRequest": "medications",
}
_ARCHIVES = (".zip", ".gz", ".7z", ".tar", ".tgz", ".bz2", ".xz")
_NOT_FILES = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a device",
    stat.S_IFBLK: "a device",
    stat.S_IFDIR: "a folder",
}


class PathNotFound(UserFacingError):
    """A path given to `phm ingest` does not exist."""


def loggable(path: Path) -> str:
    """The path as the audit log may keep it. A name in the extract convention holds only an
    ODS code, a table and a period; any other name could hold anything a provider typed (even
    a patient's name), and the log is append-only, so it keeps the folder and a hash."""
    if _NAME.match(path.name):
        return str(path)
    digest = hashlib.sha256(path.name.encode()).hexdigest()[:12]
    return str(path.parent / f"(file name not in the convention, sha256 {digest})")


class Refused(UserFacingError):
    """A file refused whole: nothing of it is loaded. The message names the file."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@dataclass(frozen=True)
class Extract:
    """A file whose name and place say what it is and who sent it."""

    path: Path
    kind: SourceKind
    provider: str
    table: Table
    period: str
    revision: int
    format: str  # csv, parquet or fhir
    resource: str = ""  # FHIR resource type
    # While the file is being loaded: the open file itself (`opened`), which readers read
    # instead of `path`, so that whatever takes the name meanwhile is never read.
    source: Path | None = None
    # A CSV file's lines, counted from its bytes when it was fingerprinted: its rows are
    # reconciled with them after loading (load.reconcile_lines).
    lines: int | None = None

    @property
    def read_from(self) -> Path:
        return self.source or self.path

    @property
    def slot(self) -> tuple[str, str, str, str]:
        """What a resubmission replaces: the same provider, kind, table and period. A FHIR
        file's slot is its resource type, since two types can land in one table."""
        return (self.kind.value, self.provider, self.resource or self.table.token, self.period)


def find(paths: Iterable[Path]) -> list[Path]:
    """Everything but folders under the given files and folders, in a stable order (a FIFO,
    socket, device or dangling link too: `opened` refuses it by name, where skipping it would
    hide it); fails before anything is read if a path does not exist."""
    found: list[Path] = []
    for path in map(Path, paths):
        if not os.path.lexists(path):
            raise PathNotFound(f"{path}: no such file or folder; nothing was loaded")
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if not p.is_dir() and _visible(p, path))
        else:
            found.append(path)
    return list(dict.fromkeys(p.absolute() for p in found))


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Path]:
    """`path` held open if it is a regular file (or a link to one), else Refused; yields a
    name for the open file itself (/proc/self/fd/N, Linux), for readers that take a name.
    Opened with O_PATH, which never waits and never opens a device, then checked; and since
    readers read through the open file, a FIFO put in the file's place after the check is
    never read: the check and the read cannot race."""
    try:
        handle = os.open(path, os.O_PATH)
    except FileNotFoundError:
        raise Refused(
            path,
            "is a symbolic link to nothing (what it points to does not exist), or was removed "
            "since the command started; nothing was read from it",
        ) from None
    try:
        kind = stat.S_IFMT(os.fstat(handle).st_mode)
        if kind != stat.S_IFREG:
            raise Refused(
                path,
                f"is {_NOT_FILES.get(kind, 'not a regular file')}, not a file: nothing was read "
                "from it. Only files are ingested: put the extract in the inbox as a file",
            )
        yield Path(f"/proc/self/fd/{handle}")
    finally:
        os.close(handle)


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


_LAYOUT_SUFFIXES = (".csv", ".txt", ".tsv", ".dat")


def identify(path: Path, config: ProgrammeConfig, folder: Path | None = None) -> Extract:
    """What the file is, from its name and folders; Refused if the programme does not take it.
    `folder`: where the programme's local layouts are (beside programme.toml)."""
    if path.suffix.lower() in _ARCHIVES:
        raise Refused(
            path,
            "is an archive; OpenPHM does not unpack archives (a file inside could bypass the "
            "checks on names and sizes): unpack it into the inbox and ingest the folder",
        )
    source = None
    if path.parent.parent.name in {k.value for k in SourceKind}:
        source = config.source_for(SourceKind(path.parent.parent.name), path.parent.name)
    if source is not None and source.layout:
        return _identify_by_layout(path, source, folder or config.folder)
    match = _NAME.match(path.name)
    if not match:
        raise Refused(
            path,
            "the name does not follow <ODS code>_<table>_<YYYYMM>[_r<N>].csv|parquet|ndjson "
            "(docs/extract-formats.md); rename it or ask the provider to resend it",
        )
    provider_folder, kind_folder = path.parent.name, path.parent.parent.name
    try:
        kind = SourceKind(kind_folder)
    except ValueError:
        raise Refused(
            path,
            f"is not in a <source kind>/<ODS code>/ folder (the folder {kind_folder!r} is not "
            f"a source kind; kinds are {', '.join(k.value for k in SourceKind)})",
        ) from None
    ods = match["ods"]
    if provider_folder != ods:
        raise Refused(
            path, f"the file name says provider {ods} but it is in the folder of {provider_folder}"
        )
    if config.source_for(kind, ods) is None:
        raise Refused(
            path,
            f"the programme does not list {kind.value} extracts from {ods}; add the source to "
            "programme.toml if it should take part",
        )
    token, resource, fmt = match["table"], "", match["ext"]
    if fmt == "ndjson":
        return _identify_fhir(path, kind, ods, match)
    table = table_for(kind, token)
    if table is not None and table.resource:
        raise Refused(
            path,
            f"{token} is a FHIR resource type: a FHIR bulk export's file is NDJSON, named "
            f"<ODS code>_{token}_<YYYYMM>.ndjson",
        )
    if table is None:
        raise Refused(
            path,
            f"{kind.value} extracts have no table {token!r}; the tables are "
            f"{', '.join(_tokens(kind))}",
        )
    return Extract(
        path, kind, ods, table, match["period"], int(match["revision"] or 1), fmt, resource
    )


def _identify_fhir(path: Path, kind: SourceKind, ods: str, match: re.Match) -> Extract:
    """A FHIR R4 bulk export's NDJSON file of one resource type (docs/landing.md, "FHIR R4
    bulk export"): a GP practice's resources land in the GP tables, a hospital provider's in
    the FHIR tables its source kind declares (adapters.fhir_table_for)."""
    from openphm.landing.adapters import fhir_table_for

    resource = match["table"]
    if kind is SourceKind.GP:
        table = table_for(kind, FHIR_RESOURCES[resource]) if resource in FHIR_RESOURCES else None
        mapped = ", ".join(FHIR_RESOURCES)
    else:
        table = fhir_table_for(kind, resource)
        mapped = ", ".join(_fhir_resources(kind))
    if table is None:
        if mapped:
            says = (
                f"FHIR bulk export from {kind.value} sources is mapped for {mapped} resources only"
            )
        else:
            says = (
                f"FHIR bulk export is not mapped for {kind.value} sources yet (docs/landing.md, "
                '"FHIR R4 bulk export", says why); send the contract\'s CSV tables'
            )
        raise Refused(path, says)
    return Extract(
        path,
        kind,
        ods,
        table,
        match["period"],
        int(match["revision"] or 1),
        "fhir",
        resource,
    )


def _fhir_resources(kind: SourceKind) -> list[str]:
    from openphm.landing.adapters import ADAPTERS

    return [t.resource for t in ADAPTERS[kind] if t.resource]


def _identify_by_layout(path: Path, source, folder: Path | None) -> Extract:
    """A file of a source that names its layout: named as the sender names it. The period
    comes from the source's `period` pattern (a group `yyyymm`, or `fyear`, HES's financial
    year `0102`, read as its last month), or else from a name in the contract's convention."""
    from openphm.landing.adapters import layout_table
    from openphm.programme.layouts import LayoutError, datasets, fiscal_year_end, resolve

    tables = datasets().get(source.layout)
    if tables:
        layout = _dataset_table(path, source.layout, tables)
        token = layout.table
    else:
        try:
            layout = resolve(source.layout, folder)
        except LayoutError as err:
            raise Refused(path, f"its source's layout cannot be read: {err}") from None
        token = layout.name
    table = table_for(source.kind, layout.name)
    if table is None or table.layout != layout:
        table = layout_table(layout)  # a local layout: the built-in one as this sender writes it
    suffix = path.suffix.lower()
    if suffix not in (*_LAYOUT_SUFFIXES, ".parquet"):
        raise Refused(
            path,
            f"is not a delimited text file ({', '.join(_LAYOUT_SUFFIXES)}) or Parquet; the "
            f"{layout.name} layout reads those",
        )
    fmt = "parquet" if suffix == ".parquet" else "csv"
    found = re.search(source.period, path.name) if source.period else None
    if found:
        groups = found.groupdict()
        if groups.get("yyyymm"):
            period = groups["yyyymm"]
        elif groups.get("fyear") and re.fullmatch("[0-9]{4}", groups["fyear"]):
            period = fiscal_year_end(groups["fyear"])
        else:
            period = ""
        revision = int(groups["revision"]) if groups.get("revision") else 1
    elif (named := _DATASET_NAME.match(path.name)) and (
        named["table"] == token and named["ods"] == source.provider
    ):
        period, revision = named["period"], int(named["revision"] or 1)
    else:
        pattern = (
            "the source's period pattern (programme.toml sources.period) nor "
            if source.period
            else ""
        )
        raise Refused(
            path,
            f"the name matches neither {pattern}<ODS code>_{token}_<YYYYMM>[_r<N>], so "
            "the extract's period is not known; rename it, or give the source a period "
            "pattern (e.g. '_(?P<yyyymm>[0-9]{6})')",
        )
    if not re.fullmatch(r"[0-9]{4}(0[1-9]|1[0-2])", period):
        raise Refused(path, "the period its name gives is not a month YYYYMM")
    return Extract(path, source.kind, source.provider, table, period, revision, fmt)


def _dataset_table(path: Path, dataset: str, tables):
    """The table of a data set sent as several tables (MHSDS, CSDS) that a file holds: the one
    whose name, as the specification spells it (`MHS201CareContact`), the file's name carries
    (in any case)."""
    name = path.name.lower()
    found = [t for t in tables if t.table.lower() in name]
    if len(found) != 1:
        raise Refused(
            path,
            f"its source sends the {dataset} data set, whose tables are "
            f"{', '.join(t.table for t in tables)}; the file's name must carry exactly one of "
            "those names (e.g. <ODS code>_" + tables[-1].table + "_<YYYYMM>.csv)",
        )
    return found[0]


def _tokens(kind: SourceKind) -> list[str]:
    from openphm.landing.adapters import ADAPTERS

    return [t.token for t in ADAPTERS[kind] if not t.resource]


def fingerprint(path: Path) -> str:
    """SHA-256 of the file's bytes, read in blocks so a 2 GB file costs no memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_and_lines(path: Path) -> tuple[str, int]:
    """SHA-256 of the file's bytes and how many lines it has, counted from its bytes alone
    (a line ends at CR, LF or CRLF, as both CSV readers take it; a last line without an end
    counts). The count is what a CSV file's rows are reconciled with, independently of any
    CSV reader (load.reconcile_lines); counting in the same pass costs little more."""
    digest, lines, last = hashlib.sha256(), 0, b""
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
            lines += block.count(b"\n")
            if returns := block.count(b"\r"):  # most files have none: two scans, not three
                lines += returns - block.count(b"\r\n")
            if last == b"\r" and block[:1] == b"\n":
                lines -= 1  # a CRLF split between two blocks
            last = block[-1:]
    if last and last not in (b"\r", b"\n"):
        lines += 1
    return digest.hexdigest(), lines


def blank_lines(path: Path) -> int:
    """How many lines of the file are empty (both CSV readers skip them)."""
    blank, last = 0, b"\n"  # an empty first line counts too
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            text = last + block
            text = text.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            blank += len(re.findall(b"\n(?=\n)", text))
            last = text[-1:]
            if last == b"\n" and block[-1:] == b"\r":
                last = b"\r"  # its LF may start the next block
    return blank
