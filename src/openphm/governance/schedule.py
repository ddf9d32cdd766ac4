"""The promises that fall due with time, and the one step that keeps them.

Three promises are kept by the calendar rather than by a person's command: identifiable data
held at most `identifiable_retention_days` (P8: landing batches, and whatever an interrupted
ingest left behind), a recipient's access ending on its expiry date, and all programme data
destroyed when the programme ends (P9). Opening a workspace never keeps them: a page view or
`phm status` must not be what destroys data, and a role check must come before any destruction.
They are kept by `keep_promises`, run as the data protection officer's scheduled job (`phm
schedule run` from a systemd timer or cron, or the web service's scheduler; docs/schedule.md),
which is authorised and audited like any other action.

Reads the programme's dates, the landing catalog and the key store; destroys keys and files
through `lifecycle` and `landing.retention`; writes the audit log.
"""

from __future__ import annotations

import datetime as dt
import getpass
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from openphm import clock
from openphm.governance.audit import Actor
from openphm.governance.due import Due
from openphm.governance.lifecycle import (
    Closure,
    close_programme,
    expire_recipients,
    finish_close,
)
from openphm.keystore import KeyName
from openphm.landing import retention

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

# The role the scheduled job acts in: the data protection officer owns the schedule.
SCHEDULE_ROLE = "data-protection-officer"


@dataclass
class Kept:
    """What one run of the schedule did."""

    closure: Closure | None = None
    recipients_expired: list[str] = field(default_factory=list)
    retention: retention.RetentionReport | None = None
    landing_busy: bool = False

    @property
    def anything(self) -> bool:
        return bool(
            self.closure
            or self.recipients_expired
            or (self.retention and (self.retention.batches or self.retention.leftovers))
        )


def scheduled_actor() -> Actor:
    """Who the scheduled job acts as: the operating-system account it runs under, in the data
    protection officer's role (the timer is the DPO's)."""
    return Actor(user=f"{getpass.getuser()} (scheduled)", role=SCHEDULE_ROLE)


def close_due(ws: Workspace) -> bool:
    return not ws.closed and clock.today() >= ws.config.programme.end_date


def timetable(ws: Workspace) -> list[Due]:
    """Everything the schedule will destroy, soonest first; reads only."""
    if ws.closed:
        return []
    today = clock.today()
    due = [*retention.timetable(ws)]
    destroyed = set(ws.keystore.destroyed())
    for recipient in ws.config.recipients:
        if KeyName.recipient(recipient.slug) not in destroyed:
            expiry = recipient.expires + dt.timedelta(days=1)
            due.append(Due(f"recipient key: {recipient.name}", str(expiry), "key destroyed",
                           expiry <= today))  # fmt: skip
    end = ws.config.programme.end_date
    due.append(Due("all programme data", str(end),
                   "close: every data key, then files; certificate", end <= today))  # fmt: skip
    return sorted(due, key=lambda d: (not d.now, d.when))


def shown_timetable(ws: Workspace, actor: Actor) -> list[Due]:
    """The timetable as `phm schedule show` shows it, audited (schedule.show); changes nothing.
    The caller authorises."""
    plan = timetable(ws)
    ws.audit.record(actor, "schedule.show")
    return plan


def keep_promises(ws: Workspace, actor: Actor) -> Kept:
    """Destroy whatever has fallen due, after the role check; audited. Safe to run at any time
    and as often as wanted: when nothing is due it records that it looked."""
    ws.authorise(actor, "schedule.run")
    kept = Kept()
    if ws.closed:
        finish_close(ws)  # a close that died before destroying the signing secret
        ws.audit.record(actor, "schedule.run", reason="the programme is closed: nothing held")
        return kept
    if close_due(ws):
        reason = f"the programme's end date {ws.config.programme.end_date} was reached"
        kept.closure = close_programme(ws, actor, reason=reason)
        return kept
    kept.recipients_expired = expire_recipients(ws, actor)
    kept.retention = retention.enforce_if_free(ws, actor)
    kept.landing_busy = kept.retention is None
    ws.audit.record(
        actor,
        "schedule.run",
        counts={
            "recipients_expired": len(kept.recipients_expired),
            "batches_destroyed": kept.retention.batches if kept.retention else 0,
            "leftovers_destroyed": kept.retention.leftovers if kept.retention else 0,
        },
        reason="landing zone busy (an ingest is running): retention runs next time"
        if kept.landing_busy
        else "",
    )
    return kept


def rehearse(ws: Workspace, actor: Actor, at: dt.datetime) -> tuple[list[Due], Kept]:
    """What the schedule would do at `at`, done on a throw-away copy of the workspace (and its
    key store) with the clock moved in this process only; the live programme is untouched but
    for the audit entry that records the rehearsal. Returns the copy's timetable before the
    run and what the run did."""
    ws.authorise(actor, "schedule.rehearse")
    from openphm.programme.workspace import Workspace  # the copy is opened like any workspace

    scratch = Path(tempfile.mkdtemp(prefix=".rehearsal-", dir=ws.root.parent))
    try:
        copy = _copy_workspace(ws, scratch)
        with clock.frozen_at(at):
            rehearsal = Workspace.open(copy)
            plan = timetable(rehearsal)
            kept = keep_promises(rehearsal, actor)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    ws.audit.record(
        actor,
        "schedule.rehearse",
        reason=f"rehearsed the schedule on a copy as at {at.isoformat(timespec='minutes')}",
        counts={"due": sum(d.now for d in plan), "closed": int(kept.closure is not None)},
    )
    return plan, kept


def _copy_workspace(ws: Workspace, scratch: Path) -> Path:
    """A copy of the workspace whose key store is inside it (the copy's keys are destroyed by
    the rehearsal's close, and the whole copy deleted after)."""
    import json

    copy = scratch / "workspace"
    shutil.copytree(ws.root, copy, ignore=shutil.ignore_patterns("keys"))
    shutil.copytree(ws.keystore.directory, copy / "keys")
    meta = json.loads((copy / "workspace.json").read_text())
    meta["keystore"] = "keys"
    (copy / "workspace.json").write_text(json.dumps(meta, indent=2) + "\n")
    return copy
