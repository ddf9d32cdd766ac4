"""`phm ingest`: land providers' extracts in zone 1, all of a run's files in one batch, atomically.

Reads providers' files; writes zone 1 (one new encrypted batch file with its own data key), the
landing catalog and the audit log. A run commits in three steps: the batch is written under a
temporary name, renamed into place, and then named in the catalog, whose atomic replacement is
the commit point. A run killed at any moment leaves a temporary file, an uncatalogued batch or a
key that no catalogued batch uses; the next ingest or scheduled run removes them
(`retention.destroy_leftovers`), so the zone is as it was before the run, and running the same
command again completes it. The files' audit entries are bound to the commit by an intent
(governance.intents): killed after the commit, the run's entries are recorded when the
workspace is next opened.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import secrets
import shutil
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from openphm import clock
from openphm.engine import attach_encrypted, connect
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.keystore import KeyName
from openphm.landing import catalog as cat
from openphm.landing.fhir import check_references
from openphm.landing.files import (
    Extract,
    Refused,
    find,
    fingerprint,
    fingerprint_and_lines,
    identify,
    loggable,
    opened,
)
from openphm.landing.links import check_links
from openphm.landing.load import Counts, load_extract, prepare, recount
from openphm.landing.readers import open_extract
from openphm.landing.retention import destroy_leftovers
from openphm.programme.config import SourceKind
from openphm.programme.workspace import Workspace

ALIAS = "batch"
LOADED, UNCHANGED, REFUSED = "loaded", "unchanged", "refused"
MEMORY_LIMIT = "3GB"
CHECKPOINT_AT_DETACH = "1TB"  # a write-ahead log this large is never reached
WORKERS = 2  # files loaded at once; the programme's machines have two cores or more


@dataclass(frozen=True)
class FileOutcome:
    """What became of one file. `message` names the file's fate and never a value in it."""

    path: Path
    status: str  # loaded, unchanged or refused
    message: str
    counts: Counts | None = None
    submission_id: str = ""


@dataclass(frozen=True)
class IngestReport:
    batch_id: str | None
    outcomes: tuple[FileOutcome, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)


def batch_path(zone: Path, batch_id: str) -> Path:
    return zone / f"batch-{batch_id}.duckdb"


def ingest(
    ws: Workspace,
    paths: Iterable[Path],
    actor: Actor,
    *,
    on_file: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Load every file under `paths` into zone 1 in one batch; refuse whole the files the
    programme does not take; change nothing for files already landed."""
    ws.authorise(actor, "landing.ingest")
    files = find(paths)
    zone = ws.zone("landing")
    with cat.locked(zone):
        destroy_leftovers(ws, actor)
        catalog = cat.load(zone)
        arrived = clock.now()
        outcomes: list[FileOutcome] = []
        todo: list[tuple[Extract, str]] = []
        # Reading every file for its fingerprint and lines took 7.6 s of a million-person
        # region's 76 s on one core; reading and hashing leave Python's lock, so the files are
        # read side by side, and what becomes of each is decided in the files' own order.
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            read = list(pool.map(lambda path: _fingerprinted(path, ws), files))
        for path, (refused, extract, sha) in zip(files, read, strict=True):
            outcome = refused or _triage(path, extract, sha, catalog, todo)
            if outcome:
                outcomes.append(outcome)
                _record(ws, actor, outcome)
                if on_file:
                    on_file(outcome)
            else:
                todo.append((extract, sha))
        batch_id = None
        if todo:
            batch_id, loaded = _load_batch(ws, catalog, todo, arrived, actor, on_file)
            outcomes.extend(loaded)
    return IngestReport(batch_id, tuple(outcomes))


def _fingerprinted(path: Path, ws: Workspace) -> tuple[FileOutcome | None, Extract | None, str]:
    """(outcome, None, "") for a file refused on reading; (None, extract, sha256) for a file
    read: its extract, with a CSV file's lines counted. Touches nothing shared, so files are
    read side by side."""
    try:
        with opened(path) as source:
            extract = identify(path, ws.config)
            if extract.format == "csv":
                sha, lines = fingerprint_and_lines(source)
                extract = dataclasses.replace(extract, lines=lines)
            else:
                sha = fingerprint(source)
    except Refused as refusal:
        return FileOutcome(path, REFUSED, str(refusal)), None, ""
    return None, extract, sha


def _triage(
    path: Path, extract: Extract, sha: str, catalog: cat.Catalog, todo: list[tuple[Extract, str]]
) -> FileOutcome | None:
    """The outcome of a file read that is already landed, or clashes with one landed or to
    land; None for a file to load."""
    earlier = catalog.by_fingerprint(sha)
    if earlier:
        fate = (
            "was destroyed by retention, so it is not landed again"
            if earlier.state == cat.DESTROYED
            else "nothing changed"
        )
        message = (
            f"{path}: already landed on {earlier.arrived[:10]} as {earlier.submission_id}; {fate}"
        )
        return FileOutcome(path, UNCHANGED, message, submission_id=earlier.submission_id)
    if any(sha == s for _, s in todo):
        return FileOutcome(path, UNCHANGED, f"{path}: the same file is given twice")
    clash = next(
        (
            s.file
            for s in catalog.submissions
            if s.slot == extract.slot and s.revision == extract.revision
        ),
        None,
    ) or next(
        (e.path.name for e, _ in todo if e.slot == extract.slot and e.revision == extract.revision),
        None,
    )
    if clash:
        reason = (
            f"{clash} was already landed for the same provider, table and period, with "
            f"different content; send a correction as _r{extract.revision + 1}"
        )
        return FileOutcome(path, REFUSED, str(Refused(path, reason)))
    return None


def _load_batch(ws, catalog, todo, arrived: dt.datetime, actor, on_file):
    zone = ws.zone("landing")
    batch_id = f"{arrived:%Y%m%d-%H%M%S}-{secrets.token_hex(4)}"
    final = batch_path(zone, batch_id)
    tmp = zone / f".{final.name}.tmp"
    key = ws.keystore.create(KeyName.landing_batch(batch_id))
    spill = zone / f".spill-{batch_id}"
    # Without a limit DuckDB may take 80% of the machine's memory. A load streams each file
    # from disk into the batch, so a few GB is ample however large the files.
    sizes = [extract.path.stat().st_size for extract, _ in todo]
    con = connect(memory_limit=MEMORY_LIMIT, temp_directory=spill, threads=threads_per_file(sizes))
    # DuckDB's default, stated because row numbers depend on it (load._whole_file).
    con.execute("SET preserve_insertion_order = true")
    # One checkpoint, at DETACH, instead of one each time the write-ahead log passes 16 MB:
    # each of those re-compressed the tables' last row groups while files were still being
    # appended (19 s of a million-person region's 150). The batch is a temporary file until
    # it is renamed after DETACH, so deferring costs no durability.
    con.execute(f"SET checkpoint_threshold = '{CHECKPOINT_AT_DETACH}'")
    attach_encrypted(con, tmp, ALIAS, key)
    prepare(con, ALIAS)
    outcomes: list[FileOutcome] = []
    added: list[cat.Submission] = []

    def load(item: tuple[Extract, str]):
        with con.cursor() as cursor:
            return _load_one(cursor, *item, batch_id, arrived, catalog)

    # Files are loaded side by side, each on its own cursor, largest first, so that the run
    # does not end with one core loading a large file while the other waits; outcomes are
    # reported and catalogued in the files' own order.
    largest_first = sorted(range(len(todo)), key=lambda i: -sizes[i])
    # A hospital's FHIR files refer to each other: their outcomes are known only once every
    # file of the run has landed and the references are checked (fhir.check_references).
    # So are the tables of a data set sent as several (MHSDS, CSDS: landing.links).
    exports = any(
        (e.format == "fhir" and e.kind is not SourceKind.GP)
        or (e.table.layout is not None and e.table.layout.dataset)
        for e, _ in todo
    )
    results = []
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        started = {i: pool.submit(load, todo[i]) for i in largest_first}
        for i in range(len(todo)):
            results.append(started[i].result())
            if on_file and not exports:
                on_file(results[-1][0])
    if exports:
        results = _check_exports(con, todo, results)
    for outcome, submission in results:
        outcomes.append(outcome)
        if submission:
            added.append(submission)
        if on_file and exports:
            on_file(outcome)
    con.execute(f"DETACH {ALIAS}")
    con.close()
    shutil.rmtree(spill, ignore_errors=True)
    if not added:
        # Every file was refused on reading: nothing to commit.
        tmp.unlink(missing_ok=True)
        ws.keystore.destroy(KeyName.landing_batch(batch_id))
        for outcome in outcomes:
            _record(ws, actor, outcome)
        return None, outcomes
    tmp.rename(final)
    cat.sync_folder(zone)
    catalog.batches[batch_id] = cat.Batch(batch_id, final.name, arrived.isoformat())
    catalog.submissions.extend(added)
    catalog.settle()  # before the entries are made: one names the submissions it replaces
    entries = [_entry(actor, o, catalog=catalog, batch=final.name) for o in outcomes]
    with intents.committing(ws.audit, cat.batch_intent(ws, batch_id, entries)):
        cat.save(zone, catalog)  # the commit point
    return batch_id, outcomes


def _check_exports(con, todo, results):
    """`results` (outcome, submission per file of `todo`) after the references between a
    hospital's FHIR files, and the links between a data set's tables, landed in this run are
    checked: the counts of the files whose rows
    were quarantined for a reference their export does not hold, recounted."""
    landed = [
        (extract, outcome.submission_id)
        for (extract, _), (outcome, _) in zip(todo, results, strict=True)
        if outcome.status == LOADED
    ]
    changed = check_references(
        con,
        ALIAS,
        [(e, s) for e, s in landed if e.format == "fhir" and e.kind is not SourceKind.GP],
    )
    changed |= check_links(con, ALIAS, landed)
    checked = []
    for (extract, _), (outcome, submission) in zip(todo, results, strict=True):
        if outcome.submission_id in changed and outcome.status == LOADED:
            counts = recount(
                con, ALIAS, extract.table.canonical, outcome.submission_id, outcome.counts
            )
            submission = dataclasses.replace(
                submission, loaded=counts.loaded, quarantined=counts.quarantined
            )
            message = (
                f"{extract.path}: {counts.received} rows received, {counts.loaded} loaded, "
                f"{counts.quarantined} quarantined (references checked within its export)"
            )
            outcome = dataclasses.replace(outcome, counts=counts, message=message)
        checked.append((outcome, submission))
    return checked


def threads_per_file(sizes: list[int], cores: int | None = None) -> int | None:
    """DuckDB threads for a batch of files of `sizes` bytes on a machine of `cores` cores (this
    one by default): the cores shared out among the WORKERS files being loaded at once (one
    each on two cores), unless one file is more than a WORKERS-th of the bytes, when that file
    would be left loading on its share; then DuckDB's default (every core). With two files
    side by side on two threads each, DuckDB split every file's reading, checking and writing
    between threads that then waited for each other: a million-person region's ingest took
    25% more CPU time (docs/landing.md, "Speed")."""
    if max(sizes) * WORKERS > sum(sizes):
        return None
    return max(1, (cores or os.cpu_count() or 1) // WORKERS)


def _load_one(con, extract: Extract, sha: str, batch_id: str, arrived, catalog):
    """Load the file as it is opened now, so what is read is a regular file (files.opened)."""
    try:
        with opened(extract.path) as source:
            checked = dataclasses.replace(extract, source=source)
            return _load_opened(con, checked, sha, batch_id, arrived, catalog)
    except Refused as refusal:
        return FileOutcome(extract.path, REFUSED, str(refusal)), None


def _load_opened(con, extract: Extract, sha: str, batch_id: str, arrived, catalog):
    submission_id = (
        f"{extract.provider}-{extract.slot[2]}-{extract.period}-r{extract.revision}-{sha[:8]}"
    )
    try:
        reader = open_extract(extract)
        counts = load_extract(con, ALIAS, reader, submission_id, arrived.date())
    except Refused as refusal:
        return FileOutcome(extract.path, REFUSED, str(refusal)), None
    except Exception as err:  # a file Arrow cannot read; its message may quote a row
        _discard(con, extract, submission_id)
        reason = f"could not be read ({type(err).__name__}); nothing from it was loaded"
        return FileOutcome(extract.path, REFUSED, str(Refused(extract.path, reason))), None
    if not _unchanged(extract.read_from, sha):
        # Still being written (or replaced) while it was read: what was loaded may not be the
        # file whose SHA-256 the catalog would record, and a file with failing rows is read
        # twice (load._whole_file), so its rows as received could come from other text.
        _discard(con, extract, submission_id)
        reason = (
            "changed while it was being loaded; nothing from it was loaded: ingest it again "
            "once it is complete"
        )
        return FileOutcome(extract.path, REFUSED, str(Refused(extract.path, reason))), None
    submission = cat.Submission(
        submission_id=submission_id,
        file=str(extract.path),
        sha256=sha,
        source_kind=extract.kind.value,
        provider=extract.provider,
        table=extract.slot[2],
        canonical_table=extract.table.becomes or extract.table.canonical,
        period=extract.period,
        revision=extract.revision,
        snapshot=extract.table.snapshot,
        flavour=reader.flavour,
        batch_id=batch_id,
        arrived=arrived.isoformat(),
        received=counts.received,
        loaded=counts.loaded,
        quarantined=counts.quarantined,
    )
    notes = [f"read as {reader.encoding}"] if reader.encoding != "utf-8" else []
    if extract.table.layout is not None:  # the layout and the version its header matched
        notes.insert(0, f"layout {reader.flavour}")
    if reader.delimiter != ",":
        notes.append(f"separated by {reader.delimiter!r}, not commas")
    message = (
        f"{extract.path}: {counts.received} rows received, {counts.loaded} loaded, "
        f"{counts.quarantined} quarantined" + (f" ({'; '.join(notes)})" if notes else "")
    )
    return FileOutcome(extract.path, LOADED, message, counts, submission_id), submission


def _unchanged(path: Path, sha: str) -> bool:
    """Whether the file still has the SHA-256 it had before it was loaded."""
    try:
        return fingerprint(path) == sha
    except OSError:  # removed or unreadable since
        return False


def _discard(con, extract: Extract, submission_id: str) -> None:
    for table in (extract.table.canonical, "quarantine", "quarantined_rows"):
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = ?",
            [ALIAS, table],
        ).fetchone()[0]
        if exists:
            con.execute(f"DELETE FROM {ALIAS}.{table} WHERE submission_id = ?", [submission_id])


def _record(ws, actor, outcome: FileOutcome) -> None:
    _entry(actor, outcome).record(ws.audit)


def _entry(actor, outcome: FileOutcome, *, catalog=None, batch: str = "") -> intents.Entry:
    """One audit entry per file: its three counts, or why it was refused or left unchanged."""
    if outcome.status == LOADED:
        replaced = _replaced(catalog, outcome.submission_id)
        return intents.Entry(
            actor,
            "landing.ingest",
            reads=(str(outcome.path),),
            writes=(f"landing/{batch}",),
            counts={
                "received": outcome.counts.received,
                "loaded": outcome.counts.loaded,
                "quarantined": outcome.counts.quarantined,
            },
            reason=f"submission {outcome.submission_id}"
            + (f"; replaces {', '.join(replaced)}" if replaced else ""),
        )
    where = loggable(outcome.path)
    return intents.Entry(
        actor,
        "landing.ingest",
        outcome="refused" if outcome.status == REFUSED else "ok",
        reads=(where,),
        reason=outcome.message.replace(str(outcome.path), where),
    )


def _replaced(catalog: cat.Catalog | None, submission_id: str) -> list[str]:
    if catalog is None:
        return []
    new = next(s for s in catalog.submissions if s.submission_id == submission_id)
    return [
        s.submission_id
        for s in catalog.submissions
        if s.state == cat.SUPERSEDED and s.slot == new.slot and s.revision < new.revision
    ]
