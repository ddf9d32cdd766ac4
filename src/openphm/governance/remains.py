"""What the programme's close keeps, and what it must destroy in the outputs zone (promise P9).

Only two kinds of file outlive a programme: released, disclosure-controlled aggregates (a
release a second person approved) and the privacy notice; the audit log is kept beside them.
Everything else in zone 4 is patient-level or was never checked for release: cohort lists (a
token, risk and drivers per person, which the practice can still open), recipients' extracts
(record level), drafts and requests not approved, model cards and evaluations. The close
destroys them, and the certificate lists exactly what remains, with each file's SHA-256, so
that `phm verify-certificate --workspace` can show nothing else is there.

Reads zone 4 and the audit log; writes nothing (the close deletes what `patient_level` names).
`checked` is `phm verify-certificate`: the certificate's signature and, given the closed
workspace, what remains in it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

CERTIFICATE_FILES = ("destruction-certificate.json", "destruction-certificate.html")
NOTICE = "privacy-notice.md"
RELEASES, MANIFEST = "releases", "manifest.json"
COHORTS, EXTRACTS = "cohorts", "extracts"
# Release states whose files a second person approved for release.
RELEASED = frozenset({"released", "approved"})


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _released(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("status") in RELEASED
    except (OSError, ValueError):
        return False


def kind_of(outputs: Path, path: Path) -> str | None:
    """What a kept file holds, or None for a file the close destroys."""
    parts = path.relative_to(outputs).parts
    if parts == (NOTICE,):
        return "privacy notice (no patient data)"
    if parts[0] == RELEASES and len(parts) >= 3 and _released(outputs / RELEASES / parts[1]):
        if parts[-1].endswith(".csv"):
            return "released aggregate table"
        if parts[-1].endswith(".json"):
            return "release record (manifest or ACRO results.json)"
        return "checksum of a released file"
    return None


def files(outputs: Path) -> list[Path]:
    """Every file in zone 4 but the certificate itself."""
    return sorted(p for p in outputs.rglob("*") if p.is_file() and p.name not in CERTIFICATE_FILES)


def kept(outputs: Path) -> list[dict]:
    """[{path, kind, sha256}] of the files the close keeps, paths relative to the workspace."""
    return [
        {"path": f"outputs/{p.relative_to(outputs)}", "kind": kind, "sha256": sha256(p)}
        for p in files(outputs)
        if (kind := kind_of(outputs, p))
    ]


def patient_level(outputs: Path) -> list[Path]:
    """The files the close destroys."""
    return [p for p in files(outputs) if kind_of(outputs, p) is None]


def handed_over(ws) -> dict:
    """Whether each practice and each hospital or community provider had downloaded its cohort
    lists, and each recipient had extracts made, from the audit log and zone 4 (recorded on the
    certificate before they go). A folder of lists is a provider's if its ODS code is one of
    the programme's providers (`ProgrammeConfig.list_providers`), else a practice's; the two
    are counted apart."""
    outputs = ws.zone("outputs")
    downloads: dict[str, int] = {}
    for entry in ws.audit.entries():
        if entry.action == "cohort.download" and entry.outcome == "ok":
            for read in entry.reads:
                parts = Path(read).parts
                if COHORTS in parts and len(parts) > parts.index(COHORTS) + 1:
                    ods = parts[parts.index(COHORTS) + 1]
                    downloads[ods] = downloads.get(ods, 0) + 1
    providers = set(ws.config.list_providers())
    lists = {
        folder.name: {
            "lists": len(list(folder.glob("*.csv"))),
            "downloads": downloads.get(folder.name, 0),
        }
        for folder in sorted((outputs / COHORTS).glob("*"))
        if folder.is_dir()
    }
    practices = {ods: made for ods, made in lists.items() if ods not in providers}
    recipients = {
        folder.name: {"extracts_made": len([d for d in folder.iterdir() if d.is_dir()])}
        for folder in sorted((outputs / EXTRACTS).glob("*"))
        if folder.is_dir()
    }
    return {
        "practices": practices,
        "providers": {ods: made for ods, made in lists.items() if ods in providers},
        "recipients": recipients,
    }


def differences(root: Path, keystore: Path, body: dict) -> list[str]:
    """How a closed workspace differs from what its certificate says remains: a file kept that
    is missing or changed, any other file in a zone, a key file left in the key store."""
    outputs = root / "outputs"
    listed = {k["path"]: k["sha256"] for k in body.get("kept", [])}
    found = {f"outputs/{p.relative_to(outputs)}": p for p in files(outputs)}
    problems = [f"{path} is listed as kept but is not there" for path in listed.keys() - found]
    problems += [f"{path} is there but not listed as kept" for path in found.keys() - listed]
    problems += [
        f"{path} was changed after close (SHA-256 differs)"
        for path in listed.keys() & found.keys()
        if sha256(found[path]) != listed[path]
    ]
    for zone in ("landing", "linked"):
        left = [p for p in (root / zone).rglob("*") if p.is_file()]
        problems += [f"zone {zone} still holds {len(left)} file(s)"] if left else []
    keys = sorted(p.name for p in keystore.rglob("*.key")) if keystore.is_dir() else []
    problems += [f"the key store still holds {', '.join(keys)}"] if keys else []
    return problems


def checked(certificate_file: Path, workspace: Path | None = None) -> tuple[dict, list[str]]:
    """The certificate's body, once its signature verifies (`certificate.verify`, which raises
    CertificateError), and with `workspace` how that workspace differs from what the certificate
    says remains: signed by the workspace's own key, and exactly the files kept (`differences`).
    A closed workspace is read from its files (workspace.json), never opened."""
    from openphm.governance.certificate import verify

    expected = meta = None
    if workspace is not None:
        meta = json.loads((workspace / "workspace.json").read_text())
        expected = meta["signing_public_key"]
    body = verify(certificate_file, expected)
    if meta is None:
        return body, []
    store = Path(meta["keystore"])
    return body, differences(workspace, store if store.is_absolute() else workspace / store, body)
