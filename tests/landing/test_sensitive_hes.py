"""Sensitive lists on spells built from HES episodes (docs/sensitive-data.md): a spell is
withheld whole when any diagnosis or procedure of any of its episodes is on a list, though a
spell keeps only its first episode's procedure; the same person's other spell is linked."""

from __future__ import annotations

import csv
import io

from openphm.landing.ingest import LOADED, ingest
from openphm.programme.workspace import Workspace
from openphm.pseudonymise.link import link

from .conftest import put
from .hes import HES_SOURCE

HEADER = [
    "EPIKEY", "NEWNHSNO", "DOB", "SEX", "HOMEADD", "PROCODE3", "ADMIDATE", "ADMIMETH",
    "EPIORDER", "EPISTART", "EPIEND", "DISDATE", "DISDEST", "DIAG_4_01", "DIAG_4_02",
    "OPERTN_4_01", "OPERTN_4_02",
]  # fmt: skip
PERSON = ["9434765919", "1990-01-02", "2", "LS1 4AP", "RX1"]
ROWS = [
    # Spell 1: three episodes; the third's second procedure is a selective feticide (R03.1).
    ["E1", *PERSON, "2026-01-01", "21", "1", "2026-01-01", "2026-01-02", "", "19", "R104", "-",
     "-", "-"],
    ["E2", *PERSON, "2026-01-01", "21", "2", "2026-01-02", "2026-01-03", "", "19", "O209", "-",
     "U211", "-"],
    ["E3", *PERSON, "2026-01-01", "21", "3", "2026-01-03", "2026-01-04", "2026-01-04", "19",
     "O300", "-", "R101", "R031"],
    # Spell 2: the second episode's second diagnosis is assisted conception (Z31.2).
    ["E4", *PERSON, "2026-02-01", "11", "1", "2026-02-01", "2026-02-01", "", "19", "N979", "-",
     "-", "-"],
    ["E5", *PERSON, "2026-02-01", "11", "2", "2026-02-01", "2026-02-01", "2026-02-01", "19",
     "N979", "Z312", "-", "-"],
    # Spell 3: harmless, and linked.
    ["E6", *PERSON, "2026-03-01", "11", "1", "2026-03-01", "2026-03-01", "2026-03-01", "19",
     "K359", "-", "H011", "-"],
]  # fmt: skip


def test_a_spell_is_withheld_for_any_code_of_any_episode(tmp_path, example_config, engineer):
    text = example_config.read_text().replace(
        "purposes = [", "accept_test_nhs_numbers = true\npurposes = [", 1
    )
    example_config.write_text(text + HES_SOURCE)
    ws = Workspace.create(tmp_path / "ws", example_config, engineer)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([HEADER, *ROWS])
    path = put(
        example_config.parent / "extracts", "admitted-care", "X26", "X26_hes-apc_202603.csv",
        out.getvalue(),
    )  # fmt: skip
    (outcome,) = ingest(ws, [path], engineer).outcomes
    assert outcome.status == LOADED and outcome.counts.loaded == 6, outcome.message
    link(ws, engineer)
    con = ws.connect_linked(read_only=True)
    try:
        spells = con.execute(
            "SELECT admission_date::VARCHAR, primary_diagnosis, secondary_diagnoses, "
            "primary_procedure FROM linked.apc_spells"
        ).fetchall()
    finally:
        con.close()
    assert spells == [("2026-03-01", "K359", [], "H011")]
    (entry,) = [e for e in ws.audit.entries() if e.action == "identity.link"]
    assert entry.counts["sensitive.termination-of-pregnancy.admitted-care"] == 1
    assert entry.counts["sensitive.assisted-conception.admitted-care"] == 1
    assert entry.counts["sensitive_withheld.admitted-care"] == 2
    assert entry.counts["written.apc_spells"] == 1
