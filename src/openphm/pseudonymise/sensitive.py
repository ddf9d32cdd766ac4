"""Sensitive records kept in zone 1: what `phm link` withholds from the linked zone.

A record coded with a code of a sensitive list (sexually transmitted infections, HIV,
termination of pregnancy, assisted conception, gender identity: the shipped lists in
openphm/reference/sensitive, changed by programme.toml's [sensitive]) never leaves the landing
zone. The rule, per canonical table (docs/sensitive-data.md):

- `apc_spells`: a spell with any sensitive code in its primary or secondary diagnoses or its
  procedure is withheld whole; a spell built from HES episodes, when any diagnosis or procedure
  of any of its episodes is (`landing.read.SPELL_CODES`), so a spell whose first episode is
  harmless and whose third is a termination is withheld too;
- `ec_attendances`: an attendance whose diagnosis or chief complaint is a sensitive SNOMED CT
  concept (ECDS) or ICD-10 code (an A&E file that codes diagnoses in ICD-10);
- `gp_events`: an event whose SNOMED CT concept is on a list; `gp_medications`: an issue whose
  dm+d id is (dm+d ids are SNOMED CT ids);
- `deaths`: a registration whose underlying cause is on a list keeps its date (the person's
  death is not the sensitive fact, and dropping it would keep a dead person alive in every
  register) and loses its cause, which arrives as NULL.

Reads the new rows of this link (views `arrived_<canonical>` of zone 1) and the lists; writes
temporary views `new_<canonical>` with the withheld rows left out, which every later step of
`phm link` reads instead, so a withheld record is not traced, pseudonymised, counted in the
link report or written. Nothing is written to zone 3. The counts (records per list and source
kind; never a code of a person, never a row) go to the link's audit entry, from which
`phm status` and the DPO's page read them (openphm.governance.withheld).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cache

from openphm.programme.config import SENSITIVE_SYSTEMS, SensitiveSettings, default_sensitive_lists

ICD10, OPCS4, SNOMED = (system for system, _ in SENSITIVE_SYSTEMS.values())
# The prefixes an ICD-10 or OPCS-4 code is matched by: a list's code of 3 to 6 characters is
# its category, or the code itself, and every code under it.
PREFIXES = (3, 4, 5, 6)
COUNT = "sensitive"  # audit counts `sensitive.<list>.<source kind>`: records per list
WITHHELD = "sensitive_withheld"  # audit counts `sensitive_withheld.<source kind>`: records
# The canonical tables whose records carry codes, with (system, column or list of codes).
CODED: dict[str, tuple[tuple[str, str], ...]] = {
    "apc_spells": (
        (ICD10, "primary_diagnosis"),
        (ICD10, "string_split(secondary_diagnoses, ';')"),
        (OPCS4, "primary_procedure"),
    ),
    "ec_attendances": (
        (SNOMED, "diagnosis"),
        (SNOMED, "chief_complaint"),
        (ICD10, "diagnosis"),
        (ICD10, "chief_complaint"),
    ),
    "gp_events": ((SNOMED, "snomed_code"),),
    "gp_medications": ((SNOMED, "dmd_code"),),
    "deaths": ((ICD10, "underlying_cause"),),
}
# Tables whose matching records keep their row and lose these columns instead.
CAUSE_ONLY = {"deaths": ("underlying_cause",)}


@dataclass(frozen=True)
class Lists:
    """The lists in force: codes (list, system, code), the lists' names in order, and the
    default lists turned off with the reason given."""

    codes: tuple[tuple[str, str, str], ...]
    names: tuple[str, ...]
    off: tuple[str, ...] = ()
    reason: str = ""

    def audit_reason(self) -> str:
        """What the link's audit entry says of lists turned off ("" when none is)."""
        if not self.off:
            return ""
        return f"sensitive lists off: {', '.join(self.off)} (reason: {self.reason.strip()})"


@cache
def _defaults() -> tuple[tuple[str, str, str], ...]:
    from openphm.reference import sensitive_codes

    frame = sensitive_codes()
    return tuple(zip(frame["list"], frame["system"], frame["code"], strict=True))


def lists_for(settings: SensitiveSettings) -> Lists:
    """The lists programme.toml's [sensitive] puts in force: the shipped ones (less those
    turned off, or none with `defaults = false`), with each [[sensitive.lists]]'s codes added
    to the default list of its name or making a list of their own."""
    defaults = list(default_sensitive_lists()) if settings.defaults else []
    on = [name for name in defaults if name not in settings.off]
    codes = [row for row in _defaults() if row[0] in on]
    names = list(on)
    for item in settings.lists:
        if item.name not in names:
            names.append(item.name)
        for key, (system, _) in SENSITIVE_SYSTEMS.items():
            codes.extend((item.name, system, code) for code in getattr(item, key))
    off = tuple(settings.off) if settings.defaults else tuple(default_sensitive_lists())
    return Lists(tuple(dict.fromkeys(codes)), tuple(names), off, settings.reason)


@dataclass
class Withheld:
    """What one link withheld: records per (list, source kind), and records per source kind
    (a record on two lists counts once there, and once in each list)."""

    per_list: Counter = field(default_factory=Counter)
    records: Counter = field(default_factory=Counter)

    def audit_counts(self) -> dict[str, int]:
        counts = {f"{COUNT}.{name}.{kind}": n for (name, kind), n in sorted(self.per_list.items())}
        counts |= {f"{WITHHELD}.{kind}": n for kind, n in sorted(self.records.items())}
        return counts


def withhold(con, tables: list[str], lists: Lists, spell_codes: str | None = None) -> Withheld:
    """Create `new_<t>` for every canonical table `t` in `tables` from `arrived_<t>`, without
    the records a list names (or, for deaths, without their cause); `spell_codes` is the view of
    every code of spells built from episodes (landing.read.SPELL_CODES). Returns the counts."""
    withheld = Withheld()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sensitive_match (list VARCHAR, system VARCHAR, code VARCHAR)"
    )
    if lists.codes:
        con.executemany("INSERT INTO sensitive_match VALUES (?, ?, ?)", list(lists.codes))
    for table in tables:
        arrived = f"arrived_{table}"
        parts = _coded(table, arrived, spell_codes)
        hits = f"sensitive_hits_{table}"
        per_list = []
        if parts and lists.codes:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE {hits} AS SELECT DISTINCT * FROM "
                f"({' UNION ALL '.join(parts)})"
            )
            per_list = con.execute(
                f"SELECT list, source_kind, count(*) FROM {hits} GROUP BY ALL"
            ).fetchall()
        if not per_list:
            # Nothing to leave out: the rows as they arrived. The filter below would cost a
            # hash probe of every row on every read, for no row (0.6 s a read of a million
            # people's GP events, which a link reads three times).
            con.execute(f"CREATE OR REPLACE TEMP VIEW new_{table} AS SELECT * FROM {arrived}")
            continue
        for name, kind, n in per_list:
            withheld.per_list[(name, kind)] += n
        for kind, n in con.execute(
            f"SELECT source_kind, count(DISTINCT (submission_id, source_row)) FROM {hits} "
            "GROUP BY ALL"
        ).fetchall():
            withheld.records[kind] += n
        match = _on_a_list(table, hits)
        if table in CAUSE_ONLY:
            blanked = ", ".join(
                f"CASE WHEN {match} THEN NULL ELSE r.{c} END AS {c}" for c in CAUSE_ONLY[table]
            )
            body = f"SELECT * REPLACE ({blanked}) FROM {arrived} r"
        else:
            body = f"SELECT * FROM {arrived} r WHERE NOT {match}"
        con.execute(f"CREATE OR REPLACE TEMP VIEW new_{table} AS {body}")
    return withheld


def _on_a_list(table: str, hits: str) -> str:
    """SQL true for a row `r` of `table` that a list names. GP events and medications: a
    record is on a list exactly when its concept is, so it is told by its code (a probe of the
    lists' few codes; a million people's GP events read in 0.3 s rather than 1.1 s, three
    times a link, with the same rows left out); any other table by its row in `hits`."""
    coded = CODED.get(table, ())
    if coded and all(system == SNOMED and sql.isidentifier() for system, sql in coded):
        listed = f"(SELECT code FROM sensitive_match WHERE system = '{SNOMED}')"
        return "(" + " OR ".join(f"coalesce(r.{c} IN {listed}, false)" for _, c in coded) + ")"
    return (
        f"EXISTS (SELECT 1 FROM {hits} h WHERE h.submission_id = r.submission_id "
        "AND h.source_row = r.source_row)"
    )


def _coded(table: str, arrived: str, spell_codes: str | None) -> list[str]:
    """SELECTs of (submission_id, source_row, source_kind, list): each record of `arrived` with
    each list one of its codes is on. A SNOMED CT id is matched as it is, by a hash join on the
    list's few codes (tens of millions of GP events: 10M rows in 0.04 s); an ICD-10 or OPCS-4
    code by each prefix it has (A540 as A54 and A540), on the far fewer hospital records."""
    coded = [(arrived, system, sql) for system, sql in CODED.get(table, ())]
    if table == "apc_spells" and spell_codes:
        # Spells built from episodes: every code of every episode.
        joined = f"{arrived} JOIN {spell_codes} USING (submission_id, source_row)"
        coded += [(joined, ICD10, "unnest(diagnoses)"), (joined, OPCS4, "unnest(procedures)")]
    lengths = ", ".join(f"left(v, {n})" for n in PREFIXES)
    parts = []
    for relation, system, sql in coded:
        match = f"sensitive_match m ON m.system = '{system}'"
        if system == SNOMED:
            parts.append(
                f"SELECT submission_id, source_row, source_kind, m.list FROM {relation} "
                f"JOIN {match} AND m.code = {sql}"
            )
            continue
        values = f"unnest({sql})" if sql.startswith("string_split") else sql
        parts.append(
            f"""SELECT submission_id, source_row, source_kind, m.list FROM (
                SELECT submission_id, source_row, source_kind,
                       unnest(list_distinct([{lengths}])) AS code
                FROM (SELECT submission_id, source_row, source_kind, upper(trim({values})) AS v
                      FROM {relation}) WHERE v IS NOT NULL AND v <> '') c
            JOIN {match} AND m.code = c.code"""
        )
    return parts
