"""Recipient extracts as OMOP CDM v5.4 tables: the same people and cells as the CSV extract,
loaded into a database made from OHDSI's official DuckDB DDL with every constraint holding,
no identifier anywhere, and the same refusals.

DuckDB 1.4 cannot add a foreign key with ALTER TABLE, so the official constraints file is
applied two ways: DuckDB enforces each foreign key declared inline in CREATE TABLE (all but the
vocabulary tables' own and self-references), and every one of the file's 176 is checked by
query. The vocabulary rows the export references are written here by hand, not taken from the
product's list, so a concept id the product invented would break a foreign key."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from openphm import clock
from openphm.governance.roles import Refused
from openphm.programme.config import RECIPIENT_FIELD_GROUPS
from openphm.pseudonymise import omop
from openphm.pseudonymise.extracts import ExtractError, make_extract
from openphm.reference import codelist

from .region import CANARIES, ENGINEER, NOW, copy_workspace

SHARED = Path("/work/shared/data/omop")

# The concept rows of OMOP's vocabulary the export may reference: (concept_id, name, domain,
# vocabulary, class, standard). Ids and names as published (docs/extracts.md gives the
# sources); concept codes and the metadata rows' own concept ids (vocabulary_concept_id, …)
# are placeholders, which a foreign key cannot tell apart from Athena's.
VOCABULARY = [
    (0, "No matching concept", "Metadata", "None", "Undefined", None),
    (8507, "MALE", "Gender", "Gender", "Gender", "S"),
    (8532, "FEMALE", "Gender", "Gender", "Gender", "S"),
    (8527, "White", "Race", "Race", "Race", "S"),
    (8516, "Black or African American", "Race", "Race", "Race", "S"),
    (8515, "Asian", "Race", "Race", "Race", "S"),
    (9201, "Inpatient Visit", "Visit", "Visit", "Visit", "S"),
    (9202, "Outpatient Visit", "Visit", "Visit", "Visit", "S"),
    (9203, "Emergency Room Visit", "Visit", "Visit", "Visit", "S"),
    (581476, "Home Visit", "Visit", "Visit", "Visit", "S"),
    (722455, "Telehealth", "Visit", "Visit", "Visit", "S"),
    (32817, "EHR", "Type Concept", "Type Concept", "Type Concept", "S"),
]


@pytest.fixture(scope="module")
def extracts(linked_region, tmp_path_factory):
    """One workspace whose recipient has every field group, extracted as CSV and as OMOP at
    the same moment."""
    from openphm.programme.workspace import Workspace

    ws = copy_workspace(linked_region, tmp_path_factory.mktemp("omop") / "ws")
    recipient = ws.config.recipients[0]
    config = ws.root / "programme.toml"
    text = config.read_text()
    fields = re.search(r"^fields = .*$", text, re.M).group(0)
    every = "fields = [" + ", ".join(f'"{g}"' for g in RECIPIENT_FIELD_GROUPS) + "]"
    config.write_text(text.replace(fields, every))
    # A module's fixture runs before the autouse clock of each test: hold the clock here.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(clock, "_source", clock.fixed(NOW))
        ws = Workspace.open(ws.root)
        csv = make_extract(ws, ENGINEER, recipient.name)
        made = make_extract(ws, ENGINEER, recipient.name, format="omop")
    return ws, csv, made


def _official_statements(part: str) -> list[str]:
    """The CREATE and ALTER statements of one official file, comments dropped."""
    text = "\n".join(
        line for line in omop.sql(part).splitlines() if not line.lstrip().startswith("--")
    )
    return [s.strip() for s in text.split(";") if s.strip()]


def _enforcing_database() -> duckdb.DuckDBPyConnection:
    """A database made from the official files: every table of the DDL, with each foreign key
    of the constraints file declared inline where DuckDB can enforce it, and each primary key
    of the primary-keys file; vocabulary rows for the concepts the export references."""
    creates = {
        re.search(r"CREATE TABLE main\.(\w+)", s).group(1): s for s in _official_statements("ddl")
    }
    keys = {
        re.search(r"ALTER TABLE main\.(\w+)", s).group(1): s
        for s in _official_statements("primary_keys")
    }
    inline: dict[str, list[omop.ForeignKey]] = {t: [] for t in creates}
    for key in omop.foreign_keys():
        if key.table not in omop.VOCABULARY_TABLES and key.table != key.references:
            inline[key.table].append(key)
    con = duckdb.connect()
    made: set[str] = set()
    while len(made) < len(creates):
        ready = [
            t for t in creates if t not in made and all(k.references in made for k in inline[t])
        ]
        assert ready, "the constraints file's foreign keys form a cycle"
        for table in ready:
            clauses = "".join(
                f", FOREIGN KEY ({k.column}) REFERENCES {k.references} ({k.referenced_column})"
                for k in inline[table]
            )
            statement = creates[table]
            con.execute(statement[: statement.rindex(")")] + clauses + ")")
            if table in keys:
                con.execute(keys[table])
            made.add(table)
    enforced = sum(len(v) for v in inline.values())
    con.execute("CREATE TEMP TABLE enforced AS SELECT ? AS n", [enforced])
    names = {row[i] for row in VOCABULARY for i in (2, 3, 4)}
    for name in sorted(names):
        con.execute("INSERT INTO vocabulary VALUES (?, ?, NULL, NULL, 0)", [name, name])
        con.execute("INSERT INTO domain VALUES (?, ?, 0)", [name, name])
        con.execute("INSERT INTO concept_class VALUES (?, ?, 0)", [name, name])
    for concept_id, name, domain, vocabulary, klass, standard in VOCABULARY:
        con.execute(
            "INSERT INTO concept VALUES (?, ?, ?, ?, ?, ?, 'fixture', DATE '1970-01-01', "
            "DATE '2099-12-31', NULL)",
            [concept_id, name, domain, vocabulary, klass, standard],
        )
    return con


@pytest.fixture(scope="module")
def loaded(extracts):
    """The OMOP extract's CSV files loaded into the official DDL, parents first."""
    _, _, made = extracts
    con = _enforcing_database()
    for table in omop.TABLES:  # person first; every other table refers only to it and visits
        con.execute(f"COPY {table} FROM '{made.folder / (table + '.csv')}' (HEADER)")
    con.execute(omop.sql("indices"))
    yield con
    con.close()


def _csv(made, name: str) -> pd.DataFrame:
    path = made.folder / f"{name.replace(' ', '-')}.csv"
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _count(con, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_the_shipped_ddl_is_ohdsis_as_published():
    if not SHARED.is_dir():
        pytest.skip("the project's shared copy of the OHDSI files is not on this machine")
    for part in omop.PARTS:
        name = f"OMOPCDM_duckdb_5.4_{part}.sql"
        shipped = Path(omop.__file__).parents[1] / "reference" / "omop" / name
        assert (
            hashlib.sha256(shipped.read_bytes()).digest()
            == hashlib.sha256((SHARED / name).read_bytes()).digest()
        ), name


def test_the_export_loads_into_the_official_ddl_with_every_constraint_holding(loaded):
    con = loaded
    # NOT NULL and primary keys were enforced by DuckDB as the rows went in (COPY would have
    # failed); the foreign keys declared inline were enforced too:
    assert con.execute("SELECT n FROM enforced").fetchone()[0] >= 150
    # and every constraint of the official file, with every varchar(n), holds by query.
    results = omop.check(con)
    assert len([r for r in results if r["kind"] == "foreign key"]) == 176
    assert [r for r in results if r["violations"]] == []
    # The primary keys really are there (not just declared in a file we did not run).
    keys = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY'"
    ).fetchone()[0]
    assert keys == len(_official_statements("primary_keys"))


def test_the_shipped_database_is_the_official_ddl_with_the_same_rows(extracts, loaded):
    _, _, made = extracts
    con = duckdb.connect(str(made.folder / omop.DATABASE), read_only=True)
    try:
        tables = {t for (t,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert len(tables) == len(_official_statements("ddl"))
        for table in omop.TABLES:
            assert _count(con, table) == _count(loaded, table), table
        assert _count(con, "concept") == 0  # the recipient loads the vocabularies
    finally:
        con.close()


def test_row_counts_equal_the_csv_extracts(extracts, loaded):
    _, csv, made = extracts
    people = _csv(csv, "people")
    coding = _csv(csv, "clinical coding")
    conditions = {c for name in omop.CONDITION_LISTS for c in codelist(name)["code"]}
    measures = {c for name in omop.MEASUREMENT_LISTS for c in codelist(name).iloc[:, 0]}
    measures -= conditions
    spells = _csv(csv, "hospital activity")
    outpatients = _csv(csv, "outpatients")
    attended = outpatients["attended"] == "True"
    for group in RECIPIENT_FIELD_GROUPS:
        assert len(_csv(csv, group)) > 0, group  # every mapping is exercised
    expected = {
        "person": len(people),
        "observation_period": len(people),
        "visit_occurrence": len(_csv(csv, "consultations"))
        + len(spells)
        + len(_csv(csv, "emergency care"))
        + int(attended.sum())
        + len(_csv(csv, "community")),
        "condition_occurrence": int(spells["primary_diagnosis_3"].notna().sum())
        + int(coding["snomed_code"].isin(conditions).sum()),
        "drug_exposure": len(_csv(csv, "medications")),
        "measurement": int(coding["snomed_code"].isin(measures).sum()),
        "procedure_occurrence": 0,  # the extract carries no procedure
        "observation": len(people)  # the IMD quintile
        + int((~coding["snomed_code"].isin(conditions | measures)).sum())
        + int((~attended).sum())
        + len(_csv(csv, "social care")),
        "death": 0,  # the extract holds living people only
    }
    assert {t: _count(loaded, t) for t in omop.TABLES} == expected
    assert {t: made.manifest["files"][t]["rows"] for t in omop.TABLES} == expected
    assert expected["condition_occurrence"] and expected["measurement"]


def test_people_are_the_csv_extracts_with_no_more_detail(extracts, loaded):
    ws, csv, made = extracts
    people = _csv(csv, "people")
    person = loaded.execute("SELECT * FROM person ORDER BY person_id").df()
    # person_id 1..N; person_source_value is the start of the recipient's own pseudonym.
    assert list(person["person_id"]) == list(range(1, len(people) + 1))
    by_prefix = {p[:33] if p.startswith("u") else p[:32]: p for p in people["person"]}
    assert set(person["person_source_value"]) == set(by_prefix)
    joined = person.assign(person=person["person_source_value"].map(by_prefix)).merge(
        people, on="person"
    )
    assert len(joined) == len(people)
    gender = {"M": 8507, "F": 8532}
    assert (joined["gender_concept_id"] == joined["sex"].map(gender).fillna(0)).all()
    race = {"White": 8527, "Black": 8516, "Asian": 8515}
    assert (joined["race_concept_id"] == joined["ethnic_group"].map(race).fillna(0)).all()
    # Year of birth stands for the band (the earliest year anyone in it can have been born);
    # nothing finer: no month, day or time of birth.
    year = 2026  # the programme clock in these tests: 2026-11-03
    assert made.folder.parent.name == "2026-11-03"
    for band, got in zip(joined["age_band"], joined["year_of_birth"], strict=True):
        top = int(band[:-1]) if band.endswith("+") else int(band.split("-")[1])
        assert got == year - top - 1
    assert person[["month_of_birth", "day_of_birth", "birth_datetime"]].isna().all().all()
    # The groups k-anonymity made are the same groups in OMOP.
    imd = loaded.execute(
        "SELECT person_id, value_as_string AS imd FROM observation "
        "WHERE observation_source_value = 'IMD 2019 quintile'"
    ).df()
    groups = person.merge(imd, on="person_id").groupby(
        ["gender_source_value", "year_of_birth", "race_source_value", "imd"]
    )
    assert groups.size().min() >= ws.config.disclosure.k_anonymity
    assert made.manifest["k_anonymity"] == csv.manifest["k_anonymity"]


def test_dates_stay_months_and_codes_stay_as_the_source_gave_them(extracts, loaded):
    _, csv, _ = extracts
    for table, column in [
        ("visit_occurrence", "visit_start_date"),
        ("condition_occurrence", "condition_start_date"),
        ("drug_exposure", "drug_exposure_start_date"),
        ("measurement", "measurement_date"),
    ]:
        days = loaded.execute(f"SELECT DISTINCT day({column}) FROM {table}").fetchall()
        assert days == [(1,)], table
    # An event day other than the 1st appears only where the extract gave a length: a spell's
    # end is its start plus its bed days.
    odd = loaded.execute(
        "SELECT DISTINCT visit_concept_id FROM visit_occurrence WHERE day(visit_end_date) <> 1"
    ).fetchall()
    assert odd in ([], [(9201,)])
    drugs = loaded.execute("SELECT drug_source_value FROM drug_exposure").df()
    assert sorted(drugs["drug_source_value"]) == sorted(_csv(csv, "medications")["dmd_code"])
    icd = loaded.execute(
        "SELECT condition_source_value FROM condition_occurrence WHERE visit_occurrence_id "
        "IS NOT NULL"
    ).df()
    spells = _csv(csv, "hospital activity")
    assert sorted(icd["condition_source_value"]) == sorted(spells["primary_diagnosis_3"].dropna())
    visits = loaded.execute(
        "SELECT visit_concept_id, count(*) FROM visit_occurrence GROUP BY 1"
    ).fetchall()
    assert {concept for concept, _ in visits} <= {0, 9201, 9202, 9203, 581476, 722455}


def test_no_identifier_reaches_the_omop_files(extracts, linked_region):
    ws, _, made = extracts
    text = "".join(p.read_text().lower() for p in made.folder.glob("*.csv"))
    text += (made.folder / "manifest.json").read_text().lower()
    con = duckdb.connect(str(made.folder / omop.DATABASE), read_only=True)
    try:
        for (table,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            text += con.execute(f"SELECT * FROM {table}").df().to_csv().lower()
    finally:
        con.close()
    for name, value in CANARIES.items():
        assert value.lower() not in text, name
    # Nor the linkage pseudonyms, nor any part of them the length of a recipient's.
    linked = ws.connect_linked(read_only=True)
    try:
        pseudonyms = [
            p for (p,) in linked.execute("SELECT pseudonym FROM linked.people").fetchall()
        ]
    finally:
        linked.close()
    assert not any(p[:32] in text for p in pseudonyms)


def test_an_analyst_is_refused_an_omop_extract_and_the_refusal_is_audited(extracts, analyst):
    ws, _, _ = extracts
    recipient = ws.config.recipients[0]
    with pytest.raises(Refused):
        make_extract(ws, analyst, recipient.name, format="omop")
    last = list(ws.audit.entries())[-1]
    assert (last.action, last.outcome, last.user) == ("extract.recipient", "refused", analyst.user)


def test_an_unknown_format_is_refused(extracts):
    ws, _, _ = extracts
    with pytest.raises(ExtractError, match="not an extract format"):
        make_extract(ws, ENGINEER, ws.config.recipients[0].name, format="fhir")


def test_phm_extract_format_omop(extracts, cli, monkeypatch):
    ws, _, _ = extracts
    monkeypatch.setenv("PHM_ROLE", "processor-engineer")
    result = cli(
        ["extract", ws.root, "--recipient", ws.config.recipients[0].name, "--format", "omop"]
    )
    assert result.exit_code == 0, result.output
    assert "OMOP constraints: 176 foreign keys" in result.output
    refused = cli(
        ["extract", ws.root, "--recipient", ws.config.recipients[0].name, "--format", "omop",
         "--role", "analyst"]
    )  # fmt: skip
    assert refused.exit_code != 0


# -- the checker itself, on a database without any extract ------------------------------------


@pytest.fixture
def empty():
    con = duckdb.connect()
    omop.create(con)
    yield con
    con.close()


def test_every_foreign_key_and_length_of_the_official_files_is_parsed():
    keys = omop.foreign_keys()
    assert len(keys) == 176
    assert (
        omop.ForeignKey(
            "fpk_person_gender_concept_id", "person", "gender_concept_id", "concept", "concept_id"
        )
        in keys
    )
    assert omop.varchar_limits()[("person", "person_source_value")] == 50


def test_the_check_finds_a_broken_foreign_key_and_an_overlong_value(empty):
    con = empty
    assert [r for r in omop.check(con) if r["violations"]] == []
    con.execute("INSERT INTO person (person_id, gender_concept_id, year_of_birth, "
                "race_concept_id, ethnicity_concept_id, person_source_value) "
                "VALUES (1, 8507, 1980, 0, 0, repeat('x', 51))")  # fmt: skip
    con.execute("INSERT INTO death (person_id, death_date) VALUES (2, DATE '2026-01-01')")
    broken = {r["constraint"]: r["violations"] for r in omop.check(con) if r["violations"]}
    assert broken == {
        "fpk_person_gender_concept_id": 1,
        "fpk_person_race_concept_id": 1,
        "fpk_person_ethnicity_concept_id": 1,
        "fpk_death_person_id": 1,
        "person.person_source_value varchar(50)": 1,
    }
    # Against the export's own concept list, the concept references hold.
    listed = {r["constraint"] for r in omop.check(con, concepts={0, 8507}) if r["violations"]}
    assert listed == {"fpk_death_person_id", "person.person_source_value varchar(50)"}


@pytest.mark.parametrize(
    ("band", "year"), [("0-4", 2021), ("40-44", 1981), ("40-59", 1966), ("90+", 1935)]
)
def test_year_of_birth_is_the_earliest_a_person_in_the_band_can_have(band, year):
    assert omop.year_of_birth(band, dt.date(2026, 11, 3)) == year


# -- the writer on frames made by hand ----------------------------------------------------------

PEOPLE = pd.DataFrame(
    {
        "person": ["b" * 64, "u" + "a" * 64],
        "sex": ["F", "U"],
        "age_band": ["40-44", "90+"],
        "ethnic_group": ["Asian", "any"],
        "imd_quintile": ["3", "unknown"],
    }
)


def test_the_writer_maps_hand_made_frames_as_documented(tmp_path):
    writer = omop.Writer(tmp_path, dt.date(2026, 11, 3))
    writer.people(PEOPLE)
    writer.group(
        "community",
        pd.DataFrame(
            {
                "person": ["b" * 64, "b" * 64, "u" + "a" * 64],
                "contact_month": ["2026-02", None, "2025-12"],
                "service": ["district nursing", "podiatry", "x" * 80],
            }
        ),
    )
    writer.group(
        "hospital activity",
        pd.DataFrame(
            {
                "person": ["u" + "a" * 64],
                "admission_month": ["2026-03"],
                "emergency": [True],
                "elective": [False],
                "primary_diagnosis_3": ["I21"],
                "bed_days": [4],
            }
        ),
    )
    made = writer.finish()
    con = duckdb.connect(str(tmp_path / omop.DATABASE), read_only=True)
    person = con.execute(
        "SELECT person_id, gender_concept_id, year_of_birth, race_concept_id, "
        "person_source_value FROM person ORDER BY person_id"
    ).fetchall()
    # Ordered by pseudonym: "b…" before "u…".
    assert person == [(1, 8532, 1981, 8515, "b" * 32), (2, 0, 1935, 0, "u" + "a" * 32)]
    visits = con.execute(
        "SELECT visit_occurrence_id, person_id, visit_concept_id, visit_start_date, "
        "visit_end_date, visit_source_value FROM visit_occurrence ORDER BY 1"
    ).fetchall()
    assert visits == [
        (1, 1, 0, dt.date(2026, 2, 1), dt.date(2026, 2, 1), "community district nursing"),
        (2, 2, 0, dt.date(2025, 12, 1), dt.date(2025, 12, 1), ("community " + "x" * 80)[:50]),
        (3, 2, 9201, dt.date(2026, 3, 1), dt.date(2026, 3, 5), "APC emergency"),
    ]
    assert con.execute(
        "SELECT person_id, visit_occurrence_id, condition_source_value FROM condition_occurrence"
    ).fetchall() == [(2, 3, "I21")]
    assert con.execute(
        "SELECT person_id, value_as_number, value_as_string FROM observation ORDER BY 1"
    ).fetchall() == [(1, 3.0, "3"), (2, None, "unknown")]
    periods = con.execute(
        "SELECT person_id, observation_period_start_date, observation_period_end_date "
        "FROM observation_period ORDER BY 1"
    ).fetchall()
    assert periods == [
        (1, dt.date(2025, 12, 1), dt.date(2026, 11, 3)),
        (2, dt.date(2025, 12, 1), dt.date(2026, 11, 3)),
    ]
    con.close()
    assert made["not_carried"] == {
        "rows without a date": 1,
        "visit_source_value values cut to 50 characters": 1,
    }
    assert made["year_of_birth"] == {"40-44": 1981, "90+": 1935}


def test_a_concept_id_outside_the_shipped_list_fails_the_extract_and_leaves_no_folder(
    linked_region, tmp_path, monkeypatch
):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    recipient = ws.config.recipients[0]
    monkeypatch.setattr(omop, "CONCEPTS", {k: v for k, v in omop.CONCEPTS.items() if k != 9202})
    with pytest.raises(ExtractError, match="fpk_visit_occurrence_visit_concept_id"):
        make_extract(ws, ENGINEER, recipient.name, format="omop")
    assert not list((ws.zone("outputs") / "extracts").glob("*/*"))  # no dated folder
