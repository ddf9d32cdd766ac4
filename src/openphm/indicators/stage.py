"""`phm indicators` as a stage: the packs the programme chooses, the build on the programme's
engine and its audit entries (one per purpose). The command (indicators.commands), the refresh
(openphm.refresh) and the benchmark call these; the command only parses and prints. The caller
authorises (analytics.build)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

# Indicators are analytics work (zone 3 to zone 3), granted to the same roles: the action is
# analytics.build, and the audit's reason says it was the indicators.
ACTION = "analytics.build"


def chosen_packs(ws):
    """The indicators of the packs programme.toml chooses ([[indicators.packs]]), each with
    its pack and purpose (`indicators.build.choose`); none chosen is an error."""
    from openphm.indicators.build import choose
    from openphm.indicators.packs import PackError

    packs = [(p.name, p.purpose.value) for p in ws.config.indicators.packs]
    if not packs:
        raise PackError(
            "programme.toml chooses no indicator packs: add [indicators] packs = "
            '[{ name = "pincer", purpose = "safety-monitoring" }] (docs/indicators.md)'
        )
    return choose(packs)


def build_indicators(ws, actor, day: dt.date, chosen, codelists: Path | None = None,
                     engine=None, say=lambda text: None, by: str = ""):  # fmt: skip
    """Build the `chosen` indicators as at `day` and audit them: one entry per purpose, with
    the number each indicator flags (counts only); a failure is audited too. `by` says on
    whose behalf, when not the actor's own command (the scheduled refresh)."""
    from openphm.analytics.stage import areas_of
    from openphm.engine import engine_for
    from openphm.indicators.build import TABLES

    kind = engine_for(ws, engine)
    try:
        summary = build_on_engine(ws, kind, day, chosen, codelists, areas_of(ws), say)
    except Exception:
        ws.audit.record(actor, ACTION, outcome="failed", reads=("linked",),
                        reason=f"indicators build failed on {kind}{by}")  # fmt: skip
        raise
    for purpose in sorted({c.purpose for c in chosen}):
        mine = [c.indicator.name for c in chosen if c.purpose == purpose]
        ws.audit.record(
            actor, ACTION, purpose=purpose, reads=("linked",),
            writes=tuple(f"linked.{t}" for t in TABLES),
            counts={f"flagged_{n}": summary.flagged[n] for n in mine if n in summary.flagged},
            reason=f"indicators as at {day} ({', '.join(sorted({c.pack for c in chosen}))}); "
                   f"engine {kind}{by}",
        )  # fmt: skip
    return summary


def build_on_engine(ws, engine, day: dt.date, chosen, codelists: Path | None, areas=None,
                    say=print):  # fmt: skip
    """Build on `engine` (an engine, its name, or None: the programme's), as `phm analyse` does
    (analytics.stage.build_on_engine): in the zone file, or on a copy of the zone whose
    tables come back into the file under the same checks."""
    from openphm.analytics.runs import inputs_fingerprint
    from openphm.analytics.stage import copy_back_check
    from openphm.engine import engine_for
    from openphm.indicators.build import TABLES, build

    folder = str(codelists) if codelists else None
    progress = lambda step: say(f"{step}…")  # noqa: E731
    building = engine_for(ws, engine).building(
        ws, TABLES, copy_back_check(TABLES, "phm indicators"),
        taken=lambda con: inputs_fingerprint(con, "linked"), say=say,
    )  # fmt: skip
    with building as zone:
        return build(
            zone.backend, day, chosen, codelist_folder=folder, areas=areas, progress=progress
        )
