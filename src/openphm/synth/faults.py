"""Faults injected into the extracts, as providers really send them: malformed rows (bad
dates, unknown codes, a wrong number of columns), duplicate rows, a corrected resubmission
(`_r2`) and a file from a provider outside the programme. Each is listed in truth/faults.csv
(file, row, kind, field) so that tests of the landing stage can check it is caught.
Writes test data only.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from openphm.synth.extracts import TABLES, ExtractWriter, extract_path, file_path
from openphm.synth.layouts import KIND, REAL

OUTSIDE_PROVIDER = "RZ9"  # a trust out of the area: not a source in programme.toml
BAD_DATE = {"A": "2026-02-30", "B": "31/13/2026"}
UNKNOWN_SNOMED = "12AB34"  # not a SNOMED CT id: those are 6 to 18 digits
UNKNOWN_ICD10 = "9Q9"  # not an ICD-10 code: a letter, two digits, optionally more


@dataclass(frozen=True)
class Fault:
    file: str
    row: int | None  # 1-based data row, header excluded; None when the whole file is the fault
    kind: str
    field: str | None


def _rows(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _set_field(line: str, header: list[str], field: str, value: str) -> str:
    # Re-quoted as the extract writer quotes: text in quotes, missing values left bare.
    values = next(csv.reader([line]))
    values[header.index(field)] = value
    return ",".join(f'"{v.replace(chr(34), chr(34) * 2)}"' if v else "" for v in values) + "\n"


def inject(
    root: Path,
    writer: ExtractWriter,
    practices: pd.DataFrame,
    trusts: list[str],
    period: str,
    baseline: str,
    allow_column_faults: bool,
    real: bool = False,
) -> list[Fault]:
    """Inject every fault into the CSV extracts (before any Parquet conversion). `real`: the
    hospital files are in the published layouts (HES), and their faults are put in the same
    places in those files' columns."""
    faults: list[Fault] = []

    def edit(path: str, changes: list[tuple[int, str, str | None]]) -> None:
        lines = _rows(root / path)
        header = next(csv.reader([lines[0]]))
        for row, kind, field in changes:
            if row >= len(lines):
                continue
            if kind == "wrong-column-count":
                lines[row] = lines[row].rstrip("\r\n") + ',"extra"\n'
            else:
                value = {
                    "bad-date": BAD_DATE["B" if "/" in lines[row] else "A"],
                    "unknown-code": UNKNOWN_ICD10 if "diag" in field.lower() else UNKNOWN_SNOMED,
                }[kind]
                lines[row] = _set_field(lines[row], header, field, value)
            faults.append(Fault(path, row, kind, field))
        (root / path).write_text("".join(lines), encoding="utf-8")

    for i, practice in enumerate(practices["ods_code"][:2]):
        flavour = practices["flavour"].iloc[i]
        events = extract_path(TABLES["events"], practice, period)
        consultations = extract_path(TABLES["consultations"], practice, period)
        if flavour == "A":
            edit(events, [(1, "unknown-code", "snomed_code")])
            edit(consultations, [(2, "bad-date", "consultation_date")])
        else:
            edit(events, [(1, "bad-date", "EventDate"), (3, "unknown-code", "SnomedCode")])

    # The first trust's monthly emergency care file is rejected and resubmitted clean.
    def path(table: str, provider: str, period_: str, resubmission: int = 1) -> str:
        if real:
            return file_path(KIND[table], REAL[table], provider, period_, resubmission)
        return extract_path(TABLES[table], provider, period_, resubmission)

    ecds = path("ecds", trusts[0], period)
    resubmitted = path("ecds", trusts[0], period, resubmission=2)
    shutil.copyfile(root / ecds, root / resubmitted)
    writer.add_records(resubmitted, np.arange(1, writer.written[ecds] + 1), writer.persons(ecds))
    writer.written[resubmitted] = writer.written[ecds]
    faults.append(Fault(resubmitted, None, "resubmission", None))
    # HES A&E has no chief complaint: its diagnosis takes the unknown code.
    arrival, complaint = ("ARRIVALDATE", "DIAG3_01") if real else ("arrival_date",
                                                                  "chief_complaint")  # fmt: skip
    changes = [(1, "bad-date", arrival), (2, "unknown-code", complaint)]
    if allow_column_faults:
        changes.append((3, "wrong-column-count", None))
    edit(ecds, changes)

    apc_trust = trusts[-1]
    edit(path("apc", apc_trust, period),
         [(1, "unknown-code", "DIAG_4_01" if real else "primary_diagnosis")])  # fmt: skip
    faults += _duplicate(root, writer, path("apc", apc_trust, baseline), 3)
    faults.append(_outside_provider(root, writer, path("ecds", trusts[0], baseline),
                                    path("ecds", OUTSIDE_PROVIDER, baseline)))  # fmt: skip
    return faults


def _duplicate(root: Path, writer: ExtractWriter, path: str, count: int) -> list[Fault]:
    """The first rows sent again at the end of the file (a provider's export ran twice)."""
    lines = _rows(root / path)
    n = len(lines) - 1
    count = min(count, n)
    with open(root / path, "a", encoding="utf-8") as handle:
        handle.writelines(lines[1 : count + 1])
    persons = writer.persons(path)
    writer.add_records(path, np.arange(n + 1, n + count + 1), persons[:count])
    writer.written[path] = n + count
    return [Fault(path, n + k, "duplicate-row", None) for k in range(1, count + 1)]


def _outside_provider(root: Path, writer: ExtractWriter, source: str, target: str) -> Fault:
    """Attendances at a trust outside the programme, sent to the processor by mistake."""
    lines = _rows(root / source)[:21]
    (root / target).parent.mkdir(parents=True, exist_ok=True)
    (root / target).write_text("".join(lines), encoding="utf-8")
    writer.add_records(target, np.arange(1, len(lines)), writer.persons(source)[: len(lines) - 1])
    writer.written[target] = len(lines) - 1
    return Fault(target, None, "provider-not-in-programme", None)
