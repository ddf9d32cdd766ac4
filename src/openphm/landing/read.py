"""Reading zone 1 for the stage after it (identity and linkage) and for `phm quarantine`.

Reads zone 1 (the live batch files, with their data keys) and the landing catalog; writes
nothing but the audit entry that records the read. Only the processor-engineer role may read
the landing zone; a refusal is audited (openphm.governance.roles).
"""

from __future__ import annotations

from dataclasses import dataclass

from openphm.engine import attach_encrypted
from openphm.governance.audit import Actor
from openphm.keystore import KeyName
from openphm.landing import catalog as cat
from openphm.landing import model
from openphm.landing.adapters import FHIR_TABLES, canonical_tables
from openphm.landing.retention import readable_batches
from openphm.landing.schema import literal
from openphm.programme.layouts import builtin

SCHEMA = "landing"  # the schema that holds the views of current rows
# Every diagnosis and procedure of each spell built from episodes, keyed as the spell's row
# (submission_id, source_row): a spell keeps only its first procedure, and the sensitive lists
# (openphm.pseudonymise.sensitive) need them all. Not a canonical table: no row of it is linked.
SPELL_CODES = "apc_spell_codes"
_NO_SPELL_CODES = (
    "SELECT NULL::VARCHAR AS submission_id, NULL::BIGINT AS source_row, "
    "NULL::VARCHAR[] AS diagnoses, NULL::VARCHAR[] AS procedures WHERE false"
)


def attach_batches(ws, con, actor: Actor, action: str) -> list[str]:
    """Attach every live batch within its retention period read-only as `b_<n>`; return the
    aliases in catalog order."""
    ws.authorise(actor, action)
    catalog = cat.load(ws.zone("landing"))
    aliases = []
    for number, batch in enumerate(readable_batches(ws, catalog)):
        alias = f"b_{number}"
        key = ws.keystore.get(KeyName.landing_batch(batch.batch_id))
        attach_encrypted(con, ws.zone("landing") / batch.file, alias, key, read_only=True)
        aliases.append(alias)
    return aliases


def current_tables(ws, con, actor: Actor) -> dict[str, str]:
    """Attach zone 1 to `con` and create a view per canonical table of its current rows: from
    live batches, and of the latest revision (and, for snapshot tables, the latest period) of
    each provider's submissions. Returns {canonical table: qualified view name}; every
    canonical table has a view, empty when nothing of it has landed."""
    aliases = attach_batches(ws, con, actor, "landing.read")
    catalog = cat.load(ws.zone("landing"))
    current = [s.submission_id for s in catalog.current()]
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    present = {
        (db, name)
        for db, name in con.execute(
            "SELECT database_name, table_name FROM duckdb_tables()"
        ).fetchall()
    }
    ids = ", ".join("'" + i.replace("'", "''") + "'" for i in current) or "NULL"
    bodies = {}
    for table in canonical_tables():
        cols = model.columns(table)
        parts = [f"SELECT * FROM {alias}.{table}" for alias in aliases if (alias, table) in present]
        empty = "SELECT " + ", ".join(f'NULL::{t} AS "{n}"' for n, t in cols) + " WHERE false"
        # With the model's own columns, typed and empty, so that a batch landed before a
        # column was added (a layout that came to read one more field) is read with it blank
        # rather than failing every read of the table.
        union = " UNION ALL BY NAME ".join([*parts, empty])
        bodies[table] = f"SELECT * FROM ({union}) WHERE submission_id IN ({ids})"
    spell_codes = []
    for table, declared in canonical_tables().items():
        if declared.becomes and declared.layout is None:
            continue  # a hospital's FHIR Encounters: read as spells below
        if declared.becomes and declared.layout.spell_key:
            spell_codes.append(spell_codes_sql(declared.layout, f"({bodies[table]})"))
        if declared.becomes:
            # Rows of a layout read as another table (HES APC episodes as spells, HES
            # outpatient appointments as op_appointments), with the rows landed in that
            # table's own shape.
            target = model.columns(declared.becomes)
            names = ", ".join(f'"{n}"' for n, _ in target)
            layout = declared.layout
            person = next((link for link in layout.links if link.person), None)
            if layout.spell_key:
                built = spells_sql(layout, f"({bodies[table]})")
            elif person is not None:
                # A data set's table whose person is another table's row (an MHSDS care
                # contact's RecordNumber names its MHS001MPI row): read with that row's
                # identifiers, within the export both came in.
                people = builtin()[person.to]
                joined = with_person_sql(
                    layout, person, people, bodies[table], bodies[people.canonical]
                )
                taken = frozenset(identifying(people))
                built = records_sql(layout, target, f"({joined})", extra=taken)
            else:
                built = records_sql(layout, target, f"({bodies[table]})")
            bodies[declared.becomes] = (
                f"SELECT {names} FROM ({bodies[declared.becomes]}) "
                f"UNION ALL SELECT {names} FROM ({built})"
            )
    # A hospital's FHIR bulk export: its Encounters read as spells, with their Patient,
    # Conditions and Procedures (every code of which the sensitive lists see).
    fhir = {t: f"({bodies[t]})" for t in FHIR_TABLES}
    spelled = {t: fhir[t] for t in FHIR_TABLES if t != "fhir_contacts"}
    target = ", ".join(f'"{n}"' for n, _ in model.columns("apc_spells"))
    bodies["apc_spells"] = (
        f"SELECT {target} FROM ({bodies['apc_spells']}) "
        f"UNION ALL SELECT {target} FROM ({fhir_spells_sql(**spelled)})"
    )
    spell_codes.append(f"SELECT * FROM ({fhir_spell_codes_sql(**spelled)})")
    target = ", ".join(f'"{n}"' for n, _ in model.columns("community_contacts"))
    bodies["community_contacts"] = (
        f"SELECT {target} FROM ({bodies['community_contacts']}) "
        f"UNION ALL SELECT {target} FROM ({fhir_contacts_sql(fhir)})"
    )
    bodies[SPELL_CODES] = " UNION ALL ".join(spell_codes) or _NO_SPELL_CODES
    views = {}
    for table, body in bodies.items():
        con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.{table} AS {body}")
        views[table] = f"{SCHEMA}.{table}"
    ws.audit.record(
        actor,
        "landing.read",
        reads=tuple(f"landing/{b.file}" for b in readable_batches(ws, catalog)),
        counts={"batches": len(aliases), "current_submissions": len(current)},
    )
    return views


def spells_sql(layout, episodes: str) -> str:
    """Spells (rows of `apc_spells`) built from HES APC episodes: the episodes of one
    submission that share the layout's spell key (person, provider, admission date), in
    EPIORDER order (then file order). A spell is named after its first episode (its EPIKEY is
    the spell id, its row the spell's source row); the first episode gives the admission
    method and the first primary diagnosis and procedure found; the last, the discharge date
    and destination; the spell's other diagnoses, once each, are its secondary diagnoses.
    Spells are built within one submission: a spell whose episodes arrive in two files
    (two financial years) is two spells (docs/extract-formats.md)."""
    key = ", ".join(f'"{k}"' for k in layout.spell_key)
    order = f"[coalesce({layout.spell_order}, 1e9), source_row]"
    identifiers = ("nhs_number", "date_of_birth", "sex", "postcode")
    ids = ", ".join(
        f"{k}" if k in layout.spell_key else f"arg_min({k}, o) AS {k}" for k in identifiers
    )
    diags = sorted(f.canonical for f in layout.fields if f.canonical.startswith("diag_"))
    procs = sorted(f.canonical for f in layout.fields if f.canonical.startswith("opertn_"))
    # The trust's local patient id, where the layout keeps one (the spell's first episode's).
    local = (
        "arg_min(local_patient_id, o)"
        if any(f.canonical == "local_patient_id" for f in layout.fields)
        else "NULL::VARCHAR"
    )
    return f"""SELECT * EXCLUDE (all_diagnoses), nullif(array_to_string(list_filter(
        list_distinct(all_diagnoses), d -> d IS NOT NULL AND d IS DISTINCT FROM
        primary_diagnosis), ';'), '') AS secondary_diagnoses FROM (
        SELECT submission_id, any_value(source_kind) AS source_kind, provider AS provider_ods,
            arg_min(source_row, o) AS source_row, {ids}, NULL::VARCHAR AS given_name,
            NULL::VARCHAR AS family_name, arg_min(epikey, o) AS spell_id,
            {local} AS local_patient_id, admission_date,
            max(discharge_date) AS discharge_date,
            arg_min(admission_method, o) AS admission_method,
            arg_min({diags[0]}, o) FILTER (WHERE {diags[0]} IS NOT NULL) AS primary_diagnosis,
            flatten(list([{", ".join(diags)}] ORDER BY o)) AS all_diagnoses,
            arg_min({procs[0]}, o) FILTER (WHERE {procs[0]} IS NOT NULL) AS primary_procedure,
            arg_max(discharge_destination, o) FILTER (WHERE discharge_destination IS NOT NULL)
                AS discharge_destination
        FROM (SELECT *, {order} AS o FROM {episodes})
        GROUP BY submission_id, {key})"""


def spell_codes_sql(layout, episodes: str) -> str:
    """Each spell of `spells_sql` (the same episodes, grouped and ordered alike) with every
    diagnosis and every procedure of all its episodes: submission_id, source_row (the spell's,
    its first episode's), diagnoses, procedures (VARCHAR[], blanks left out)."""
    key = ", ".join(f'"{k}"' for k in layout.spell_key)
    order = f"[coalesce({layout.spell_order}, 1e9), source_row]"
    diags = sorted(f.canonical for f in layout.fields if f.canonical.startswith("diag_"))
    procs = sorted(f.canonical for f in layout.fields if f.canonical.startswith("opertn_"))

    def codes(columns: list[str]) -> str:
        if not columns:
            return "[]::VARCHAR[]"
        return f"list_filter(flatten(list([{', '.join(columns)}])), c -> c IS NOT NULL)"

    return f"""SELECT submission_id, arg_min(source_row, o) AS source_row,
        {codes(diags)} AS diagnoses, {codes(procs)} AS procedures
        FROM (SELECT *, {order} AS o FROM {episodes})
        GROUP BY submission_id, {key}"""


def export_sql() -> str:
    """The FHIR bulk export a landed row came from: its source kind, provider, period and
    revision, which its submission id (`<ODS>-<resource>-<YYYYMM>-r<N>-<sha256>`,
    landing.ingest) holds. The files of one export are the Patient, Encounter, Condition and
    Procedure files of one source kind, provider, period and revision (docs/landing.md, "FHIR
    R4 bulk export")."""
    return (
        "(source_kind || '/' || provider_ods || '/' || "
        "regexp_extract(submission_id, '-([0-9]{6}-r[0-9]+)-[0-9a-f]+$', 1))"
    )


def _fhir_spell_parts(fhir_patients: str, fhir_encounters: str, fhir_conditions: str,
                      fhir_procedures: str) -> str:  # fmt: skip
    """CTEs of an admitted-care export's rows keyed by export: `enc`, `pat`, and `diag` and
    `proc` with the order of each encounter's codes (`o`): the diagnosis its
    Encounter.diagnosis ranks first, then file order; procedures by date performed, then file
    order."""
    return f"""enc AS (SELECT *, {export_sql()} AS export FROM {fhir_encounters}
            WHERE source_kind = 'admitted-care'),
        pat AS (SELECT *, {export_sql()} AS export FROM {fhir_patients}),
        diag AS (SELECT c.export, c.encounter_ref, c.diagnosis,
                [CASE WHEN c.condition_id = e.primary_condition THEN 0 ELSE 1 END,
                 c.source_row] AS o
            FROM (SELECT *, {export_sql()} AS export FROM {fhir_conditions}) c
            JOIN enc e ON e.export = c.export AND e.encounter_id = c.encounter_ref),
        proc AS (SELECT export, encounter_ref, procedure_code,
                [coalesce(epoch(performed_date), 1e12), source_row] AS o
            FROM (SELECT *, {export_sql()} AS export FROM {fhir_procedures}))"""


def fhir_spells_sql(**fhir: str) -> str:
    """Spells (rows of `apc_spells`) read from a hospital's FHIR bulk export: one per
    admitted-care Encounter, named after it (its id is the spell id, its file and row the
    spell's), with its Patient's identifiers (Encounter.subject), its first diagnosis as the
    primary and the others, once each in order, as the secondary diagnoses (Conditions whose
    Condition.encounter names it), and its first procedure (Procedure.encounter). References
    are resolved within one export; those it does not hold were quarantined when it landed
    (landing.fhir.check_references)."""
    return f"""WITH {_fhir_spell_parts(**fhir)},
        codes AS (SELECT export, encounter_ref, diagnosis, min(o) AS o FROM diag GROUP BY ALL),
        firsts AS (SELECT export, encounter_ref, arg_min(diagnosis, o) AS primary_diagnosis
            FROM codes GROUP BY ALL),
        diagnoses AS (SELECT f.export, f.encounter_ref, f.primary_diagnosis,
                nullif(string_agg(c.diagnosis, ';' ORDER BY c.o)
                    FILTER (WHERE c.diagnosis <> f.primary_diagnosis), '')
                    AS secondary_diagnoses
            FROM firsts f JOIN codes c USING (export, encounter_ref) GROUP BY ALL),
        procedures AS (SELECT export, encounter_ref, arg_min(procedure_code, o)
                AS primary_procedure FROM proc GROUP BY ALL)
        SELECT e.submission_id, e.source_kind, e.provider_ods, e.source_row,
            p.nhs_number, p.given_name, p.family_name, p.date_of_birth, p.sex, p.postcode,
            e.encounter_id AS spell_id, p.local_patient_id, e.admission_date,
            e.discharge_date, e.admission_method, d.primary_diagnosis, d.secondary_diagnoses,
            x.primary_procedure, e.discharge_destination
        FROM enc e
        LEFT JOIN pat p ON p.export = e.export AND p.patient_ref = e.patient_ref
        LEFT JOIN diagnoses d ON d.export = e.export AND d.encounter_ref = e.encounter_id
        LEFT JOIN procedures x ON x.export = e.export AND x.encounter_ref = e.encounter_id"""


def fhir_spell_codes_sql(**fhir: str) -> str:
    """Each spell of `fhir_spells_sql` with every diagnosis and every procedure of its
    encounter (as `spell_codes_sql` gives a HES spell's)."""
    return f"""WITH {_fhir_spell_parts(**fhir)}
        SELECT e.submission_id, e.source_row,
            coalesce((SELECT list(diagnosis ORDER BY o) FROM diag d
                WHERE d.export = e.export AND d.encounter_ref = e.encounter_id),
                []::VARCHAR[]) AS diagnoses,
            coalesce((SELECT list(procedure_code ORDER BY o) FROM proc x
                WHERE x.export = e.export AND x.encounter_ref = e.encounter_id),
                []::VARCHAR[]) AS procedures
        FROM enc e"""


def fhir_contacts_sql(fhir: dict[str, str]) -> str:
    """Community contacts (rows of `community_contacts`) read from a community provider's FHIR
    bulk export: one per Encounter, with its Patient's identifiers (Encounter.subject, within
    the export); face to face for the ambulatory, home health and field classes, and blank
    for virtual, which FHIR does not say is by telephone or video."""
    return f"""SELECT e.submission_id, e.source_kind, e.provider_ods, e.source_row,
            p.nhs_number, p.given_name, p.family_name, p.date_of_birth, p.sex, p.postcode,
            e.encounter_id AS contact_id, p.local_patient_id, e.contact_date, e.service,
            CASE WHEN e.encounter_class IN ('AMB', 'HH', 'FLD') THEN 'face-to-face' END
                AS contact_type
        FROM (SELECT *, {export_sql()} AS export FROM {fhir["fhir_contacts"]}) e
        LEFT JOIN (SELECT *, {export_sql()} AS export FROM {fhir["fhir_patients"]}) p
            ON p.export = e.export AND p.patient_ref = e.patient_ref"""


def identifying(layout) -> tuple[str, ...]:
    """The canonical fields of a layout that identify the person (NHS number, date of birth,
    sex, postcode, names, the provider's local id)."""
    return tuple(f.canonical for f in layout.fields if f.identifies)


def with_person_sql(layout, link, people, rows: str, persons: str) -> str:
    """Rows of a data set's table (`rows`, a query of the layout's zone-1 table) with the
    identifying fields of the person `link` names (`persons`, a query of the `people`
    layout's table): the row of the same export whose link key is the row's link field (and,
    where both keep one, whose provider is the row's). A link the export did not satisfy was
    quarantined when it landed (landing.links), so every row finds its person."""
    ids = identifying(people)
    own = {f.canonical for f in layout.fields} & set(ids)
    exclude = f" EXCLUDE ({', '.join(own)})" if own else ""
    both = any(f.canonical == "provider" for f in layout.fields) and any(
        f.canonical == "provider" for f in people.fields
    )
    same = " AND p.provider IS NOT DISTINCT FROM r.provider" if both else ""
    return f"""SELECT r.*{exclude}, {", ".join(f"p.{c}" for c in ids)}
        FROM (SELECT *, {export_sql()} AS _export FROM ({rows})) r
        LEFT JOIN (SELECT *, {export_sql()} AS _export FROM ({persons})) p
            ON p._export = r._export AND p.{link.key} = r.{link.field}{same}"""


def records_sql(
    layout, target: tuple[tuple[str, str], ...], rows: str, extra: frozenset[str] = frozenset()
) -> str:
    """A layout's rows read as the contract's table `target` (name, type), one for one (HES
    outpatient appointments as op_appointments, HES A&E attendances as ec_attendances): each
    of the contract's columns is the layout's field of that name, or null where the layout
    has none (names the data set does not send), or the constant the layout gives it
    (`becomes_values`), of the rows the layout reads as records (`becomes_when`); `extra`:
    fields `rows` carries beside the layout's own (its person's identifiers). The provider is
    the one the row names (PROCODE3, OrgIDProv), as for spells; a row that names none keeps the
    submission's."""
    fields = {f.canonical for f in layout.fields} | extra
    provenance = {n for n, _ in model.PROVENANCE}
    constants = dict(layout.becomes_values)

    def column(name: str, sql_type: str) -> str:
        if name == "provider_ods" and "provider" in fields:
            return 'coalesce("provider", "provider_ods") AS "provider_ods"'
        if name in constants:
            return f'CAST({literal(constants[name])} AS {sql_type}) AS "{name}"'
        if name in fields or name in provenance:
            return f'"{name}"'
        return f'NULL::{sql_type} AS "{name}"'

    # Only the rows the layout says are the contract's records (an MHSDS care contact that
    # took place: attended on time or late but seen).
    when = " AND ".join(
        f'"{name}" IN ({", ".join(literal(v) for v in values)})'
        for name, values in layout.becomes_when
    )
    where = f" WHERE {when}" if when else ""
    return f"SELECT {', '.join(column(n, t) for n, t in target)} FROM {rows}{where}"


@dataclass(frozen=True)
class Held:
    """Rows held back from one file for one reason."""

    file: str
    submission_id: str
    field: str
    reason: str
    rows: int
    row_numbers: tuple[int, ...]


def quarantine(ws, con, actor: Actor) -> list[Held]:
    """What was held back, per file, field and reason, from every live batch."""
    aliases = attach_batches(ws, con, actor, "landing.quarantine")
    if not aliases:
        return []
    union = " UNION ALL ".join(f"SELECT * FROM {a}.quarantine" for a in aliases)
    found = con.execute(
        f"SELECT file, submission_id, field, reason, count(*), list(row ORDER BY row) "
        f"FROM ({union}) GROUP BY ALL ORDER BY file, field, reason"
    ).fetchall()
    ws.audit.record(
        actor, "landing.quarantine", counts={"batches": len(aliases), "problems": len(found)}
    )
    return [Held(f, s, fi, r, n, tuple(rows)) for f, s, fi, r, n, rows in found]
