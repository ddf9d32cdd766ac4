"""Where link's time goes, and whether a change left the linked zone the same.

    python benchmarks/link_steps.py ingest REGION INGESTED
    python benchmarks/link_steps.py link INGESTED WORK REGION
    python benchmarks/link_steps.py fingerprint WORK

`ingest` sets up a workspace on the `region/` of an earlier `phm bench --out DIR` and lands its
extracts (init and ingest, as `phm bench` runs them). `link` copies that ingested workspace to
WORK (emptied first) and runs `phm bench`'s link stage on the copy, printing the stage's steps,
its wall and CPU seconds, peak memory, the seconds of each named function of linkage and of
Splink's SQL by the table it makes (predict, blocked pairs, u's counts, EM's vectors). Run
it again after a change, or with another checkout's code on its own region, for an A/B in one
hour. `fingerprint` prints, per linked table of WORK, its rows and a sum of a hash of every row
(sealed tokens and key ids left out: their nonces are random), so two links of the same
ingested workspace can be compared table by table (docs/benchmarks.md, run X).
"""

from __future__ import annotations

import functools
import importlib
import resource
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

# (module, functions) of linkage timed by `link`; a name a checkout lacks is skipped.
TIMED = {
    "openphm.pseudonymise.link": (
        "_apply_objections", "_counts", "_equity", "_resolve_others", "_resolve_gp",
        "_rekey", "_update_objectors",
    ),
    "openphm.pseudonymise.ledger": ("remove", "record", "write_reports"),
    "openphm.pseudonymise.gp": (
        "ref_pseudonyms", "patients", "spine", "adopt_traced", "refresh_refs", "seal",
    ),
    "openphm.pseudonymise.hospital": ("local_refs", "refresh_refs", "seal"),
    "openphm.pseudonymise.resolve": (
        "check_numbers", "pseudonymise_numbers", "trace_records", "unmatched",
    ),
    "openphm.pseudonymise.people": ("rebuild",),
}  # fmt: skip
UNHASHED = {"token", "key_id"}


def ingest(region: Path, ingested: Path) -> None:
    from openphm.bench.stages import init_workspace
    from openphm.landing.bench import ingest_region

    if ingested.exists():
        shutil.rmtree(ingested)
    started = time.perf_counter()
    init_workspace(region, ingested)
    print(ingest_region(region, ingested), f"{time.perf_counter() - started:.1f} s")


def link(ingested: Path, work: Path, region: Path) -> None:
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(ingested, work, symlinks=True)
    seconds: dict[str, float] = defaultdict(float)
    for name, functions in TIMED.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        for function in functions:
            if hasattr(module, function):
                setattr(module, function, _timed(getattr(module, function), seconds))
    from openphm.pseudonymise.bench import link_stage

    splink = _time_splink_sql()
    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    counts = link_stage(region, work)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(counts)
    print(f"link {wall:.1f} s, {cpu:.1f} CPU s, peak {after.ru_maxrss / 1e6:.2f} GB")
    for function, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        print(f"  {function:36} {spent:6.1f} s")
    print("Splink's SQL by the table it makes, and the thread it ran in (tracing trains in one")
    print("of its own beside the link's, which scores):")
    for (thread, table), (spent, runs) in sorted(splink.items(), key=lambda item: -item[1][0]):
        if spent >= 0.05:
            print(f"  {thread[:18]:18} {table:40} {spent:6.1f} s  {runs:4} statements")


def _time_splink_sql() -> dict[tuple[str, str], list]:
    """Seconds and statements of Splink's SQL per (thread, table it makes), from here on:
    how much of tracing is predict, blocking, u sampling and EM (docs/benchmarks.md)."""
    import threading

    from splink.internals.database_api import DatabaseAPI

    spent: dict[tuple[str, str], list] = defaultdict(lambda: [0.0, 0])
    run = DatabaseAPI._log_and_run_sql_execution

    def timed(self, final_sql, templated_name, physical_name):
        started = time.perf_counter()
        try:
            return run(self, final_sql, templated_name, physical_name)
        finally:
            entry = spent[(threading.current_thread().name, templated_name)]
            entry[0] += time.perf_counter() - started
            entry[1] += 1

    DatabaseAPI._log_and_run_sql_execution = timed
    return spent


def _timed(function, seconds: dict[str, float]):
    label = f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"

    @functools.wraps(function)
    def timed(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            seconds[label] += time.perf_counter() - started

    return timed


def fingerprint(work: Path) -> None:
    from openphm.programme.workspace import Workspace

    con = Workspace.open(work).connect_linked(read_only=True)
    try:
        tables = con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'linked' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            columns = [
                row[0]
                for row in con.execute(f"DESCRIBE linked.{table}").fetchall()
                if row[0] not in UNHASHED
            ]
            row = "struct_pack(" + ", ".join(f'"{c}"' for c in columns) + ")"
            rows, total = con.execute(
                f"SELECT count(*), sum(hash({row})::HUGEINT) FROM linked.{table}"
            ).fetchone()
            print(f"{table:32} {rows:>10} {total}")
    finally:
        con.close()


if __name__ == "__main__":
    commands = {"ingest": (ingest, 2), "link": (link, 3), "fingerprint": (fingerprint, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    command, arguments = commands[sys.argv[1]]
    if len(sys.argv) != arguments + 2:
        sys.exit(__doc__)
    command(*(Path(a) for a in sys.argv[2:]))
