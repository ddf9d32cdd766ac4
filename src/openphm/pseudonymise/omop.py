"""A recipient's extract as OMOP Common Data Model v5.4 tables (docs/extracts.md).

Input: exactly the frames the CSV extract writes (people with generalised demographics, and
each field group's rows with month-level dates), so an OMOP extract can hold no more detail
than the CSV one: it is a re-arrangement of the same cells. Output, in one folder: a DuckDB file
made from OHDSI's official DuckDB DDL (tables, then primary keys; indices once loaded), one CSV
per clinical table copied out of it, and the results of checking every constraint of the
official files.

DuckDB 1.4 cannot add a foreign key with ALTER TABLE ("No support for that ALTER TABLE option
yet"), so the official constraints file cannot be run as it is: each of its FOREIGN KEY
statements is parsed and checked as a query instead (`check`). NOT NULL and primary keys are
DuckDB's own, enforced as rows go in; VARCHAR(n) lengths, which DuckDB ignores, are checked by
query too. No key, no file outside the folder, no patient value in any message.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import duckdb
import pandas as pd

from openphm.reference import codelist

CDM_VERSION = "5.4"
SCHEMA_PLACEHOLDER = "@cdmDatabaseSchema"
PARTS = ("ddl", "primary_keys", "constraints", "indices")
DATABASE = "cdm.duckdb"
# The clinical tables written as CSV beside the DuckDB file (empty ones too).
TABLES = (
    "person",
    "observation_period",
    "visit_occurrence",
    "condition_occurrence",
    "drug_exposure",
    "measurement",
    "procedure_occurrence",
    "observation",
    "death",
)
# Tables of OHDSI's Standardized Vocabularies: the recipient loads them from Athena under each
# vocabulary's own licence; the export leaves them empty.
VOCABULARY_TABLES = frozenset(
    {
        "concept",
        "vocabulary",
        "domain",
        "concept_class",
        "concept_relationship",
        "relationship",
        "concept_synonym",
        "concept_ancestor",
        "source_to_concept_map",
        "drug_strength",
    }
)

# Concept ids the export uses, with their names in the OMOP vocabulary and where that fact is
# published (docs/extracts.md lists the sources). Anything not listed here is concept id 0,
# "No matching concept", with the source code kept in the *_source_value column.
NO_MATCH = 0
EHR = 32817  # Type Concept "EHR"
GENDER = {"M": 8507, "F": 8532}  # MALE, FEMALE
RACE = {"White": 8527, "Black": 8516, "Asian": 8515}  # White, Black or African American, Asian
INPATIENT, OUTPATIENT, EMERGENCY_ROOM = 9201, 9202, 9203
HOME_VISIT, TELEHEALTH = 581476, 722455
CONSULTATION_VISITS = {
    "face-to-face": OUTPATIENT,
    "home-visit": HOME_VISIT,
    "telephone": TELEHEALTH,
    "video": TELEHEALTH,
}
CONCEPTS = {
    NO_MATCH: "No matching concept",
    GENDER["M"]: "MALE",
    GENDER["F"]: "FEMALE",
    RACE["White"]: "White",
    RACE["Black"]: "Black or African American",
    RACE["Asian"]: "Asian",
    INPATIENT: "Inpatient Visit",
    OUTPATIENT: "Outpatient Visit",
    EMERGENCY_ROOM: "Emergency Room Visit",
    HOME_VISIT: "Home Visit",
    TELEHEALTH: "Telehealth",
    EHR: "EHR",
}

# Which table a GP-coded SNOMED CT event goes to. OMOP routes by the domain of the code's
# standard concept, which needs the OHDSI vocabulary; without it, the shipped code lists decide:
# a code in a QOF diagnosis cluster is a condition, a code in a PINCER monitoring-test list a
# measurement, anything else an observation.
CONDITION_CLUSTERS = ("afib", "ast", "c19can", "c19haemcan", "chd", "ckd", "ckd1and2", "copd",
                      "dem", "depr", "dm", "epil", "hf", "hyp", "ld", "mh", "osteo", "pad",
                      "rarth", "strk")  # fmt: skip
CONDITION_LISTS = tuple(f"qof-{c}" for c in CONDITION_CLUSTERS)
MEASUREMENT_LISTS = tuple(
    f"pincer-{t}" for t in ("egfr", "electro", "fbc", "lft", "lith_lev", "renal")
)
TOP_AGE = 90  # kanonymity's open band: "90+"


class OmopError(RuntimeError):
    """An OMOP table that would break the CDM's own rules."""


@dataclass(frozen=True)
class ForeignKey:
    name: str
    table: str
    column: str
    references: str
    referenced_column: str


def sql(part: str, schema: str = "main") -> str:
    """One of the official DuckDB DDL files, its schema placeholder replaced."""
    if part not in PARTS:
        raise ValueError(f"{part!r} is not one of {', '.join(PARTS)}")
    name = f"OMOPCDM_duckdb_{CDM_VERSION}_{part}.sql"
    text = resources.files("openphm.reference").joinpath("omop", name).read_text()
    return text.replace(SCHEMA_PLACEHOLDER, schema)


@cache
def foreign_keys() -> tuple[ForeignKey, ...]:
    """Every FOREIGN KEY of the official constraints file, as written there."""
    pattern = re.compile(
        r"ALTER TABLE \S+?\.(\w+) ADD CONSTRAINT (\w+) FOREIGN KEY \((\w+)\) "
        r"REFERENCES \S+?\.(\w+) \((\w+)\);",
        re.IGNORECASE,
    )
    text = sql("constraints", "s")
    keys = tuple(
        ForeignKey(name, table.lower(), column.lower(), ref.lower(), ref_column.lower())
        for table, name, column, ref, ref_column in pattern.findall(text)
    )
    if len(keys) != text.count("FOREIGN KEY"):
        raise OmopError("the constraints file has FOREIGN KEY statements this parser missed")
    return keys


@cache
def varchar_limits() -> dict[tuple[str, str], int]:
    """(table, column) -> n for every varchar(n) column of the official DDL."""
    limits = {}
    for table, body in re.findall(r"CREATE TABLE \S+?\.(\w+) \((.*?)\);", sql("ddl"), re.S):
        for column, n in re.findall(r"(\w+)\s+varchar\((\d+)\)", body, re.IGNORECASE):
            limits[(table.lower(), column.lower())] = int(n)
    return limits


def create(con: duckdb.DuckDBPyConnection, schema: str = "main") -> None:
    """Tables, then primary keys, from the official files."""
    con.execute(sql("ddl", schema))
    con.execute(sql("primary_keys", schema))


def check(
    con: duckdb.DuckDBPyConnection, schema: str = "main", *, concepts: set[int] | None = None
) -> list[dict]:
    """Every foreign key of the official constraints file and every varchar(n) length of its
    DDL, checked by query: [{constraint, kind, table, column, references, violations}].
    `concepts`: check references to CONCEPT against these ids instead of the concept table
    (for an export whose vocabulary tables the recipient loads)."""
    results = []
    # A table without rows breaks no constraint of its own: most of the CDM's 39 are empty.
    tables = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = ?", [schema]
    ).fetchall()
    filled = {
        t for (t,) in tables if con.execute(f"SELECT count(*) FROM {schema}.{t}").fetchone()[0]
    }
    for key in foreign_keys():
        results.append(
            {
                "constraint": key.name,
                "kind": "foreign key",
                "table": key.table,
                "column": key.column,
                "references": f"{key.references}.{key.referenced_column}",
                "violations": _orphans(con, schema, key, concepts) if key.table in filled else 0,
            }
        )
    for (table, column), n in varchar_limits().items():
        violations = (
            con.execute(
                f"SELECT count(*) FROM {schema}.{table} WHERE length({column}) > {n}"
            ).fetchone()[0]
            if table in filled
            else 0
        )
        results.append(
            {
                "constraint": f"{table}.{column} varchar({n})",
                "kind": "length",
                "table": table,
                "column": column,
                "references": "",
                "violations": int(violations),
            }
        )
    return results


def _orphans(con, schema: str, key: ForeignKey, concepts: set[int] | None) -> int:
    """Rows whose `key.column` is set but names no row of the referenced table."""
    if concepts is not None and key.references == "concept":
        parent = "(SELECT unnest($ids::INTEGER[]) AS concept_id)"
        params = {"ids": sorted(concepts)}
    else:
        parent, params = f"{schema}.{key.references}", {}
    return int(
        con.execute(
            f"SELECT count(*) FROM {schema}.{key.table} c WHERE c.{key.column} IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {parent} p "
            f"WHERE p.{key.referenced_column} = c.{key.column})",
            params,
        ).fetchone()[0]
    )


def year_of_birth(band: str, on: dt.date) -> int:
    """The year of birth standing for an age band on the extract date: the earliest year a
    person in the band can have been born (so no event precedes it); `90+` is 90 or over.
    Everyone in a band gets the same year, so the groups k-anonymity made are unchanged."""
    if band.endswith("+"):
        return on.year - int(band[:-1]) - 1
    high = int(band.split("-")[1])
    return on.year - high - 1


def _route() -> pd.DataFrame:
    rows = [(code, "condition") for name in CONDITION_LISTS for code in codelist(name)["code"]]
    rows += [
        (code, "measurement") for name in MEASUREMENT_LISTS for code in codelist(name).iloc[:, 0]
    ]
    frame = pd.DataFrame(rows, columns=["code", "domain"])
    # A code in both kinds of list stays a condition (first listed).
    return frame.drop_duplicates("code", keep="first").reset_index(drop=True)


def _month(column: str) -> str:
    return f"CAST(strptime({column} || '-01', '%Y-%m-%d') AS DATE)"


def _true(column: str) -> str:
    """A boolean cell as the CSV frame holds it (True, "True", 1 or missing) is true."""
    return f"coalesce(lower(CAST({column} AS VARCHAR)) IN ('true', '1'), false)"


class Writer:
    """Builds one OMOP extract: `people`, then `group` for each field group, then `finish`."""

    def __init__(self, folder: Path, extract_date: dt.date):
        self.folder = folder
        self.on = extract_date
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / DATABASE
        path.unlink(missing_ok=True)
        self.con = duckdb.connect(str(path))
        create(self.con)
        self.not_carried: dict[str, int] = {}
        self.bands: dict[str, int] = {}
        self.closed = False

    def close(self) -> None:
        if not self.closed:
            self.con.close()
            self.closed = True

    # -- people -----------------------------------------------------------------------------

    def people(self, frame: pd.DataFrame) -> None:
        """`frame`: person (the recipient's pseudonym), sex, age_band, ethnic_group,
        imd_quintile, as the CSV extract's people.csv."""
        self.bands = {b: year_of_birth(b, self.on) for b in sorted(frame["age_band"].unique())}
        bands = pd.DataFrame({"age_band": list(self.bands), "yob": list(self.bands.values())})
        gender = pd.DataFrame({"sex": list(GENDER), "concept": list(GENDER.values())})
        race = pd.DataFrame({"grp": list(RACE), "concept": list(RACE.values())})
        con = self.con
        con.register("src_people", frame.astype(str))
        con.register("src_bands", bands)
        con.register("src_gender", gender)
        con.register("src_race", race)
        # person_id: 1..N in the order of the recipient's pseudonyms (an HMAC: random order).
        con.execute(
            "CREATE TEMP TABLE person_map AS SELECT person, "
            "CAST(row_number() OVER (ORDER BY person) AS INTEGER) AS person_id FROM src_people"
        )
        con.execute(
            f"""
            INSERT INTO person (person_id, gender_concept_id, year_of_birth, race_concept_id,
                ethnicity_concept_id, person_source_value, gender_source_value,
                race_source_value)
            SELECT m.person_id, coalesce(g.concept, {NO_MATCH}), b.yob,
                coalesce(r.concept, {NO_MATCH}), {NO_MATCH},
                -- the recipient's pseudonym, cut to the CDM's 50 characters: 128 bits of it
                CASE WHEN p.person LIKE 'u%' THEN left(p.person, 33) ELSE left(p.person, 32) END,
                p.sex, p.ethnic_group
            FROM src_people p JOIN person_map m USING (person)
            JOIN src_bands b USING (age_band)
            LEFT JOIN src_gender g ON g.sex = p.sex
            LEFT JOIN src_race r ON r.grp = p.ethnic_group
            ORDER BY m.person_id
            """
        )
        # The area's deprivation quintile, as people.csv gives it: one observation per person
        # on the extract date (OMOP's person table has no place for it).
        self._observations(
            "SELECT m.person_id, ?::DATE AS day, 'IMD 2019 quintile' AS source, "
            "p.imd_quintile AS value "
            "FROM src_people p JOIN person_map m USING (person)",
            [self.on],
        )
        for name in ("src_people", "src_bands", "src_gender", "src_race"):
            con.unregister(name)

    # -- field groups -------------------------------------------------------------------------

    def group(self, group: str, frame: pd.DataFrame) -> None:
        """One field group's rows, as the CSV extract writes them."""
        self.con.register("src", frame.astype(object).where(frame.notna(), None))
        self.con.execute("CREATE OR REPLACE TEMP TABLE g AS SELECT * FROM src")
        self.con.unregister("src")
        getattr(self, "_" + group.replace(" ", "_"))()
        self.con.execute("DROP TABLE g")

    def _dated(self, month: str) -> str:
        """`g`'s rows with a month, as person_id, day and g's columns (`_row`: its position in
        g, to break ties); rows without a month are counted as not carried."""
        missing = self.con.execute(f"SELECT count(*) FROM g WHERE {month} IS NULL").fetchone()[0]
        if missing:
            key = "rows without a date"
            self.not_carried[key] = self.not_carried.get(key, 0) + missing
        return (
            f"SELECT m.person_id, {_month(month)} AS day, g.*, g.rowid AS _row FROM g "
            f"JOIN person_map m USING (person) WHERE {month} IS NOT NULL"
        )

    def _consultations(self) -> None:
        kinds = " ".join(f"WHEN '{k}' THEN {v}" for k, v in CONSULTATION_VISITS.items())
        self._visits(
            self._dated("consultation_month"),
            f"CASE consultation_type {kinds} ELSE {NO_MATCH} END",
            "'GP ' || coalesce(consultation_type, '?') || ', ' || coalesce(staff_role, '?')",
        )

    def _hospital_activity(self) -> None:
        # Each spell numbered once, so that its diagnosis can name its visit.
        first = self._next("visit_occurrence")
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE spells AS SELECT *, CAST({first} - 1 + row_number() "
            f"OVER (ORDER BY person_id, day, _row) AS INTEGER) AS visit "
            f"FROM ({self._dated('admission_month')})"
        )
        self._visits(
            "SELECT * FROM spells",
            str(INPATIENT),
            f"'APC ' || CASE WHEN {_true('emergency')} THEN 'emergency' "
            f"WHEN {_true('elective')} THEN 'elective' ELSE 'other' END",
            ids="visit",
            end="day + CAST(coalesce(TRY_CAST(bed_days AS INTEGER), 0) AS INTEGER)",
        )
        # The primary diagnosis (ICD-10, three characters) of each spell, on its visit.
        self._insert(
            "condition_occurrence",
            f"SELECT person_id, {NO_MATCH}, day, {EHR}, visit, primary_diagnosis_3, "
            f"'primary diagnosis' FROM spells WHERE primary_diagnosis_3 IS NOT NULL",
            "person_id, condition_concept_id, condition_start_date, condition_type_concept_id, "
            "visit_occurrence_id, condition_source_value, condition_status_source_value",
        )
        self.con.execute("DROP TABLE spells")

    def _emergency_care(self) -> None:
        self._visits(
            self._dated("arrival_month"),
            str(EMERGENCY_ROOM),
            "'ECDS department type ' || coalesce(department_type, '?')",
        )

    def _outpatients(self) -> None:
        dated = self._dated("appointment_month")
        self._visits(
            f"SELECT * FROM ({dated}) WHERE {_true('attended')}",
            str(OUTPATIENT),
            "'OP TFC ' || coalesce(treatment_function_code, '?')",
        )
        # OMOP records visits that took place: an appointment not attended (or not known to
        # have been) is an observation, so that no row of the extract is lost.
        self._observations(
            "SELECT person_id, day, CASE WHEN attended IS NULL THEN 'OP attendance unknown' "
            "ELSE 'OP not attended' END AS source, treatment_function_code AS value "
            f"FROM ({dated}) WHERE NOT {_true('attended')}"
        )

    def _community(self) -> None:
        self._visits(
            self._dated("contact_month"),
            str(NO_MATCH),
            "'community ' || coalesce(service, '?')",
        )

    def _social_care(self) -> None:
        self._observations(
            "SELECT person_id, day, 'social care service' AS source, service_type AS value "
            f"FROM ({self._dated('start_month')})"
        )

    def _medications(self) -> None:
        self._insert(
            "drug_exposure",
            f"SELECT person_id, {NO_MATCH}, day, day, {EHR}, dmd_code "
            f"FROM ({self._dated('issue_month')})",
            "person_id, drug_concept_id, drug_exposure_start_date, drug_exposure_end_date, "
            "drug_type_concept_id, drug_source_value",
        )

    def _clinical_coding(self) -> None:
        self.con.register("route", _route())
        dated = self._dated("event_month")
        routed = f"SELECT d.*, r.domain FROM ({dated}) d LEFT JOIN route r ON r.code = snomed_code"
        for table, domain in (
            ("condition_occurrence", "= 'condition'"),
            ("measurement", "= 'measurement'"),
            ("observation", "IS NULL"),
        ):
            field = table.split("_")[0]
            date = {"condition": "condition_start_date"}.get(field, f"{field}_date")
            self._insert(
                table,
                f"SELECT person_id, {NO_MATCH}, day, {EHR}, snomed_code "
                f"FROM ({routed}) WHERE domain {domain}",
                f"person_id, {field}_concept_id, {date}, {field}_type_concept_id, "
                f"{field}_source_value",
            )
        self.con.unregister("route")

    # -- helpers ------------------------------------------------------------------------------

    def _next(self, table: str) -> int:
        return self.con.execute(f"SELECT coalesce(max({table}_id), 0) + 1 FROM {table}").fetchone()[
            0
        ]

    def _insert(self, table: str, select: str, columns: str, params=None) -> None:
        """Insert `select`'s rows into `table`, numbering `{table}_id` on from the last in the
        order of all their values (so the same extract numbers its rows the same way)."""
        first = self._next(table)
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE staged AS SELECT * FROM ({select}) ORDER BY ALL",
            params or [],
        )
        self.con.execute(
            f"INSERT INTO {table} ({table}_id, {columns}) "
            f"SELECT CAST({first} + rowid AS INTEGER), * FROM staged ORDER BY rowid"
        )
        self.con.execute("DROP TABLE staged")

    def _visits(
        self, dated: str, concept: str, source: str, *, end: str = "day", ids: str = ""
    ) -> None:
        """`dated` rows (person_id, day, _row and the group's columns) as visits, numbered on
        from the last (or by the column `ids`)."""
        first = self._next("visit_occurrence")
        number = ids or (
            f"CAST({first} - 1 + row_number() OVER (ORDER BY person_id, day, _row) AS INTEGER)"
        )
        source = self._cut(dated, source, 50, "visit_source_value")
        self.con.execute(
            f"""INSERT INTO visit_occurrence (visit_occurrence_id, person_id, visit_concept_id,
                    visit_start_date, visit_end_date, visit_type_concept_id, visit_source_value)
                SELECT {number}, person_id, {concept}, day, {end}, {EHR}, {source}
                FROM ({dated})"""
        )

    def _cut(self, select: str, expression: str, n: int, column: str, params=None) -> str:
        """`expression` cut to the CDM's `n` characters for `column`, counting the values cut
        (a provider's long category name would otherwise fail the whole extract)."""
        cut = self.con.execute(
            f"SELECT count(*) FROM ({select}) WHERE length({expression}) > {n}", params or []
        ).fetchone()[0]
        if cut:
            key = f"{column} values cut to {n} characters"
            self.not_carried[key] = self.not_carried.get(key, 0) + cut
        return f"left({expression}, {n})"

    def _observations(self, select: str, params=None) -> None:
        """`select` gives person_id, day, source and value (VARCHAR or NULL)."""
        value = self._cut(select, "CAST(value AS VARCHAR)", 60, "value_as_string", params)
        source = self._cut(select, "source", 50, "observation_source_value", params)
        self._insert(
            "observation",
            f"SELECT person_id, {NO_MATCH}, day, {EHR}, TRY_CAST(value AS DOUBLE), "
            f"{value}, {source} FROM ({select})",
            "person_id, observation_concept_id, observation_date, observation_type_concept_id, "
            "value_as_number, value_as_string, observation_source_value",
            params,
        )

    # -- the end ------------------------------------------------------------------------------

    def finish(self) -> dict:
        """Observation periods, indices, every constraint checked, the CSV files written.
        Returns what the manifest records; raises OmopError if any constraint fails."""
        con = self.con
        try:
            self._observation_periods()
            con.execute(sql("indices"))
            results = check(con, concepts=set(CONCEPTS))
            failed = [r for r in results if r["violations"]]
            if failed:
                names = ", ".join(f"{r['constraint']} ({r['violations']})" for r in failed)
                raise OmopError(f"the OMOP tables break the CDM's constraints: {names}")
            files = {table: self._csv(table) for table in TABLES}
            used = self._concepts_used()
            con.execute("CHECKPOINT")
        finally:
            self.close()
        files["database"] = _file_info(self.folder / DATABASE, None)
        return {
            "cdm_version": CDM_VERSION,
            "files": files,
            "year_of_birth": self.bands,
            "concepts_used": {str(c): CONCEPTS[c] for c in sorted(used)},
            "not_carried": self.not_carried,
            "constraints": {
                "primary_keys": "enforced by DuckDB on load (official primary_keys file)",
                "not_null": "enforced by DuckDB on load (official DDL)",
                "foreign_keys_checked": sum(r["kind"] == "foreign key" for r in results),
                "lengths_checked": sum(r["kind"] == "length" for r in results),
                "violations": 0,
                "concept_references": "checked against the concept ids listed in "
                "concepts_used; load OHDSI's vocabularies into the database to have them "
                "as rows",
            },
        }

    def _observation_periods(self) -> None:
        """One period per person: the extract's whole span of event months (the same for
        everyone, so it says nothing about the person), from no earlier than 1 January of the
        person's year_of_birth, to no later than the extract date."""
        dates = [
            ("visit_occurrence", "visit_start_date", "visit_end_date"),
            ("condition_occurrence", "condition_start_date", "condition_start_date"),
            ("drug_exposure", "drug_exposure_start_date", "drug_exposure_end_date"),
            ("measurement", "measurement_date", "measurement_date"),
            ("observation", "observation_date", "observation_date"),
        ]
        spans = " UNION ALL ".join(f"SELECT min({a}) a, max({b}) b FROM {t}" for t, a, b in dates)
        first, last = self.con.execute(f"SELECT min(a), max(b) FROM ({spans})").fetchone()
        first, last = first or self.on, max(last or self.on, self.on)
        self.con.execute(
            f"""INSERT INTO observation_period (observation_period_id, person_id,
                    observation_period_start_date, observation_period_end_date,
                    period_type_concept_id)
                SELECT person_id, person_id,
                    greatest(?::DATE, make_date(year_of_birth, 1, 1)), ?::DATE, {EHR}
                FROM person ORDER BY person_id""",
            [first, last],
        )

    def _concepts_used(self) -> set[int]:
        used: set[int] = set()
        for key in foreign_keys():
            if key.references == "concept" and key.table in TABLES:
                used |= {
                    v
                    for (v,) in self.con.execute(
                        f"SELECT DISTINCT {key.column} FROM {key.table} "
                        f"WHERE {key.column} IS NOT NULL"
                    ).fetchall()
                }
        return used

    def _csv(self, table: str) -> dict:
        path = self.folder / f"{table}.csv"
        key = "person_id" if table == "death" else f"{table}_id"
        self.con.execute(f"COPY (SELECT * FROM {table} ORDER BY {key}) TO '{path}' (HEADER)")
        rows = self.con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        return _file_info(path, rows)


def _file_info(path: Path, rows: int | None) -> dict:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    info = {"file": path.name, "sha256": digest.hexdigest()}
    return info if rows is None else {**info, "rows": int(rows)}
