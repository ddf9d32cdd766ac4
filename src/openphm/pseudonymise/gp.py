"""GP patients: from a practice's patient reference to a pseudonym and a sealed token (P2, P5).

Reads the current GP patient lists and registrations in zone 1, the practices' registered
public keys and the linkage key (handed over by `link`); writes `linked._gp_refs`, zone 3's
memory of each practice's patients across runs:

    practice, ref_pseudonym (the unmatched pseudonym of the practice's patient reference),
    pseudonym (the person's linkage pseudonym, or ref_pseudonym without a valid NHS number),
    key_id (the practice key the token is sealed to), token

The patient reference itself is never stored in zone 3, only its keyed pseudonym, so GP
activity that arrives after the patient list was destroyed still finds its person. Tokens
are reused while nothing changes; a practice's whole current list is sealed again when any of
its patients needs a token (see `seal`)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc
from nacl.public import PublicKey

from openphm.practice.tokens import encode_token, token_header
from openphm.pseudonymise.practices import key_id
from openphm.pseudonymise.resolve import put, unmatched
from openphm.pseudonymise.tokens import seal_tokens

GP_REFS = "linked._gp_refs"
GP = "gp"  # the source kind in a GP record's unmatched pseudonym

DDL = (
    f"CREATE TABLE IF NOT EXISTS {GP_REFS} (practice VARCHAR, ref_pseudonym VARCHAR, "
    "pseudonym VARCHAR, key_id VARCHAR, token VARCHAR)",
)


def ref_pseudonyms(con, tables: list[str], linkage_key: bytes) -> None:
    """Create `gp_ref(practice, patient_ref, ref_pseudonym)` for every patient in `tables`."""
    union = " UNION ".join(
        f"SELECT '{GP}' AS source_kind, provider_ods AS provider, patient_ref AS record_id FROM {t}"
        for t in tables
    )
    unmatched(con, union, linkage_key, "gp_ref_all")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gp_ref AS SELECT provider AS practice, "
        "record_id AS patient_ref, pseudonym AS ref_pseudonym FROM gp_ref_all"
    )
    con.execute("DROP TABLE gp_ref_all")


def patients(con, patients: str, registrations: str) -> None:
    """Create `gp_people`: each current patient-list row with its ref pseudonym, valid NHS
    number (or NULL), pseudonym, and `main` true on the row of the practice the person is
    registered with now (or was last), which supplies their attributes and the spine entry."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gp_people AS
        SELECT p.*, r.ref_pseudonym, c.nhs_number AS valid_nhs_number,
               coalesce(n.pseudonym, r.ref_pseudonym) AS pseudonym,
               reg.registration_start, reg.registration_end, reg.deregistration_reason,
               row_number() OVER (
                   PARTITION BY coalesce(n.pseudonym, r.ref_pseudonym)
                   ORDER BY reg.registration_end IS NULL DESC, reg.registration_end DESC,
                            reg.registration_start DESC, p.provider_ods) = 1 AS main
        FROM {patients} p
        JOIN gp_ref r ON r.practice = p.provider_ods AND r.patient_ref = p.patient_ref
        LEFT JOIN nhs_check c ON c.raw = p.nhs_number
        LEFT JOIN nhs_pseudonym n ON n.nhs_number = c.nhs_number
        LEFT JOIN (SELECT provider_ods, patient_ref,
                          max(registration_start) AS registration_start,
                          arg_max(registration_end, registration_start) AS registration_end,
                          arg_max(deregistration_reason, registration_start)
                              AS deregistration_reason
                   FROM {registrations} GROUP BY ALL) reg
               ON reg.provider_ods = p.provider_ods AND reg.patient_ref = p.patient_ref"""
    )


def adopt_traced(con) -> int:
    """Give each patient whom tracing found on the registered population (`gp_traced`: a
    registration that arrived without a valid NHS number, such as someone new to the practice
    whose number it has not traced yet) the pseudonym of the person found, and mark again
    which practice is each person's own now: a person who moved practice is one person, with
    the new practice's list supplying their attributes. Returns how many were traced."""
    # In place: the few traced rows change, not the million others (rebuilding the table
    # cost as much as building it).
    con.execute("ALTER TABLE gp_people ADD COLUMN traced BOOLEAN DEFAULT false")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gp_adopted AS
        SELECT t.ref_pseudonym, n.pseudonym FROM gp_traced t
        JOIN nhs_pseudonym n ON n.nhs_number = t.nhs_number"""
    )
    con.execute(
        """UPDATE gp_people SET pseudonym = a.pseudonym, traced = true FROM gp_adopted a
        WHERE gp_people.ref_pseudonym = a.ref_pseudonym"""
    )
    # An adopted row's own pseudonym was its reference's, which no other row holds: only the
    # people it joined need their practice of now marked again.
    con.execute(
        """UPDATE gp_people SET main = w.main FROM (
            SELECT rowid AS row, row_number() OVER (
                PARTITION BY pseudonym
                ORDER BY registration_end IS NULL DESC, registration_end DESC,
                         registration_start DESC, provider_ods) = 1 AS main
            FROM gp_people WHERE pseudonym IN (SELECT pseudonym FROM gp_adopted)) w
        WHERE gp_people.rowid = w.row"""
    )
    return con.execute("SELECT count(*) FROM gp_people WHERE traced").fetchone()[0]


def spine(con) -> int:
    """Create `spine`: the registered population with valid NHS numbers, for tracing, one row
    per number from the practice the person is registered with now (or was last), with
    `previous_postcode`: the postcode of their latest other registration where it differs
    (the address they had before they moved practice, from the previous practice's list),
    which a hospital not yet told of the move still holds."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE spine AS
        WITH earlier AS (
            SELECT o.valid_nhs_number,
                   arg_max(o.postcode, coalesce(o.registration_end, o.registration_start))
                       AS previous_postcode
            FROM gp_people o JOIN gp_people m
                 ON m.valid_nhs_number = o.valid_nhs_number AND m.main
            WHERE NOT o.main AND o.postcode IS NOT NULL
                  AND o.postcode IS DISTINCT FROM m.postcode
            GROUP BY o.valid_nhs_number)
        SELECT g.valid_nhs_number AS spine_id, g.given_name, g.family_name,
               g.date_of_birth::VARCHAR AS date_of_birth, g.sex, g.postcode,
               concat_ws(' ', g.address_line_1, g.address_line_2, g.town) AS address,
               e.previous_postcode
        FROM gp_people g LEFT JOIN earlier e USING (valid_nhs_number)
        WHERE g.valid_nhs_number IS NOT NULL AND g.main"""
    )
    return con.execute("SELECT count(*) FROM spine").fetchone()[0]


def refresh_refs(con, objectors: str) -> int:
    """Bring `_gp_refs` up to date with the current patient lists (objectors, whose rows the
    objections hook removed, are not added back); list in `gp_rekey` the patients whose
    pseudonym changed (an NHS number that became valid) and return how many."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE gp_refs_new AS
        SELECT provider_ods AS practice, ref_pseudonym, any_value(pseudonym) AS pseudonym
        FROM gp_people GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gp_rekey AS
        SELECT o.pseudonym AS old, n.pseudonym AS new FROM {GP_REFS} o
        JOIN gp_refs_new n USING (ref_pseudonym) WHERE o.pseudonym <> n.pseudonym"""
    )
    con.execute(
        f"""UPDATE {GP_REFS} SET pseudonym = n.pseudonym FROM gp_refs_new n
        WHERE {GP_REFS}.ref_pseudonym = n.ref_pseudonym"""
    )
    con.execute(
        f"""INSERT INTO {GP_REFS} SELECT n.practice, n.ref_pseudonym, n.pseudonym, NULL, NULL
        FROM gp_refs_new n
        ANTI JOIN {GP_REFS} o ON o.ref_pseudonym = n.ref_pseudonym
        ANTI JOIN {objectors} x ON x.pseudonym = n.ref_pseudonym
        ANTI JOIN {objectors} y ON y.pseudonym = n.pseudonym"""
    )
    return con.execute("SELECT count(*) FROM gp_rekey").fetchone()[0]


def seal(
    con,
    keys: dict[str, PublicKey],
    objectors: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Seal tokens for the practices that have a patient on a current list without a token
    of the current version under the practice's registered key (new to the list, back after
    withdrawing an objection, the key changed, or a token sealed before version 3, whose
    length shows its patient reference's): every patient on such a practice's list, not only
    that one, except objectors (who get none). Returns how many were sealed.

    All of a practice's current tokens are sealed again together because one run seals with one
    ephemeral key per practice (token version 3, `pseudonymise.tokens`): sealing only the
    patients who need a token would mark them as sharing a run, and so reveal, say, a former
    objector among newly registered patients. Sealed together, a practice's current tokens
    share one ephemeral key and tell nothing about any one patient. A run with nothing to seal
    for a practice changes none of its tokens."""
    return seal_current(
        con, GP_REFS, "gp_ref", "practice", "patient_ref", keys, objectors, progress
    )


def seal_current(
    con,
    refs: str,
    current: str,
    org: str,
    clear: str,
    keys: dict[str, PublicKey],
    objectors: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """`seal`'s rule for any organisation's references: `refs` is zone 3's memory (`org`,
    ref_pseudonym, pseudonym, key_id, token), `current` the references in the landing zone now
    (`org`, `clear`, ref_pseudonym), with `clear` the reference in clear, which only the token
    keeps. Each organisation in `keys` with a reference needing a token has all its current
    references sealed again together, objectors apart. Returns how many were sealed."""
    wanted = con.execute(
        f"""WITH listed AS (
            SELECT r.{org} AS org, g.{clear} AS clear, r.ref_pseudonym,
                   r.token IS NULL OR r.key_id IS DISTINCT FROM k.key_id
                   OR NOT starts_with(r.token, k.header) AS needs_token
            FROM {refs} r JOIN {current} g USING (ref_pseudonym)
            JOIN (SELECT unnest(?::VARCHAR[]) AS org, unnest(?::VARCHAR[]) AS key_id,
                         unnest(?::VARCHAR[]) AS header) k
                 ON k.org = r.{org}
            WHERE r.pseudonym NOT IN (SELECT pseudonym FROM {objectors}))
        SELECT org, clear, ref_pseudonym FROM listed
        WHERE org IN (SELECT org FROM listed WHERE needs_token)
        ORDER BY org""",
        [
            list(keys),
            [key_id(k) for k in keys.values()],
            [_written_header(k) for k in keys.values()],
        ],
    ).fetch_arrow_table()

    def seal_one(org: str, part: pa.Table) -> pa.Table:
        tokens = seal_tokens(part["clear"].to_pylist(), ods_code=org, public_key=keys[org])
        return pa.table(
            {
                "ref_pseudonym": part["ref_pseudonym"],
                "key_id": [key_id(keys[org])] * len(tokens),
                "token": tokens,
            }
        )

    # One organisation after another, on one thread: a token's cost is mostly Python since
    # token version 2, so two threads fought over the interpreter lock and sealed a million
    # tokens in 6.7 s against 4.6 s on one.
    # The rows come ordered by organisation, so each one's are one run of them, sliced
    # without copying (filtering the whole table once per practice cost 1.3 s at 1M).
    runs = pc.run_end_encode(wanted["org"].combine_chunks())
    sealed, done = [], 0
    for org, end in zip(runs.values.to_pylist(), runs.run_ends.to_pylist(), strict=True):
        part = seal_one(org, wanted.slice(done, end - done))
        sealed.append(part)
        done = end
        if progress:
            progress(done, len(wanted))
    if sealed:
        put(con, "sealed", pa.concat_tables(sealed))
        con.execute(
            f"UPDATE {refs} SET token = s.token, key_id = s.key_id FROM sealed s "
            f"WHERE {refs}.ref_pseudonym = s.ref_pseudonym"
        )
    return done


def _written_header(public_key: PublicKey) -> str:
    """How every token sealed now to `public_key` begins: its version and key id (9 bytes) are
    exactly its first 12 base64url characters."""
    return encode_token(token_header(public_key), b"")
