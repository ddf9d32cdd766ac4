"""The data protection officer reading and checking the audit log (`phm audit show|verify`, and
the demo's DPO): each reads the log and records that it did, counts only. The caller authorises
(audit.show, audit.verify). The DPO's Audit page (web.audit_view) checks the chain on every view
and records only a failed check."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openphm.governance.audit import Actor, AuditEntry, Verification
    from openphm.programme.workspace import Workspace


def read_log(
    ws: Workspace, actor: Actor, last: int = 0
) -> tuple[list[AuditEntry], list[AuditEntry]]:
    """Every entry of the log and the `last` of them to show (0: all), audited as the count
    shown (audit.show)."""
    entries = list(ws.audit.entries())
    shown = entries[-last:] if last else entries
    ws.audit.record(actor, "audit.show", counts={"entries_shown": len(shown)})
    return entries, shown


def verify_log(ws: Workspace, actor: Actor) -> Verification:
    """Check the log's hash chain (`AuditLog.verify`), audited (audit.verify): the entries
    checked when intact, the problems found (outcome failed) when not."""
    result = ws.audit.verify()
    if result.ok:
        ws.audit.record(actor, "audit.verify", counts={"entries": result.entries})
    else:
        ws.audit.record(actor, "audit.verify", outcome="failed",
                        counts={"problems": len(result.problems)})  # fmt: skip
    return result
