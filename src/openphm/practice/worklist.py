"""A practice's worklist: its own patients in a cohort list, with NHS numbers and names, made at
the practice (promise P5). Reads a cohort list (tokens and scores, from the programme), the
practice's private key and its own patient list; writes the worklist on the practice's machine.

A token that is not this practice's, or that fails authentication, is counted and left out:
nothing is guessed. A patient whose token opens but who is not on the patient list given (they
left the practice since) is counted too.
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from nacl.public import PrivateKey

from openphm.csvsafe import spreadsheet_safe
from openphm.errors import UserFacingError
from openphm.practice.tokens import open_tokens

PATIENT_COLUMNS = ("patient_ref", "nhs_number", "given_name", "family_name", "date_of_birth")
IDENTITY_COLUMNS = ("nhs_number", "given_name", "family_name", "date_of_birth", "patient_ref")


class WorklistError(UserFacingError):
    """A cohort list or patient list that cannot be read; says which file and column."""


@dataclass
class Worklist:
    rows: pd.DataFrame
    failures: Counter[str] = field(default_factory=Counter)
    not_on_patient_list: int = 0
    about: list[str] = field(default_factory=list)  # the list's "# ..." lines, if it had any

    @property
    def refused(self) -> int:
        return sum(self.failures.values())


def about_lines(path: Path) -> list[str]:
    """The "# ..." lines at the head of a cohort list downloaded from the practice's page (what
    the list is: practice, purpose, criteria, size, dates), as text; none in a list without."""
    lines = []
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            for row in csv.reader(handle):
                if len(row) != 1 or not row[0].startswith("#"):
                    break
                lines.append(row[0])
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return lines


def read_csv(path: Path, required: tuple[str, ...], what: str) -> pd.DataFrame:
    """The table in a CSV, below any "# ..." lines at its head (each one physical line)."""
    skip = len(about_lines(path))
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, skiprows=skip)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise WorklistError(f"{path}: cannot read the {what} ({type(err).__name__})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise WorklistError(f"{path}: the {what} has no column(s) {', '.join(missing)}")
    return frame


def make_worklist(
    cohort: pd.DataFrame, key: PrivateKey, patients: pd.DataFrame, *, ods_code: str | None = None
) -> Worklist:
    """The cohort's rows this practice can open, joined to its patient list; identity first."""
    opened = open_tokens(cohort["token"], key, ods_code=ods_code)
    refs = [p.patient_ref if p else None for p in opened.patients]
    rows = cohort.drop(columns="token").assign(patient_ref=refs)
    rows = rows[rows["patient_ref"].notna()]
    joined = rows.merge(
        patients.loc[:, list(PATIENT_COLUMNS)], on="patient_ref", how="left", indicator=True
    )
    on_list = joined["_merge"] == "both"
    worklist = joined[on_list].drop(columns="_merge")
    others = [c for c in worklist.columns if c not in IDENTITY_COLUMNS]
    worklist = worklist.loc[:, [*IDENTITY_COLUMNS, *others]].reset_index(drop=True)
    return Worklist(worklist, opened.failures, int((~on_list).sum()))


def write_worklist(worklist: Worklist, path: Path) -> None:
    """Written readable by its owner only: it names patients. Headed by the list's own "# ..."
    lines, so the worklist says which list it is and why these people are on it. No cell can
    run as a spreadsheet formula."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for line in worklist.about:
            writer.writerow([line])
        # A name from the clinical system such as "=HYPERLINK(…)" must stay text when the
        # practice opens the worklist in a spreadsheet (openphm.csvsafe), as in the browser.
        spreadsheet_safe(worklist.rows).to_csv(handle, index=False)
