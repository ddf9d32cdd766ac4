"""Releases: the only way anything leaves the outputs zone (promises P6 and P10).

An analyst saves aggregate tables as drafts, kept unrounded inside the encrypted linked zone
(`linked.release_drafts` and one `linked.draft_<name>` table each), from Python (`save_draft`)
or from a query (`phm sql --save-draft`). A release request names the drafts, a purpose (one of
the programme's, or it is refused), what each output shows and, for an output that fails a
rule, why it should be released anyway (an exception). Every table passes disclosure control on
its way into `outputs/releases/<id>/`, beside the release's record (manifest.json: status and
history) and an ACRO-compatible results.json (openphm.disclosure.results). Nothing counts as
released until a second person has checked it (openphm.disclosure.checking).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from openphm import clock
from openphm.console import UserFacingError
from openphm.csvsafe import write_csv
from openphm.disclosure.outcomes import ReleasedTable, check_output, released_table
from openphm.disclosure.results import write_json, write_results
from openphm.disclosure.rules import DisclosureRules
from openphm.disclosure.tables import contributor_columns
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.governance.roles import same_person

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
RELEASES = "releases"
MANIFEST = "manifest.json"
CHECKSUMS = "checksums"

# A release's status: requested and waiting for a checker; returned to its analyst to change
# and resubmit; released (approved); rejected for good.
AWAITING = "awaiting approval"
RETURNED = "returned"
RELEASED = "released"
REJECTED = "rejected"


class ReleaseError(UserFacingError):
    """A release that cannot be made as asked."""


class ReleaseRefused(ReleaseError):
    """A step this person may not take on this release (checking their own request, approving
    an exception without being the DPO, resubmitting another's): already audited as refused."""


@dataclass(frozen=True)
class DraftSpec:
    name: str
    groups: list[str]
    counts: list[str]
    rates: dict[str, list[str]]
    per: float
    totals_over: list[str]
    description: str
    query: str = ""  # the query that made it, for a draft saved by `phm sql --save-draft`
    sums: list[str] = field(default_factory=list)  # each with its contributor_columns


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
    query: str = "",
    sums: list[str] | None = None,
) -> DraftSpec:
    """Keep an aggregate table, unrounded, in the linked zone until it is released."""
    if not _NAME.match(name):
        raise ReleaseError(f"{name!r} is not a draft name (lower case, digits, underscores)")
    # A sum keeps its contributor columns beside it (never published) for the dominance rule.
    kept = [*groups, *counts, *(c for s in sums or [] for c in [s, *contributor_columns(s)])]
    _check_columns(name, frame, kept, counts)
    stray = [c for c in totals_over or [] if c not in groups]
    if stray:
        raise ReleaseError(f"draft {name}: totals over {stray}, which do not name the cells")
    spec = DraftSpec(
        name,
        list(groups),
        list(counts),
        {k: list(v) for k, v in (rates or {}).items()},
        per,
        list(totals_over or []),
        description,
        query,
        list(sums or []),
    )
    table = frame.loc[:, kept]
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


def _check_columns(name: str, frame: pd.DataFrame, wanted: list[str], counts: list[str]) -> None:
    duplicated = sorted({str(c) for c in frame.columns if list(frame.columns).count(c) > 1})
    if duplicated:
        raise ReleaseError(f"draft {name}: columns {duplicated} appear twice; name each once")
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ReleaseError(f"draft {name}: columns {missing} are not in the table")
    for column in counts:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().any() or (values < 0).any() or (values % 1 != 0).any():
            raise ReleaseError(
                f"draft {name}: {column} is not a count (whole numbers from 0, none missing); "
                "name only columns that count people as counts"
            )


def draft_from_query(
    ws: Workspace,
    actor: Actor,
    name: str,
    frame: pd.DataFrame,
    *,
    query: str,
    counts: list[str],
    totals_over: list[str],
    description: str,
) -> DraftSpec:
    """Keep a query's whole result as a draft: `counts` name the columns that count people, and
    every other column names the cells. Reads nothing; writes linked.draft_<name>."""
    ws.authorise(actor, "release.draft")
    groups = [str(c) for c in frame.columns if c not in counts]
    con = ws.connect_linked()
    try:
        spec = save_draft(
            con,
            name,
            frame,
            groups=groups,
            counts=counts,
            totals_over=totals_over,
            description=description,
            query=query,
        )
    finally:
        con.close()
    ws.audit.record(
        actor,
        "release.draft",
        writes=(f"linked.draft_{name}",),
        counts={"rows": len(frame), "columns": len(frame.columns)},
        query=query,
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
    return DisclosureRules(policy.redact_up_to, policy.round_to, policy.reason, policy.dominance_p)


def request_release(
    ws: Workspace,
    actor: Actor,
    drafts: list[str],
    *,
    purpose: str,
    title: str,
    descriptions: Mapping[str, str] | None = None,
    exceptions: Mapping[str, str] | None = None,
) -> dict:
    """Apply disclosure control to the named drafts and stage them as a release request.
    `descriptions` say what each output shows (a draft's own description otherwise);
    `exceptions` give, for an output that fails a rule, why it should be released anyway."""
    ws.authorise(actor, "release.request", purpose=purpose)
    _check_purpose(ws, actor, purpose)
    now = clock.now()
    release_id = f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
    folder = ws.zone("outputs") / RELEASES / release_id
    contents = _stage(ws, folder, drafts, descriptions or {}, exceptions or {})
    manifest = {
        "id": release_id,
        "title": title,
        "purpose": purpose,
        "requester": actor.user,
        "requested_at": now.isoformat(timespec="seconds"),
        "disclosure_rules": rules_for(ws).describe(),
        "contents": contents,
        "status": AWAITING,
        "approved_by": None,
        "history": [event(actor, "requested")],
    }
    entry = intents.Entry(
        actor,
        "release.request",
        purpose=purpose,
        writes=tuple(f"{RELEASES}/{release_id}/{c['file']}" for c in contents),
        counts=_redaction_counts(contents),
    )
    # The manifest makes the release; its entry is bound to it (governance.intents).
    made = intents.file_says(folder.relative_to(ws.root) / MANIFEST, "id", release_id, [entry])
    with intents.committing(ws.audit, made):
        save_release(folder, manifest)
    return manifest


def resubmit_release(
    ws: Workspace,
    actor: Actor,
    release_id: str,
    *,
    descriptions: Mapping[str, str] | None = None,
    exceptions: Mapping[str, str] | None = None,
    comment: str = "",
) -> dict:
    """The requester sends a returned release back for checking: its drafts, as they are now,
    pass disclosure control again; descriptions and exceptions not given again are kept."""
    with locked_release(ws, release_id) as (folder, manifest):
        ws.authorise(actor, "release.resubmit", purpose=manifest["purpose"])
        if manifest["status"] != RETURNED:
            raise ReleaseError(
                f"release {release_id} is {manifest['status']}: only a returned release can be "
                "resubmitted"
            )
        if not same_person(actor.user, manifest["requester"]):
            reason = "only the requester may resubmit a release"
            ws.audit.record(
                actor,
                "release.resubmit",
                outcome="refused",
                purpose=manifest["purpose"],
                reason=reason,
            )
            raise ReleaseRefused(f"{reason}: release {release_id} is {manifest['requester']}'s")
        before = {c["table"]: c for c in manifest["contents"]}
        contents = _stage(
            ws,
            folder,
            list(before),
            {**{n: c["description"] for n, c in before.items()}, **(descriptions or {})},
            {**{n: c["exception"] for n, c in before.items()}, **(exceptions or {})},
        )
        manifest.update(contents=contents, status=AWAITING)
        manifest["history"].append(event(actor, "resubmitted", comment))
        save_release(folder, manifest)
    ws.audit.record(
        actor,
        "release.resubmit",
        purpose=manifest["purpose"],
        writes=tuple(f"{RELEASES}/{release_id}/{c['file']}" for c in contents),
        counts=_redaction_counts(contents),
    )
    return manifest


def _check_purpose(ws: Workspace, actor: Actor, purpose: str) -> None:
    allowed = [p.value for p in ws.config.programme.purposes]
    if purpose in allowed:
        return
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


def _stage(
    ws: Workspace,
    folder: Path,
    drafts: list[str],
    descriptions: Mapping[str, str],
    exceptions: Mapping[str, str],
) -> list[dict]:
    """Check every draft (refusing the whole request before anything is written), then write
    each one, disclosure-controlled, into the release folder."""
    for option, named in (("--describe", descriptions), ("--exception", exceptions)):
        stray = sorted(set(named) - set(drafts))
        if stray:
            raise ReleaseError(f"{option} names {', '.join(stray)}, not a draft in this release")
    cells, specs = _read_drafts(ws, drafts)
    checked = []
    for name in drafts:
        description = (descriptions.get(name) or specs[name].description).strip()
        exception = (exceptions.get(name) or "").strip()
        failures = check_output(specs[name], cells[name])
        _require_explained(name, description, failures, exception)
        checked.append((specs[name], description, failures, exception))
    folder.mkdir(parents=True, exist_ok=True)
    rules = rules_for(ws)
    return [
        _write_output(folder, spec, released_table(spec, cells[spec.name], rules), *rest)
        for spec, *rest in checked
    ]


def _read_drafts(ws: Workspace, drafts: list[str]) -> tuple[dict, dict]:
    con = ws.connect_linked(read_only=True)
    try:
        specs = {spec.name: spec for spec in list_drafts(con)}
        unknown = [d for d in drafts if d not in specs]
        if unknown or not drafts:
            raise ReleaseError(
                f"no draft named {', '.join(unknown) or '(none given)'}; drafts: "
                f"{', '.join(specs) or 'none yet'}"
            )
        cells = {name: con.execute(f"SELECT * FROM linked.draft_{name}").df() for name in drafts}
    finally:
        con.close()
    return cells, specs


def _require_explained(name: str, description: str, failures: list[str], exception: str) -> None:
    if not description:
        raise ReleaseError(
            f"say what draft {name} shows, for the output checker: --describe {name}='…'"
        )
    if failures and not exception:
        raise ReleaseError(
            f"draft {name} fails disclosure checks ({'; '.join(failures)}): change it, or ask "
            f"for an exception with --exception {name}='why it is safe to release', which only "
            "the data protection officer may approve"
        )


def _write_output(
    folder: Path,
    spec: DraftSpec,
    released: ReleasedTable,
    description: str,
    failures: list[str],
    exception: str,
) -> dict:
    file = f"{spec.name}.csv"
    write_csv(released.table, folder / file)
    digest = hashlib.sha256((folder / file).read_bytes()).hexdigest()
    (folder / CHECKSUMS).mkdir(exist_ok=True)
    (folder / CHECKSUMS / f"{file}.txt").write_text(digest)  # ACRO's layout: one file each
    return {
        "table": spec.name,
        "file": file,
        "description": description,
        "query": spec.query,
        "check": "fail" if failures else "pass",
        "failures": failures,
        "exception": exception,
        "rows": len(released.table),
        "primary_redactions": released.primary_redactions,
        "secondary_redactions": released.secondary_redactions,
        "dominance_redactions": released.dominance_redactions,
        "outcome": json.loads(released.outcome.to_json()),  # as ACRO keeps it: {column: {row:}}
        "sha256": digest,
    }


def _redaction_counts(contents: list[dict]) -> dict[str, int]:
    return {
        "tables": len(contents),
        "redacted_cells": sum(
            item["primary_redactions"]
            + item["secondary_redactions"]
            + item.get("dominance_redactions", 0)
            for item in contents
        ),
        "exceptions": sum(1 for item in contents if item["exception"]),
    }


def event(actor: Actor, action: str, comment: str = "", **more: str) -> dict:
    """One step in a release's history."""
    return {
        "action": action,
        "user": actor.user,
        "role": actor.role,
        "at": clock.now().isoformat(timespec="seconds"),
        "comment": comment,
        **more,
    }


def release_folder(ws: Workspace, release_id: str) -> Path:
    folder = ws.zone("outputs") / RELEASES / release_id
    if not re.fullmatch(r"[0-9A-Za-z-]+", release_id) or not (folder / MANIFEST).is_file():
        raise ReleaseError(
            f"no release {release_id!r} in {folder.parent}; `phm release list` shows them"
        )
    return folder


@contextlib.contextmanager
def locked_release(ws: Workspace, release_id: str) -> Iterator[tuple[Path, dict]]:
    """The release's folder and record, held against a second checker acting at once (one
    approving while another rejects would leave the record saying whichever wrote last)."""
    folder = release_folder(ws, release_id)
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield folder, json.loads((folder / MANIFEST).read_text())


def save_release(folder: Path, manifest: dict) -> None:
    """The release's record, and its ACRO results.json made from it."""
    write_json(folder / MANIFEST, manifest)
    write_results(folder, manifest)


def list_releases(ws: Workspace) -> list[dict]:
    root = ws.zone("outputs") / RELEASES
    if not root.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(root.glob(f"*/{MANIFEST}"))]
