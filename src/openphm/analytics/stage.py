"""`phm analyse` as a stage: the reference date and its coverage, the build on the programme's
engine, and its audit entry; and `phm measures`' reading of what it built, audited. The
commands (analytics.commands), the refresh (openphm.refresh), the benchmark and the demo call
these; the commands only parse and print. The caller authorises (analytics.build,
analytics.read)."""

from __future__ import annotations

import datetime as dt

BUILD_ACTION = "analytics.build"
READ_ACTION = "analytics.read"


def dated(ws, reference_date: dt.date | None, window_months: int | None = None):
    """The reference date (given, or the end of the last complete month of data) and the
    coverage of its window by the data (`analytics.period`)."""
    from openphm.analytics.period import coverage_of, data_end, reference_date_for
    from openphm.analytics.zone import months_before

    con = ws.connect_linked(read_only=True)
    try:
        end = data_end(con)  # read once: the default date and the coverage both need it
    finally:
        con.close()
    day = reference_date or reference_date_for(end)
    start = months_before(day, window_months) if window_months else None
    return day, coverage_of(end, day, start)


def analyse(ws, actor, day: dt.date, cover, options, engine=None, say=lambda text: None,
            by: str = ""):  # fmt: skip
    """Build the analytics as at `day` on `engine` (an engine, its name, or None: the
    programme's) and audit it (analytics.build, counts only); a failure is audited too. `by`
    says on whose behalf, when not the actor's own command (the scheduled refresh)."""
    from openphm.analytics.build import TABLES
    from openphm.engine import engine_for

    kind = engine_for(ws, engine)
    try:
        summary = build_on_engine(ws, kind, day, options, say)
    except Exception:
        ws.audit.record(actor, BUILD_ACTION, outcome="failed", reads=("linked",),
                        reason=f"analytics build failed on {kind}{by}")  # fmt: skip
        raise
    ws.audit.record(
        actor, BUILD_ACTION, reads=("linked",), writes=tuple(f"linked.{t}" for t in TABLES),
        counts={**summary.rows, "missing_codelists": len(summary.missing_codelists)},
        reason=f"engine {kind}; {cover.note()}{by}",
    )  # fmt: skip
    return summary


def areas_of(ws) -> dict[str, dict[str, str]]:
    """The programme's PCNs, places and ICBs ({level: {practice: area}}, programme.toml's
    `[indicators]`), by which the measures and the activity figures are also broken down."""
    return ws.config.indicators.hierarchy(ws.config.programme.controllers)


def measures_built(ws, actor):
    """The measures `phm analyse` built (aggregates only) and the data's end it built them to
    (None when not recorded), audited as a count of rows (analytics.read)."""
    from openphm.analytics.build import read_measures
    from openphm.analytics.runs import built_data_end
    from openphm.analytics.zone import LinkedZoneError

    con = ws.connect_linked(read_only=True)
    try:
        try:
            frame = read_measures(con)
        except Exception as err:  # the table is missing: nothing built yet
            raise LinkedZoneError("no measures yet: run phm analyse first") from err
        end = built_data_end(con)
    finally:
        con.close()
    ws.audit.record(actor, READ_ACTION, reads=("linked.measures",), counts={"rows": len(frame)})
    return frame, end


def build_on_engine(ws, engine, day: dt.date, options, say=lambda text: None):
    """Build the analytics into the linked zone on `engine` (an engine, its name, or None: the
    programme's). The zone of record is the DuckDB file, which the other stages read; an engine
    that builds on a copy of the zone brings the analytics tables back into the file, checked
    (`copy_back_check`), and deletes the copy (`engine.base.Engine.building`). The zone's
    fingerprint is taken as the build takes the zone, and recorded with the build; the
    record (analytics_runs) goes first and comes back last, so a build that fails part way
    leaves no record claiming its tables (analytics.runs). Options whose `areas` is None
    take the programme's (`areas_of`)."""
    from dataclasses import replace

    from openphm.analytics.build import TABLES, build
    from openphm.analytics.runs import RUNS, inputs_fingerprint
    from openphm.engine import engine_for

    if options.areas is None:
        options = replace(options, areas=areas_of(ws))
    progress = lambda step: say(f"{step}…")  # noqa: E731
    building = engine_for(ws, engine).building(
        ws, TABLES, copy_back_check(), taken=lambda con: inputs_fingerprint(con, "linked"),
        record=RUNS, say=say,
    )  # fmt: skip
    with building as zone:
        return build(zone.backend, day, options, progress=progress, inputs=zone.taken)


def copy_back_check(tables: tuple[str, ...] | None = None, rerun: str = "phm analyse"):
    """The check on the tables brought back from a copy of the zone (Spark), in the copy-back's
    transaction: the zone file must hold what the copy held (`inputs`, its fingerprint when
    copied: `Building.taken`). A `phm link` since (new rows, re-keyed or objectors' rows
    removed) would make the tables describe a population the zone no longer holds, so nothing
    comes back and the build must be run again (`rerun` names the command). Then the
    objections hook on `tables` (default: the analytics tables), as a second guard."""
    from openphm.analytics.runs import ZoneChangedError, inputs_fingerprint

    def check(con, inputs: str) -> None:
        if inputs_fingerprint(con, "linked") != inputs:
            raise ZoneChangedError(
                "the linked zone changed while Spark was building (phm link ran since the copy "
                f"was taken); nothing was brought back: run {rerun} again"
            )
        objections(con, tables)

    return check


def objections(con, tables: tuple[str, ...] | None = None) -> None:
    """The objections hook on the tables brought back from Spark (default: the analytics
    tables): an objection `phm link` applied to the zone file while Spark was building must not
    come back with them."""
    from openphm.analytics.build import TABLES
    from openphm.linked.objectors import remove_objectors

    remove_objectors(con, TABLES if tables is None else tables)
