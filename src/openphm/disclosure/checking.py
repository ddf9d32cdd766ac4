"""Output checking: a second person reviews a release request and approves, returns or rejects
it; only then may anyone download it.

The checker holds the output-checker or data protection officer role and is not the requester,
compared as identities (`roles.same_person`: " ANN" is ann). An output that fails a rule leaves
only by an exception, which the data protection officer alone approves. Each decision goes into
the release's history and the audit log; a download copies the approved files with their
results.json and checksums into a folder (`phm release download`) or a zip made in memory (the
web service), after checking every file is the one that was approved. A refusal is raised as
`ReleaseRefused`, already audited, so that a caller can tell it from a step that is not yet
possible.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from openphm.disclosure.releases import (
    AWAITING,
    CHECKSUMS,
    MANIFEST,
    REJECTED,
    RELEASED,
    RELEASES,
    RETURNED,
    ReleaseError,
    ReleaseRefused,
    event,
    locked_release,
    save_release,
)
from openphm.disclosure.results import RESULTS
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.governance.roles import Role, same_person

if TYPE_CHECKING:
    from openphm.programme.workspace import Workspace


# Each decision: the status it leaves the release in, and its name in the release's history.
DECISIONS = {
    "approve": (RELEASED, "approved"),
    "return": (RETURNED, "returned"),
    "reject": (REJECTED, "rejected"),
}


@dataclass(frozen=True)
class Review:
    release: dict  # the release's record (manifest.json)
    tables: dict[str, pd.DataFrame]  # each output's cells, as text, exactly as released


def review_release(ws: Workspace, actor: Actor, release_id: str) -> Review:
    """Every output of a release as it would be released, for a checker to read."""
    ws.authorise(actor, "release.review")
    with locked_release(ws, release_id) as (folder, manifest):
        tables = {
            item["table"]: pd.read_csv(folder / item["file"], dtype=str, keep_default_na=False)
            for item in manifest["contents"]
        }
        manifest["history"].append(event(actor, "reviewed"))
        save_release(folder, manifest)
    ws.audit.record(
        actor,
        "release.review",
        purpose=manifest["purpose"],
        reads=(f"{RELEASES}/{release_id}",),
        counts={"tables": len(tables)},
    )
    return Review(manifest, tables)


def approve_release(ws: Workspace, actor: Actor, release_id: str) -> dict:
    """Release it: a checker who is not the requester; the DPO, if any output is an exception."""
    return _decide(ws, actor, release_id, "approve")


def return_release(ws: Workspace, actor: Actor, release_id: str, comment: str) -> dict:
    """Send it back to its analyst to change and resubmit, saying what to change."""
    return _decide(ws, actor, release_id, "return", comment)


def reject_release(ws: Workspace, actor: Actor, release_id: str, comment: str) -> dict:
    """Refuse it for good, saying why."""
    return _decide(ws, actor, release_id, "reject", comment)


def _decide(ws: Workspace, actor: Actor, release_id: str, action: str, comment: str = "") -> dict:
    status, done = DECISIONS[action]
    ws.authorise(actor, f"release.{action}")
    with locked_release(ws, release_id) as (folder, manifest):
        if manifest["status"] != AWAITING:
            raise ReleaseError(f"release {release_id} is {manifest['status']}, not {AWAITING}")
        _require_second_person(ws, actor, manifest, action)
        if action == "approve":
            _require_dpo_for_exceptions(ws, actor, manifest)
            verify_files(folder, manifest)
        elif not comment.strip():
            raise ReleaseError(f"say why, for the requester: --comment '…' (to {action} it)")
        manifest["status"] = status
        if action == "approve":
            manifest["approved_by"] = actor.user
        manifest["history"].append(event(actor, done, comment.strip()))
        entry = intents.Entry(
            actor,
            f"release.{action}",
            purpose=manifest["purpose"],
            reads=(f"{RELEASES}/{release_id}",),
            counts={"tables": len(manifest["contents"])},
        )
        # The manifest's new status is the decision; its entry is bound to it.
        path = folder.relative_to(ws.root) / MANIFEST
        with intents.committing(ws.audit, intents.file_says(path, "status", status, [entry])):
            save_release(folder, manifest)
    return manifest


def _require_second_person(ws: Workspace, actor: Actor, manifest: dict, action: str) -> None:
    if not same_person(actor.user, manifest["requester"]):
        return
    reason = "the requester cannot check their own release"
    ws.audit.record(
        actor, f"release.{action}", outcome="refused", purpose=manifest["purpose"], reason=reason
    )
    raise ReleaseRefused(f"you requested this release: a second person must check it ({reason})")


def _require_dpo_for_exceptions(ws: Workspace, actor: Actor, manifest: dict) -> None:
    exceptions = [c["table"] for c in manifest["contents"] if c["exception"]]
    if not exceptions or actor.role == Role.DATA_PROTECTION_OFFICER:
        return
    reason = f"exceptions ({', '.join(exceptions)}) are approved by the data protection officer"
    ws.audit.record(
        actor, "release.approve", outcome="refused", purpose=manifest["purpose"], reason=reason
    )
    raise ReleaseRefused(
        f"{reason} only; return the release, or pass it to the data protection officer"
    )


def verify_files(folder: Path, manifest: dict) -> None:
    """Every output file is byte for byte the one checked (its SHA-256 as recorded)."""
    for item in manifest["contents"]:
        digest = hashlib.sha256((folder / item["file"]).read_bytes()).hexdigest()
        if digest != item["sha256"]:
            raise ReleaseError(
                f"{item['file']} changed after the request: it is not what was checked; the "
                "analyst must request the release again"
            )


def download_release(ws: Workspace, actor: Actor, release_id: str, to: Path) -> Path:
    """Copy an approved release (its files, results.json and checksums) to `to`/<id>."""
    target = Path(to).absolute() / release_id

    def copy(folder: Path, manifest: dict) -> None:
        if target.exists():
            raise ReleaseError(f"{target} already exists; choose another folder with --to")
        for name in released_files(manifest):
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / name, target / name)

    hand_out(ws, actor, release_id, str(target), copy)
    return target


def release_archive(ws: Workspace, actor: Actor, release_id: str) -> bytes:
    """An approved release as a zip made in memory (the web service's download): the same
    files, checks and records as `download_release`, under the folder <id>/."""
    buffer = io.BytesIO()

    def pack(folder: Path, manifest: dict) -> None:
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for name in released_files(manifest):
                archive.write(folder / name, f"{release_id}/{name}")

    hand_out(ws, actor, release_id, f"web download {release_id}.zip", pack)
    return buffer.getvalue()


def released_files(manifest: dict) -> list[str]:
    """What leaves with a release, relative to its folder: each output, its checksum (ACRO's
    checksums/<file>.txt) and results.json; never manifest.json, OpenPHM's own record."""
    files = [item["file"] for item in manifest["contents"]]
    return [*files, *(f"{CHECKSUMS}/{file}.txt" for file in files), RESULTS]


def hand_out(
    ws: Workspace,
    actor: Actor,
    release_id: str,
    to: str,
    deliver: Callable[[Path, dict], None],
) -> None:
    """Give out an approved release whose files are the ones approved (`deliver` writes them
    where they go), recorded in its history and the audit log."""
    ws.authorise(actor, "release.download")
    with locked_release(ws, release_id) as (folder, manifest):
        if manifest["status"] != RELEASED:
            raise ReleaseError(
                f"release {release_id} is {manifest['status']}: only an approved release can be "
                "downloaded"
            )
        verify_files(folder, manifest)
        deliver(folder, manifest)
        manifest["history"].append(event(actor, "downloaded", to=to))
        save_release(folder, manifest)
    ws.audit.record(
        actor,
        "release.download",
        purpose=manifest["purpose"],
        reads=(f"{RELEASES}/{release_id}",),
        writes=(to,),
        counts={"files": len(manifest["contents"])},
    )
