"""Releases: the only way anything leaves the outputs zone (promises P6 and P10).

An analyst saves aggregate tables as drafts, kept unrounded inside the encrypted linked zone
(`linked.release_drafts` and one `linked.draft_<name>` table each). A release request names the
drafts, a purpose (one of the programme's, or it is refused) and the requester; every table
passes disclosure control on its way into `outputs/releases/<id>/` with a manifest of what it
holds. Where the programme says so, a second person must approve it before it counts as
released, as output checkers do; nobody approves their own.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from openphm import clock
from openphm.console import UserFacingError
from openphm.disclosure.rules import DisclosureRules
from openphm.disclosure.tables import control_table
from openphm.governance import intents
from openphm.governance.audit import Actor

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RELEASES = "releases"
MANIFEST = "manifest.json"


class ReleaseError(UserFacingError):
    """A release that cannot be made as asked."""


@dataclass(frozen=True)
class DraftSpec:
    name: str
    groups: list[str]
    counts: list[str]
    rates: dict[str, list[str]]
    per: float
    totals_over: list[str]
    description: str


def save_draft(
    con,
    name: str,
    frame: pd.DataFrame,
    *,
    groups: list[str],
    counts: list[str],
    rates: dict[str, tuple[str, str]] | None = None,
    per: float = 1.0,
    totals_over: list[str] | None = None,
    description: str = "",
) -> DraftSpec:
    """Keep an aggregate table, unrounded, in the linked zone until it is released."""
    if not _NAME.match(name):
        raise ReleaseError(f"{name!r} is not a draft name (lower case, digits, underscores)")
    missing = [c for c in [*groups, *counts] if c not in frame.columns]
    if missing:
        raise ReleaseError(f"draft {name}: columns {missing} are not in the table")
    spec = DraftSpec(
        name,
        list(groups),
        list(counts),
        {k: list(v) for k, v in (rates or {}).items()},
        per,
        list(totals_over or []),
        description,
    )
    table = frame.loc[:, [*groups, *counts]]
    con.register("draft_frame", table)
    con.execute(f"CREATE OR REPLACE TABLE linked.draft_{name} AS SELECT * FROM draft_frame")
    con.unregister("draft_frame")
    con.execute(
        "CREATE TABLE IF NOT EXISTS linked.release_drafts (name VARCHAR PRIMARY KEY, spec JSON)"
    )
    con.execute(
        "INSERT OR REPLACE INTO linked.release_drafts VALUES (?, ?)",
        [name, json.dumps(spec.__dict__)],
    )
    return spec


def list_drafts(con) -> list[DraftSpec]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = 'linked' "
        "AND table_name = 'release_drafts'"
    ).fetchone()[0]
    if not exists:
        return []
    rows = con.execute("SELECT spec FROM linked.release_drafts ORDER BY name").fetchall()
    return [DraftSpec(**json.loads(spec)) for (spec,) in rows]


def rules_for(ws: Workspace) -> DisclosureRules:
    policy = ws.config.disclosure
    return DisclosureRules(policy.redact_up_to, policy.round_to, policy.reason)


def request_release(
    ws: Workspace, actor: Actor, drafts: list[str], *, purpose: str, title: str
) -> dict:
    """Apply disclosure control to the named drafts and stage them as a release."""
    allowed = [p.value for p in ws.config.programme.purposes]
    if purpose not in allowed:
        ws.audit.record(
            actor,
            "release.request",
            outcome="refused",
            purpose=purpose,
            reason=f"purpose is not one of the programme's: {', '.join(allowed)}",
        )
        raise ReleaseError(
            f"{purpose!r} is not one of this programme's purposes ({', '.join(allowed)}); "
            "data may be used only for the purposes the privacy notice lists"
        )
    con = ws.connect_linked(read_only=True)
    specs = {spec.name: spec for spec in list_drafts(con)}
    unknown = [d for d in drafts if d not in specs]
    if unknown or not drafts:
        raise ReleaseError(
            f"no draft named {', '.join(unknown) or '(none given)'}; drafts: "
            f"{', '.join(specs) or 'none yet'}"
        )
    now = clock.now()
    release_id = f"{now:%Y%m%dT%H%M%S}-{hashlib.sha256(title.encode()).hexdigest()[:6]}"
    folder = ws.zone("outputs") / RELEASES / release_id
    folder.mkdir(parents=True)
    rules = rules_for(ws)
    contents = []
    for name in drafts:
        spec = specs[name]
        cells = con.execute(f"SELECT * FROM linked.draft_{name}").df()
        controlled = control_table(
            cells,
            groups=spec.groups,
            counts=spec.counts,
            rates={k: tuple(v) for k, v in spec.rates.items()},
            per=spec.per,
            totals_over=spec.totals_over,
            rules=rules,
        )
        path = folder / f"{name}.csv"
        controlled.table.to_csv(path, index=False)
        contents.append(
            {
                "table": name,
                "description": spec.description,
                "rows": len(controlled.table),
                "primary_redactions": controlled.primary_redactions,
                "secondary_redactions": controlled.secondary_redactions,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            }
        )
    con.close()
    needs_approval = ws.config.disclosure.releases_need_approval
    manifest = {
        "id": release_id,
        "title": title,
        "purpose": purpose,
        "requester": actor.user,
        "requested_at": now.isoformat(timespec="seconds"),
        "disclosure_rules": {
            "redact_up_to": rules.threshold,
            "round_to": rules.multiple,
            "reason": rules.reason,
        },
        "contents": contents,
        "status": "awaiting approval" if needs_approval else "released",
        "approved_by": None,
    }
    entry = intents.Entry(
        actor,
        "release.request",
        purpose=purpose,
        writes=tuple(f"{RELEASES}/{release_id}/{c['table']}.csv" for c in contents),
        counts={
            "tables": len(contents),
            "redacted_cells": sum(
                c["primary_redactions"] + c["secondary_redactions"] for c in contents
            ),
        },
    )
    # The manifest makes the release; its entry is bound to it (governance.intents).
    made = intents.file_says(folder.relative_to(ws.root) / MANIFEST, "id", release_id, [entry])
    with intents.committing(ws.audit, made):
        _write_manifest(folder, manifest)
    return manifest


def approve_release(ws: Workspace, actor: Actor, release_id: str) -> dict:
    """A second person approves a release; the requester cannot approve their own."""
    folder = ws.zone("outputs") / RELEASES / release_id
    if not (folder / MANIFEST).is_file():
        raise ReleaseError(f"no release {release_id!r} in {folder.parent}")
    manifest = json.loads((folder / MANIFEST).read_text())
    if manifest["status"] != "awaiting approval":
        raise ReleaseError(f"release {release_id} is {manifest['status']}, not awaiting approval")
    if manifest["requester"] == actor.user:
        ws.audit.record(
            actor,
            "release.approve",
            outcome="refused",
            purpose=manifest["purpose"],
            reason="the requester cannot approve their own release",
        )
        raise ReleaseError("you requested this release: a second person must approve it")
    for item in manifest["contents"]:
        digest = hashlib.sha256((folder / f"{item['table']}.csv").read_bytes()).hexdigest()
        if digest != item["sha256"]:
            raise ReleaseError(f"{item['table']}.csv changed after the request; request again")
    manifest.update(
        status="released",
        approved_by=actor.user,
        approved_at=clock.now().isoformat(timespec="seconds"),
    )
    entry = intents.Entry(
        actor,
        "release.approve",
        purpose=manifest["purpose"],
        reads=(f"{RELEASES}/{release_id}",),
        counts={"tables": len(manifest["contents"])},
    )
    path = folder.relative_to(ws.root) / MANIFEST
    approved = intents.file_says(path, "approved_at", manifest["approved_at"], [entry])
    with intents.committing(ws.audit, approved):
        _write_manifest(folder, manifest)
    return manifest


def list_releases(ws: Workspace) -> list[dict]:
    root = ws.zone("outputs") / RELEASES
    if not root.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(root.glob(f"*/{MANIFEST}"))]


def _write_manifest(folder, manifest: dict) -> None:
    tmp = folder / f".{MANIFEST}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2, default=_json_default) + "\n")
    os.replace(tmp, folder / MANIFEST)


def _json_default(value):
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)
