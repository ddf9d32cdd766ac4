"""`phm refresh` as a stage of its own: ingest, link, analyse, indicators, risk scoring and the
programme's standing cohorts, in that order, as the processor's scheduled job
(docs/refresh.md).

The refresh is authorised once (programme.refresh, the processor engineer's). Ingest and link
are authorised as themselves (the processor's own actions). The analysis stages run the
programme's standing, governed definitions (the analytics' shipped definitions, the indicator
packs, the risk model and the standing cohorts programme.toml names), and each is audited as its
own action taken by the same person in the processor engineer's role "by the scheduled refresh
<id>". Each stage calls its own module's function, as the commands do; none calls a command.

Every stage is safe to run again from its start: ingest lands only files not landed before,
link links only what is new and commits once, the analytics, indicators and scores are rebuilt
(a reference date's scores replace that date's), and a cohort's members and lists replace the
last build of the same name. So a refresh that stopped (a failure, or killed) is resumed from
the first stage not done, which starts again from its beginning; the refresh record
(`refresh.record`) says which stages were done, and the workspace's fingerprint after the last
of them must still be the workspace's, or nothing is resumed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from openphm import clock
from openphm.errors import UserFacingError
from openphm.refresh import record as records
from openphm.refresh.record import DONE, FAILED, RUNNING, SKIPPED, RefreshRefused

ACTION = "programme.refresh"
STAGES = ("ingest", "link", "analyse", "indicators", "risk", "cohorts")
TITLES = {
    "ingest": "land the extracts in the sources' inboxes",
    "link": "trace, pseudonymise and link",
    "analyse": "registers, scores, segments, activity and measures",
    "indicators": "the programme's indicator packs",
    "risk": "risk of emergency admission",
    "cohorts": "the programme's standing cohorts",
}


class RefreshFailed(UserFacingError):
    """A stage failed; the refresh stopped there and can be resumed."""


class Reporter:
    """What the refresh tells whoever runs it (the command line draws it with Rich). Does
    nothing by default."""

    def starting(self, refresh: dict, resumed: bool) -> None: ...
    def stage(self, k: int, n: int, name: str, left: float | None) -> None: ...
    def say(self, text: str) -> None: ...
    def done(self, k: int, n: int, name: str, stage: dict, left: float | None) -> None: ...


@dataclass
class Run:
    ws: object
    actor: object
    refresh: dict
    cohorts: list = field(default_factory=list)  # the standing cohorts' definitions, loaded
    say: Callable[[str], None] = lambda text: None

    @property
    def by(self) -> str:
        return f"; by the scheduled refresh {self.refresh['id']} ({ACTION})"


def refresh(
    ws, actor, *, resume: bool = False, restart: bool = False, reporter: Reporter | None = None
) -> dict:
    """Run (or resume) the refresh; return its record. A stage's failure is recorded, audited
    and raised as RefreshFailed naming the stage and how to resume."""
    reporter = reporter or Reporter()
    ws.authorise(actor, ACTION)
    ws.require_open()
    cohorts = standing_cohorts(ws)  # a definition that cannot be used stops it before it starts
    with records.locked(ws):
        refresh = _begin(ws, actor, resume, restart)
        run = Run(ws, actor, refresh, cohorts, reporter.say)
        reporter.starting(refresh, bool(refresh["resumed"]))
        previous = records.last_done(ws)
        n = len(STAGES)
        for k, stage in enumerate(refresh["stages"], start=1):
            if stage["status"] in (DONE, SKIPPED):
                continue
            reporter.stage(k, n, stage["name"], _left(refresh, previous, k - 1))
            _run_stage(run, stage)
            reporter.done(k, n, stage["name"], stage, _left(refresh, previous, k))
        refresh["status"] = DONE
        refresh["ended"] = clock.now().isoformat(timespec="seconds")
        records.save(ws, refresh)
        ws.audit.record(
            actor,
            ACTION,
            reads=("landing", "linked"),
            writes=("linked", "outputs"),
            counts={"stages": n},
            reason=f"refresh {refresh['id']} done",
        )
    return refresh


def _begin(ws, actor, resume: bool, restart: bool) -> dict:
    if resume and restart:
        raise RefreshRefused("--resume and --restart ask for opposite things: choose one")
    stopped = records.unfinished(ws)
    if stopped and not (resume or restart):
        raise RefreshRefused(
            f"refresh {stopped['id']} (started {stopped['started']}) did not finish: "
            f"{_where(stopped)}. Resume it with phm refresh {ws.root} --resume, or start "
            f"again with --restart"
        )
    if resume and not stopped:
        raise RefreshRefused(f"no refresh of {ws.root} is unfinished: nothing to resume")
    if stopped and restart:
        stopped["status"] = records.ABANDONED
        stopped["ended"] = clock.now().isoformat(timespec="seconds")
        records.save(ws, stopped)
        ws.audit.record(
            actor,
            ACTION,
            outcome="failed",
            reason=f"refresh {stopped['id']} abandoned for a new one (--restart)",
        )
    if resume:
        _check_unchanged(ws, stopped)
        stopped["resumed"].append(clock.now().isoformat(timespec="seconds"))
        ws.audit.record(
            actor,
            ACTION,
            reason=f"refresh {stopped['id']} resumed at stage {_next_stage(stopped)['name']}",
        )
        return stopped
    refresh = records.new(STAGES, actor.user)
    records.save(ws, refresh)
    ws.audit.record(actor, ACTION, reason=f"refresh {refresh['id']} started")
    return refresh


def _next_stage(refresh: dict) -> dict:
    return next(s for s in refresh["stages"] if s["status"] not in (DONE, SKIPPED))


def _where(refresh: dict) -> str:
    stage = _next_stage(refresh)
    k = refresh["stages"].index(stage) + 1
    how = "failed" if stage["status"] == FAILED else "was stopped"
    because = f" ({stage['error']})" if stage["error"] else ""
    return f"stage {k} of {len(STAGES)}, {stage['name']}, {how}{because}"


def _check_unchanged(ws, refresh: dict) -> None:
    """Once link is done, the workspace must be as the last stage done left it: a link or
    retention run by hand since would make the stages still to run describe another population
    than those already run. Before that, resuming reruns link (or ingest), which takes the
    landing zone as it is, so nothing is checked: a refresh killed after link committed but
    before its record said so resumes by linking again, which finds nothing new."""
    done = [s for s in refresh["stages"] if s["status"] == DONE]
    if not done or STAGES.index(done[-1]["name"]) < STAGES.index("link"):
        return
    if records.state(ws) != done[-1]["outputs"]:
        raise RefreshRefused(
            f"the workspace changed since refresh {refresh['id']} stopped (after its "
            f"{done[-1]['name']} stage: files linked or destroyed since): it cannot be "
            f"resumed; start again with phm refresh {ws.root} --restart"
        )


def _left(refresh: dict, previous: dict | None, done: int) -> float | None:
    """Seconds left after `done` stages: the previous refresh's seconds for the stages still to
    run, or else this refresh's mean seconds per stage so far times the stages left."""
    todo = [s["name"] for s in refresh["stages"][done:] if s["status"] not in (DONE, SKIPPED)]
    if previous is not None:
        seconds = {s["name"]: s["seconds"] or 0.0 for s in previous["stages"]}
        return sum(seconds.get(name, 0.0) for name in todo)
    ran = [s["seconds"] for s in refresh["stages"] if s["status"] == DONE and s["seconds"]]
    return sum(ran) / len(ran) * len(todo) if ran else None


def _run_stage(run: Run, stage: dict) -> None:
    ws = run.ws
    stage.update(
        status=RUNNING,
        started=clock.now().isoformat(timespec="seconds"),
        ended=None,
        error="",
        error_kind="",
        inputs=records.state(ws),
    )
    records.save(ws, run.refresh)
    started = time.perf_counter()
    try:
        counts, note = WORK[stage["name"]](run)
    except BaseException as err:
        stage.update(
            status=FAILED,
            seconds=round(time.perf_counter() - started, 2),
            ended=clock.now().isoformat(timespec="seconds"),
            error=_error(err),
            error_kind=type(err).__name__,
        )
        records.save(ws, run.refresh)
        if not isinstance(err, Exception):  # interrupted (Ctrl-C): the record says where
            raise
        ws.audit.record(
            run.actor,
            ACTION,
            outcome="failed",
            reason=f"refresh {run.refresh['id']}: stage {stage['name']} failed",
        )
        k = STAGES.index(stage["name"]) + 1
        raise RefreshFailed(
            f"the refresh stopped at stage {k} of {len(STAGES)}, {stage['name']}: "
            f"{stage['error']}. The stages before it are done and kept; fix the cause, then "
            f"run phm refresh {ws.root} --resume (it runs {stage['name']} again from its "
            "start, then the rest)"
        ) from err
    stage.update(
        status=SKIPPED if note.startswith("skipped") else DONE,
        seconds=round(time.perf_counter() - started, 2),
        ended=clock.now().isoformat(timespec="seconds"),
        counts=counts,
        note=note,
        outputs=records.state(ws),
    )
    records.save(ws, run.refresh)


def _error(err: BaseException) -> str:
    """A failure in words for the record and the terminal: a message a person can act on
    (`UserFacingError`); for anything else only its kind, since a library's message can quote
    a value from the data (the traceback goes to the terminal, not the record)."""
    if isinstance(err, UserFacingError):
        return str(err)
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    return f"{type(err).__name__}{records.UNEXPECTED}"


def standing_cohorts(ws) -> list:
    """The definitions of the standing cohorts programme.toml names ([cohorts] standing),
    loaded and checked against the programme's purposes before any stage runs."""
    from importlib import resources

    from openphm.cohorts.definition import CohortDefinitionError, load_definition

    purposes = tuple(p.value for p in ws.config.programme.purposes)
    found = []
    for name in ws.config.cohorts.standing:
        if name.endswith(".toml"):
            path = ws.root / name
        else:
            path = Path(str(resources.files("openphm.cohorts") / "examples" / f"{name}.toml"))
        if not path.is_file():
            raise CohortDefinitionError(
                f"cohorts.standing names {name!r}, which is "
                + (
                    f"not in the workspace ({path})"
                    if name.endswith(".toml")
                    else "not a shipped definition (frail-high-risk, prescribing-safety)"
                )
            )
        found.append(load_definition(path, purposes))
    return found


# ----- the stages -----------------------------------------------------------------------------


def _ingest(run: Run) -> tuple[dict, str]:
    from openphm.landing.ingest import LOADED, REFUSED, UNCHANGED, ingest

    ws = run.ws
    inboxes = list(dict.fromkeys(ws.inbox(s) for s in ws.config.sources))
    present = [p for p in inboxes if p.is_dir()]
    report = ingest(ws, present, run.actor, on_file=lambda o: run.say(f"{o.status}: {o.path.name}"))
    counts = {
        "loaded": report.count(LOADED),
        "unchanged": report.count(UNCHANGED),
        "refused": report.count(REFUSED),
        "inboxes_missing": len(inboxes) - len(present),
    }
    note = f"{counts['loaded']} file(s) loaded, {counts['unchanged']} unchanged"
    if counts["refused"]:
        note += f", {counts['refused']} refused whole (the audit log names each, and why)"
    if counts["inboxes_missing"]:
        note += f"; {counts['inboxes_missing']} source inbox(es) not there yet"
    return counts, note


def _link(run: Run) -> tuple[dict, str]:
    from openphm.pseudonymise.link import link

    result = link(run.ws, run.actor, progress=lambda step, done, total: run.say(step))
    counts = {
        "files_linked": result.submissions_linked,
        "people": result.people,
        "traced": result.traced,
        "tokens_sealed": result.tokens_sealed,
    }
    note = f"{result.submissions_linked} new file(s) linked; {result.people:,} people"
    if result.registered_without_key:
        note += (
            f"; {result.registered_without_key:,} at practices that have not registered a key "
            "have no token (phm practice register)"
        )
    return counts, note


def _dated(run: Run):
    """The refresh's one reference date (the end of the last complete month of data after
    link), kept in the record so that a resumed refresh uses the date it began with."""
    import datetime as dt

    from openphm.analytics.stage import dated

    kept = run.refresh["reference_date"]
    day, cover = dated(run.ws, dt.date.fromisoformat(kept) if kept else None, 12)
    run.refresh["reference_date"] = day.isoformat()
    return day, cover


def _analyse(run: Run) -> tuple[dict, str]:
    from openphm.analytics.definitions import AnalyticsOptions
    from openphm.analytics.stage import analyse

    day, cover = _dated(run)
    summary = analyse(run.ws, run.actor, day, cover, AnalyticsOptions(), say=run.say, by=run.by)
    warnings = [w for w in (cover.warning(), cover.lagging) if w]
    return dict(summary.rows), "; ".join([cover.note(), *warnings])


def _indicators(run: Run) -> tuple[dict, str]:
    from openphm.indicators.stage import build_indicators, chosen_packs

    if not run.ws.config.indicators.packs:
        return {}, "skipped: programme.toml chooses no indicator packs"
    day, _ = _dated(run)
    chosen = chosen_packs(run.ws)
    summary = build_indicators(run.ws, run.actor, day, chosen, say=run.say, by=run.by)
    flagged = {f"flagged_{k}": v for k, v in summary.flagged.items()}
    return flagged, f"{len(summary.flagged)} indicator(s) as at {day}"


def _risk(run: Run) -> tuple[dict, str]:
    from openphm.risk.stage import has_model, score_people, train_model

    day, _ = _dated(run)
    trained = ""
    if not has_model(run.ws):  # the programme's first refresh: its first model
        trained = train_model(run.ws, run.actor, say=run.say, by=run.by).model_id
    summary = score_people(run.ws, run.actor, day, by=run.by)
    note = f"{summary.people:,} people scored as at {day} with {summary.model_id}"
    return {"people": summary.people}, note + (" (trained now: no model yet)" if trained else "")


def _cohorts(run: Run) -> tuple[dict, str]:
    from openphm.cohorts.build import run_cohort

    if not run.cohorts:
        return {}, "skipped: programme.toml names no standing cohorts ([cohorts] standing)"
    counts = {}
    for definition in run.cohorts:
        run.say(f"cohort {definition.name}…")
        built, _ = run_cohort(run.ws, run.actor, definition, by=run.by)
        counts[definition.name] = len(built.members)
    return counts, f"{len(counts)} cohort(s) built, lists written"


WORK: dict[str, Callable[[Run], tuple[dict, str]]] = {
    "ingest": _ingest,
    "link": _link,
    "analyse": _analyse,
    "indicators": _indicators,
    "risk": _risk,
    "cohorts": _cohorts,
}
