"""`linked.people`: one row per person, rebuilt on every `phm link` (promise P2).

Reads this run's resolved rows (temporary tables), the current patient lists (`gp_people`),
zone 3's previous `people`, `registrations`, `deaths` and `_gp_refs`; writes `linked.people`.
Attributes come from the first of: the person's current GP patient list (the practice they are
registered with now), their previous row in zone 3 (whose source may since have been destroyed),
this run's hospital and other records. Dates of birth become the month, postcodes the LSOA and
its IMD 2019 decile, ethnicity codes the 2021 Census five groups.
"""

from __future__ import annotations

from openphm.linked import model
from openphm.linked.objectors import arriving, objecting
from openphm.pseudonymise.deidentify import (
    UNKNOWN_ETHNIC_GROUP,
    birth_month,
    postcode_key,
)
from openphm.pseudonymise.gp import GP_REFS

PEOPLE_TABLE = "linked.people"
_TRACED = ("nhs-number", "traced", "untraced")  # best first


def create_sql() -> str:
    return model.create_sql("people")


def _attributes(source: str, priority: int, how: str, ethnicity: bool) -> str:
    """The attributes of a person as one struct, from rows with date_of_birth, sex, postcode."""
    ethnic = (
        "ethnicity_code := s.ethnicity_code, "
        f"ethnic_group := coalesce(e.ethnic_group, '{UNKNOWN_ETHNIC_GROUP}')"
        if ethnicity
        else f"ethnicity_code := NULL::VARCHAR, ethnic_group := '{UNKNOWN_ETHNIC_GROUP}'"
    )
    join = "LEFT JOIN ref_ethnicity e ON e.code = s.ethnicity_code" if ethnicity else ""
    return f"""SELECT s.pseudonym, {priority} AS priority, {how} AS traced,
        struct_pack(sex := coalesce(s.sex, 'U'), birth_month := {birth_month("s.date_of_birth")},
                    {ethnic}, lsoa := pc.lsoa, imd_decile := pc.imd_decile) AS a
        FROM {source} s {join}
        LEFT JOIN ref_postcode pc ON pc.postcode = {postcode_key("s.postcode")}"""


def rebuild(con, resolved: list[str], controllers: list[str], objectors: str) -> int:
    """Replace `linked.people`, without anyone in the `objectors` register; returns how many
    people that left out."""
    rank = "CASE traced " + " ".join(f"WHEN '{t}' THEN {i}" for i, t in enumerate(_TRACED))
    rank += " END"
    parts = [
        _attributes("(SELECT * FROM gp_people WHERE main)", 1, "CASE WHEN valid_nhs_number "
                    "IS NOT NULL THEN 'nhs-number' WHEN starts_with(s.pseudonym, 'u') "
                    "THEN 'untraced' ELSE 'traced' END", ethnicity=True),
        f"""SELECT pseudonym, 2, traced, struct_pack(sex, birth_month, ethnicity_code,
                   ethnic_group, lsoa, imd_decile) FROM {PEOPLE_TABLE}""",
    ]  # fmt: skip
    if resolved:
        # Other records only for people neither list nor zone 3 describes already (the
        # attributes would lose to those anyway): most rows never need their postcode looked
        # up. One anti join of all of them, not one per table: each built `known`'s million
        # pseudonyms again.
        records = " UNION ALL ".join(
            f"SELECT pseudonym, date_of_birth, sex, postcode, how FROM {t}" for t in resolved
        )
        parts.append(_attributes(f"(SELECT * FROM ({records}) ANTI JOIN known USING (pseudonym))",
                                 3, "how", ethnicity=False))  # fmt: skip
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE known AS
        SELECT pseudonym FROM gp_people WHERE main UNION SELECT pseudonym FROM {PEOPLE_TABLE}"""
    )
    union = " UNION ALL ".join(f"({p})" for p in parts)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE people_new AS
        WITH attrs AS (
            SELECT pseudonym, arg_min(a, priority) AS a, min({rank}) AS traced_rank
            FROM ({union}) GROUP BY pseudonym),
        reg AS (
            SELECT pseudonym,
                   first(practice ORDER BY end_date IS NULL DESC, end_date DESC,
                         start_date DESC) AS practice,
                   bool_or(end_date IS NULL AND list_contains(?, practice)) AS registered
            FROM linked.registrations GROUP BY pseudonym),
        died AS (SELECT pseudonym, min(date_of_death) AS d FROM linked.deaths GROUP BY ALL),
        gp_died AS (SELECT pseudonym, max(registration_end) AS d FROM gp_people
                    WHERE deregistration_reason = 'died' GROUP BY ALL)
        SELECT attrs.pseudonym, a.sex, a.birth_month, a.ethnicity_code, a.ethnic_group, a.lsoa,
               a.imd_decile, reg.practice, coalesce(reg.registered, false) AS registered,
               coalesce(died.d, gp_died.d, old.date_of_death) AS date_of_death,
               CASE WHEN starts_with(attrs.pseudonym, 'u') THEN 'untraced'
                    ELSE {list(_TRACED)}[traced_rank + 1] END AS traced,
               tok.token
        FROM attrs
        LEFT JOIN reg USING (pseudonym)
        LEFT JOIN died USING (pseudonym)
        LEFT JOIN gp_died USING (pseudonym)
        LEFT JOIN {PEOPLE_TABLE} old USING (pseudonym)
        LEFT JOIN (SELECT practice, pseudonym, any_value(token) AS token FROM {GP_REFS}
                   GROUP BY ALL) tok
               ON tok.pseudonym = attrs.pseudonym AND tok.practice = reg.practice""",
        [list(controllers)],
    )
    con.execute(f"DELETE FROM {PEOPLE_TABLE}")
    con.execute(f"INSERT INTO {PEOPLE_TABLE} {arriving('SELECT * FROM people_new', objectors)}")
    return con.execute(f"SELECT count(*) FROM people_new WHERE {objecting(objectors)}").fetchone()[
        0
    ]
