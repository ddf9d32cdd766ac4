"""Hospital providers' patients: from a provider's local patient id to a sealed token (P2, P5).

A trust that registered its public key (`phm provider register`) receives cohort lists of its
own patients, as a practice does; its tokens hold its ODS code and its own local patient id,
the id its admitted-care, emergency-care, outpatients and community extracts carry in the
column `local_patient_id`, so the trust re-identifies a list from its own patient index.

Reads the current landing rows of those tables (the local ids, in zone 1), this run's resolved
rows (their pseudonyms), the providers' registered public keys and the linkage key (handed over
by `link`); writes `linked._provider_refs`, zone 3's memory of each provider's patients across
runs:

    provider, ref_pseudonym (the keyed pseudonym of the provider's local id), pseudonym (the
    person's), key_id (the provider key the token is sealed to), token

The local id itself never reaches zone 3, only its keyed pseudonym and the token sealed to the
provider. A provider's tokens are sealed while its local ids are in the landing zone (at most
14 days after they arrive); a token already sealed is kept after that, so a person seen months
ago still has one. After a key replacement, only the people whose local ids are in the landing
zone at the next link get a token sealed to the new key (docs/risk-and-cohorts.md).

A provider's records with no `local_patient_id` column (its extracts do not carry it), or a
blank one, give no token: their people cannot be listed for that provider.
"""

from __future__ import annotations

from collections.abc import Callable

from nacl.public import PublicKey

from openphm.pseudonymise.gp import seal_current
from openphm.pseudonymise.resolve import unmatched

PROVIDER_REFS = "linked._provider_refs"
LOCAL_ID = "local_patient_id"
# The canonical tables of the kinds a provider receives lists for (programme.PROVIDER_KINDS).
TABLES = ("apc_spells", "ec_attendances", "op_appointments", "community_contacts")
# The source kind in a local id's keyed pseudonym: no record id of any extract is keyed with it.
SOURCE = "provider-local-id"

DDL = (
    f"CREATE TABLE IF NOT EXISTS {PROVIDER_REFS} (provider VARCHAR, ref_pseudonym VARCHAR, "
    "pseudonym VARCHAR, key_id VARCHAR, token VARCHAR)",
)


def carries_local_id(con, relation: str) -> bool:
    """Whether a landing view or resolved table has the local patient id column."""
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    return LOCAL_ID in columns


def _in(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values) or "NULL"


def local_refs(con, views: dict[str, str], providers: list[str], linkage_key: bytes) -> int:
    """Create `provider_ref(provider, local_id, ref_pseudonym)`: every local id of `providers`
    in the current landing rows, with its keyed pseudonym. Returns how many."""
    parts = [
        f"SELECT '{SOURCE}' AS source_kind, provider_ods AS provider, "
        f"{LOCAL_ID} AS record_id FROM {views[t]} "
        f"WHERE {LOCAL_ID} IS NOT NULL AND provider_ods IN ({_in(providers)})"
        for t in TABLES
        if t in views and carries_local_id(con, views[t])
    ]
    ids = " UNION ".join(parts) or (
        "SELECT NULL::VARCHAR source_kind, NULL::VARCHAR provider, NULL::VARCHAR record_id "
        "WHERE false"
    )
    unmatched(con, ids, linkage_key, "provider_ref_all")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE provider_ref AS SELECT provider, record_id AS local_id, "
        "pseudonym AS ref_pseudonym FROM provider_ref_all"
    )
    con.execute("DROP TABLE provider_ref_all")
    return con.execute("SELECT count(*) FROM provider_ref").fetchone()[0]


def refresh_refs(con, resolved: dict[str, str], objectors: str) -> int:
    """Bring `_provider_refs` up to date: pseudonyms moved by this run's re-keying
    (`gp_rekey`), then each local id in this run's `resolved` rows ({canonical table: resolved
    temp table}) with its person. A local id whose rows name more than one person takes the
    person with an NHS number or traced (never an unmatched record's own pseudonym while one
    exists), then the one most of its rows name; an id already known to a traced person is not
    moved to an untraced one. Objectors are not added. Returns the local ids added."""
    con.execute(
        f"UPDATE {PROVIDER_REFS} SET pseudonym = k.new FROM gp_rekey k "
        f"WHERE {PROVIDER_REFS}.pseudonym = k.old"
    )
    parts = [
        f"SELECT provider_ods AS provider, {LOCAL_ID} AS local_id, pseudonym FROM {table} "
        f"WHERE {LOCAL_ID} IS NOT NULL"
        for canonical, table in resolved.items()
        if canonical in TABLES and carries_local_id(con, table)
    ]
    if not parts:
        return 0
    # Rows counted per local id and person first, then each id's person picked by one
    # aggregate (a local id has one keyed pseudonym: `local_refs`): a window over the joined
    # rows took 5.1 s at a million people where this takes 3.7, for the same choice.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE provider_seen AS
        SELECT r.provider, r.ref_pseudonym,
               arg_min(x.pseudonym, (starts_with(x.pseudonym, 'u'), -x.rows, x.pseudonym))
                   AS pseudonym
        FROM (SELECT provider, local_id, pseudonym, count(*) AS rows
              FROM ({" UNION ALL ".join(parts)}) GROUP BY ALL) x
        JOIN provider_ref r ON r.provider = x.provider AND r.local_id = x.local_id
        GROUP BY r.provider, r.ref_pseudonym"""
    )
    con.execute(
        f"""UPDATE {PROVIDER_REFS} SET pseudonym = s.pseudonym FROM provider_seen s
        WHERE {PROVIDER_REFS}.ref_pseudonym = s.ref_pseudonym
          AND {PROVIDER_REFS}.pseudonym <> s.pseudonym
          AND (NOT starts_with(s.pseudonym, 'u') OR starts_with({PROVIDER_REFS}.pseudonym, 'u'))"""
    )
    added = con.execute(
        f"""INSERT INTO {PROVIDER_REFS}
        SELECT s.provider, s.ref_pseudonym, s.pseudonym, NULL, NULL FROM provider_seen s
        ANTI JOIN {PROVIDER_REFS} o ON o.ref_pseudonym = s.ref_pseudonym
        ANTI JOIN {objectors} x ON x.pseudonym = s.pseudonym"""
    ).fetchone()[0]
    return int(added)


def seal(
    con,
    keys: dict[str, PublicKey],
    objectors: str,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Seal the tokens of every provider in `keys` with a local id in the landing zone that has
    no token of the current version under its registered key: all of that provider's current
    local ids together, objectors apart, as `gp.seal` does for a practice. Returns how many
    were sealed."""
    return seal_current(
        con, PROVIDER_REFS, "provider_ref", "provider", "local_id", keys, objectors, progress
    )
