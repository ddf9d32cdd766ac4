"""results.json: a release in the layout ACRO writes (AI-SDC/ACRO, `Records.finalise_json` in
acro/record.py, version 0.4), so that the SACRO viewer and other output-checking tools can read
an OpenPHM release (docs/releases.md says which field holds what).

Made from the release's record (manifest.json) whenever the record changes, so the two never
disagree. Beside it, as ACRO does, `checksums/<file>.txt` holds each file's SHA-256 (written
when the file is); OpenPHM also puts it in the file's entry here.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from pathlib import Path

from openphm.disclosure.outcomes import ROUNDED, SHOWN, SUPPRESSED

RESULTS = "results.json"
# The ACRO version whose layout this follows; readers such as the SACRO viewer check it.
ACRO_VERSION = "0.4.11"
# ACRO's own rules: counted in every output's summary, even where OpenPHM never applies one.
ACRO_RULES = ("negative", "missing", "threshold", "p-ratio", "nk-rule", "all-values-are-same")
RELEASE_FIELDS = (
    "id",
    "title",
    "purpose",
    "requester",
    "requested_at",
    "status",
    "approved_by",
    "disclosure_rules",
    "history",
)


def write_results(folder: Path, manifest: dict) -> None:
    write_json(folder / RESULTS, results(manifest))


def write_json(path: Path, data: dict) -> None:
    """Written whole or not at all: a reader never sees half a record."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def results(manifest: dict) -> dict:
    """ACRO's top level (version, results by output), and OpenPHM's record of the release."""
    return {
        "version": ACRO_VERSION,
        "results": {item["table"]: _output(item, manifest) for item in manifest["contents"]},
        "release": {field: manifest.get(field) for field in RELEASE_FIELDS},
    }


def _output(item: dict, manifest: dict) -> dict:
    staged = [e for e in manifest["history"] if e["action"] in ("requested", "resubmitted")]
    return {
        "uid": item["table"],
        "status": item["check"],  # ACRO's: pass or fail (the release's own status is below)
        "type": "table",
        "properties": {"method": "disclosure control", "rows": item["rows"]},
        "files": [{"name": item["file"], "sdc": _sdc(item), "sha256": item["sha256"]}],
        "outcome": item["outcome"],
        "command": item["query"] or f"draft {item['table']}",
        "summary": _summary(item),
        "timestamp": staged[-1]["at"],
        "comments": [item["description"], *_comments(manifest)],
        "exception": item["exception"],
    }


def _sdc(item: dict) -> dict:
    """ACRO's per-file disclosure record: counts by rule, and each flagged cell as [row,
    column] (0-based, over the file's data rows and all its columns)."""
    cells = _positions(item["outcome"])
    summary = {"suppressed": item["check"] == "pass", **dict.fromkeys(ACRO_RULES, 0)}
    summary.update(
        threshold=item["primary_redactions"],
        secondary=item["secondary_redactions"],
        rounded=len(cells[ROUNDED]),
    )
    flagged = {rule: [] for rule in ACRO_RULES}
    flagged.update({SUPPRESSED: cells[SUPPRESSED], ROUNDED: cells[ROUNDED]})
    return {"summary": summary, "cells": flagged}


def _positions(outcome: dict[str, dict]) -> defaultdict[str, list[list[int]]]:
    found: defaultdict[str, list[list[int]]] = defaultdict(list)
    for col, column in enumerate(outcome):
        for row, label in outcome[column].items():
            if label != SHOWN:
                found[label].append([int(row), col])
    return found


def _summary(item: dict) -> str:
    if item["failures"]:
        return "fail; " + "; ".join(item["failures"])
    hidden = item["primary_redactions"] + item["secondary_redactions"]
    return f"pass; suppressed: {hidden} cells; counts rounded"


def _comments(manifest: dict) -> list[str]:
    return [
        f"{e['action']} by {e['user']} ({e['role']}): {e['comment']}"
        for e in manifest["history"]
        if e.get("comment")
    ]
