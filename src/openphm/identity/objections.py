"""Objections (promise P7): who objects, read from the GP objection records in zone 1.

`objectors` names, per practice and patient reference, the patients whose latest Type 1
objection code is a dissent (a withdrawal after it restores them). It returns nothing when the
programme's policy has Type 1 objections off. `phm link` turns them into pseudonyms and keeps
them in zone 3's objectors' register, where openphm.linked.objectors removes their rows from
every table on every link, before it commits, so an objector's rows are never visible in the
linked zone.

Who objected is never logged: callers record only the counts.
"""

from __future__ import annotations

DISSENT = "827241000000103"  # Type 1 opt-out: dissent from secondary use of GP patient data
WITHDRAWN = "827261000000104"  # Type 1 opt-out withdrawn


def objectors(con, objections: str, *, type1: bool) -> str:
    """Create the temporary table `objection_latest` (practice, patient_ref, objects) from the
    objection records in `objections` (a landing view): one row per patient with any Type 1
    code, `objects` true when the latest is a dissent. Same-day codes are ordered by the file's
    period, revision and row, as the practice recorded them. Returns the table's name."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE objection_latest AS
        SELECT provider_ods AS practice, patient_ref,
               arg_max(snomed_code = '{DISSENT}', (recorded_date, submission_id, source_row))
                   AND {bool(type1)} AS objects
        FROM {objections}
        WHERE snomed_code IN ('{DISSENT}', '{WITHDRAWN}')
        GROUP BY ALL"""
    )
    return "objection_latest"
