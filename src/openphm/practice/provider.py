"""A hospital provider's worklist: what a trust does with its cohort lists, as a practice does
with its own (openphm.practice.worklist), at the provider, reading only its own files.

A provider's tokens hold its ODS code and its own local patient id (the id its extracts carry),
so its worklist joins its own patient-list export on that id: columns LOCAL_PATIENT_COLUMNS.
The commands are `phm provider keygen|reidentify` (openphm.practice.commands) and, run by the
programme, `phm provider register` (openphm.pseudonymise.commands).
"""

from __future__ import annotations

# The provider's patient-list export: its local patient id, then the identity it shows.
LOCAL_ID = "local_patient_id"
LOCAL_PATIENT_COLUMNS = (LOCAL_ID, "nhs_number", "given_name", "family_name", "date_of_birth")


def provider_worklist(cohort, key, patients, *, ods_code: str | None = None):
    """`practice.worklist.make_worklist` with the provider's patient list: its local patient
    id is what the tokens hold, and the worklist names it as such."""
    from openphm.practice.worklist import make_worklist

    joined = make_worklist(
        cohort, key, patients.rename(columns={LOCAL_ID: "patient_ref"}), ods_code=ods_code
    )
    joined.rows = joined.rows.rename(columns={"patient_ref": LOCAL_ID})
    return joined
