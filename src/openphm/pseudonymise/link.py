"""`phm link`: zone 1 (landing) → zone 2 (pseudonymisation) → zone 3 (linked).

Reads the current landing rows, the landing catalog, the linkage key and the public keys the
practices and hospital providers registered; writes zone 3 (encrypted, `linked/linked.duckdb`)
and the audit log.
The steps, in one transaction so that zone 3 is seen before or after a run, never part-way:

1. plan: which landed files are new, and which linked files a resubmission supersedes; their
   records coded with a sensitive list's code withheld (openphm.pseudonymise.sensitive: they
   never leave zone 1);
2. NHS numbers checked; records without a valid one traced against the registered population;
3. pseudonyms: linkage pseudonyms of NHS numbers, unmatched pseudonyms of the rest, keyed
   pseudonyms of practices' patient references and providers' local patient ids; tokens
   sealed to practices' and providers' public keys (openphm.pseudonymise.gp, .hospital);
4. de-identified rows written (openphm.pseudonymise.deidentify), superseded rows removed,
   `people` rebuilt;
5. objections applied to every table (openphm.linked.objectors: the one hook);
6. link_report and linkage_equity written: aggregates only.

Identifiable rows exist only in the connection's temporary tables (memory, or encrypted spill
files inside zone 3's folder) and are gone when it closes. The linkage key is read here and
handed to openphm.pseudonymise's functions: no other package reads it. The audit entry holds
counts per table, never a value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from openphm.engine import engine_for
from openphm.governance import intents
from openphm.governance.audit import Actor
from openphm.identity import objections
from openphm.keystore import KeyName
from openphm.landing import catalog as cat
from openphm.landing.read import SPELL_CODES, current_tables
from openphm.linked.objectors import CREATE_REGISTER, arriving, objecting, remove_objectors
from openphm.linked.objectors import REGISTER as OBJECTORS
from openphm.pseudonymise import gp, hospital, ledger, people, resolve, sensitive
from openphm.pseudonymise.deidentify import (
    COLUMNS,
    LINKED_TABLE,
    RECORD_ID,
    UNKNOWN_ETHNIC_GROUP,
    create_sql,
    postcode_key,
    register_reference,
    select_sql,
)
from openphm.pseudonymise.models import ModelStore
from openphm.pseudonymise.practices import registered_keys
from openphm.pseudonymise.providers import registered_provider_keys

GP_ACTIVITY = ("gp_registrations", "gp_events", "gp_medications", "gp_consultations")
STEPS = (
    "reading landed files",
    "checking NHS numbers",
    "tracing",
    "pseudonymising",
    "sealing tokens",
    "writing the linked zone",
    "applying objections",
    "committing",  # DuckDB compresses, encrypts and writes every changed table here
)

Progress = Callable[[str, int, int], None]  # (step, done, total)


@dataclass
class LinkResult:
    submissions_linked: int = 0
    submissions_replaced: int = 0
    written: dict[str, int] = field(default_factory=dict)  # rows added per linked table
    superseded_rows: int = 0
    records_to_trace: int = 0
    traced: int = 0
    gp_traced: int = 0  # GP patients listed without a valid NHS number, found by tracing
    tracing: resolve.TracingReport | None = None  # per source: counts and parse rates
    tokens_sealed: int = 0
    provider_tokens_sealed: int = 0  # tokens sealed to hospital providers' keys
    provider_ids_added: int = 0  # providers' local patient ids zone 3 now remembers
    registered_without_key: int = 0  # people with a practice but no token (no key registered)
    rekeyed: int = 0
    objectors: int = 0
    # Objectors' rows per table: removed from what zone 3 held, and excluded as they arrived.
    objected_removed: dict[str, int] = field(default_factory=dict)
    objected_excluded: dict[str, int] = field(default_factory=dict)
    people: int = 0
    # Records withheld because a sensitive list names one of their codes (never linked).
    sensitive: sensitive.Withheld = field(default_factory=sensitive.Withheld)
    sensitive_reason: str = ""  # the default lists turned off, with the reason given

    def audit_counts(self) -> dict[str, int]:
        counts = {
            "submissions_linked": self.submissions_linked,
            "submissions_replaced": self.submissions_replaced,
            "superseded_rows_removed": self.superseded_rows,
            "records_to_trace": self.records_to_trace,
            "records_traced": self.traced,
            "tokens_sealed": self.tokens_sealed,
            "provider_tokens_sealed": self.provider_tokens_sealed,
            "provider_ids_added": self.provider_ids_added,
            "registered_without_key": self.registered_without_key,
            "people_rekeyed": self.rekeyed,
            "objectors": self.objectors,
            "people": self.people,
        }
        counts |= {f"written.{t}": n for t, n in self.written.items()}
        counts |= {f"objected_removed.{t}": n for t, n in self.objected_removed.items()}
        counts |= {f"objected_excluded.{t}": n for t, n in self.objected_excluded.items()}
        counts |= self.sensitive.audit_counts()
        return counts


def link(ws, actor: Actor, *, progress: Progress | None = None) -> LinkResult:
    """Link everything new in the landing zone into the linked zone (see the module's steps)."""
    ws.authorise(actor, "identity.link")
    ws.require_open()
    say = progress or (lambda step, done, total: None)
    # Held for the whole run: retention waits rather than destroy a batch being read.
    with cat.locked(ws.zone("landing")):
        con = ws.connect_linked()
        try:
            result, intent = _prepare(ws, con, actor, say)
            # The intent binds the commit to its audit entry (governance.intents): killed
            # after the commit, the entry is recorded when the workspace is next opened.
            with intents.committing(ws.audit, intent):
                say(STEPS[7], 0, 0)
                con.execute("COMMIT")
            intents.unmark(con, intent)
        finally:
            con.close()
    return result


def _prepare(ws, con, actor: Actor, say: Progress) -> tuple[LinkResult, intents.Intent]:
    """Steps 1 to 6 in a transaction left open, and the intent for its commit; a failure here
    is audited and leaves zone 3 as it was."""
    try:
        say(STEPS[0], 0, 0)
        views = current_tables(ws, con, actor)
        catalog = cat.load(ws.zone("landing"))
        con.execute("BEGIN")
        result = _link(ws, con, views, catalog, say)
        entry = intents.Entry(
            actor,
            "identity.link",
            reads=("landing/catalog.json",),
            writes=("linked/linked.duckdb",),
            counts=result.audit_counts(),
            reason=result.sensitive_reason,
        )
        return result, intents.linked_change(con, [entry])
    except BaseException:
        ws.audit.record(actor, "identity.link", outcome="failed")
        raise


def _link(ws, con, views: dict[str, str], catalog: cat.Catalog, say: Progress) -> LinkResult:
    result = LinkResult()
    _create_tables(con)
    register_reference(con)
    plan = ledger.plan(con, catalog)
    result.submissions_linked = len(plan.new)
    result.submissions_replaced = len(plan.replaced)
    new = _stage_new_rows(con, views, plan.new)
    lists = sensitive.lists_for(ws.config.sensitive)
    result.sensitive = sensitive.withhold(con, new, lists, views.get(SPELL_CODES))
    result.sensitive_reason = lists.audit_reason()
    others = [f"new_{t}" for t in new if t in RECORD_ID]
    gp_activity = [f"new_{t}" for t in new if t in GP_ACTIVITY]
    linkage_key = ws.keystore.get(KeyName.LINKAGE)

    say(STEPS[1], 0, 0)
    accepted = resolve.regions(ws.config.programme.accept_test_nhs_numbers)
    resolve.check_numbers(con, [views["gp_patients"], *others], accepted)
    resolve.pseudonymise_numbers(con, linkage_key)
    gp.ref_pseudonyms(
        con, [views["gp_patients"], views["gp_objections"], *gp_activity], linkage_key
    )
    gp.patients(con, views["gp_patients"], views["gp_registrations"])
    hospital.local_refs(con, views, ws.config.list_providers(), linkage_key)

    say(STEPS[2], 0, 0)
    gp.spine(con)
    result.tracing = resolve.trace_records(
        con, others, engine=engine_for(ws), folder=ws.zone("landing"), models=ModelStore(ws),
        periods={s.submission_id: s.period for s in catalog.submissions},
    )  # fmt: skip
    result.records_to_trace = result.tracing.records
    result.traced = con.execute("SELECT count(*) FROM traced").fetchone()[0]
    result.gp_traced = gp.adopt_traced(con)

    say(STEPS[3], 0, 0)
    _resolve_others(con, others, linkage_key)
    result.objectors = _update_objectors(con, views["gp_objections"], ws.config.objections.type1)
    result.rekeyed = gp.refresh_refs(con, OBJECTORS)
    _rekey(con)
    _resolve_gp(con, gp_activity)
    result.provider_ids_added = hospital.refresh_refs(
        con, {t: f"resolved_{t}" for t in new if t in RECORD_ID}, OBJECTORS
    )

    say(STEPS[4], 0, 0)
    result.tokens_sealed = gp.seal(
        con, registered_keys(ws), OBJECTORS, lambda done, total: say(STEPS[4], done, total)
    )
    result.provider_tokens_sealed = hospital.seal(
        con, registered_provider_keys(ws), OBJECTORS,
        lambda done, total: say(STEPS[4], done, total),
    )  # fmt: skip

    say(STEPS[5], 0, 0)
    # Objections first on what zone 3 already holds: these rows "went" (a later objection).
    result.objected_removed = _apply_objections(con)
    result.superseded_rows = ledger.remove(con, plan.replaced)
    counts = _counts(con, new)
    for submission in plan.new:
        ledger.record(con, submission, counts.get(submission.submission_id, {}))
    # Objectors' new rows are left out as they are written (linked.objectors.arriving) and counted
    # per submission, as the hook would have counted them.
    excluded = {sid: c["objected"] for sid, c in counts.items() if c["objected"]}
    ledger.add_objected(con, excluded)
    _equity(con, others, ws.config.programme.start_date)
    arrived: Counter = Counter()
    for canonical in new:
        table = LINKED_TABLE[canonical]
        rows = arriving(select_sql(table, f"resolved_{canonical}"), OBJECTORS)
        result.written[table] = con.execute(f"INSERT INTO linked.{table} {rows}").fetchone()[0]
        arrived[table] += sum(
            counts.get(s.submission_id, {}).get("objected", 0)
            for s in plan.new
            if s.canonical_table == canonical
        )
    resolved = [f"resolved_{t}" for t in new if t in RECORD_ID]
    arrived[people.PEOPLE_TABLE.removeprefix("linked.")] += people.rebuild(
        con, resolved, ws.config.programme.controllers, OBJECTORS
    )

    say(STEPS[6], 0, 0)
    # Then the hook on what this run wrote: objectors' new rows never reach the committed zone
    # (it finds none when the filter above did its work).
    result.objected_excluded = dict(arrived + Counter(_apply_objections(con)))
    result.people = con.execute(f"SELECT count(*) FROM {people.PEOPLE_TABLE}").fetchone()[0]
    result.registered_without_key = con.execute(
        f"SELECT count(*) FROM {people.PEOPLE_TABLE} WHERE practice IS NOT NULL AND token IS NULL"
    ).fetchone()[0]
    ledger.write_reports(con)
    return result


def _apply_objections(con) -> dict[str, int]:
    """The objections hook on every table of zone 3 that holds a pseudonym (analytics' tables
    too: an objection must not wait for the next analysis), except the register itself; rows
    removed per table, and per submission added to the link report's counts."""
    removed = remove_objectors(con)
    by_table: Counter = Counter()
    by_submission: Counter = Counter()
    for (table, submission_id), rows in removed.items():
        by_table[table] += rows
        if submission_id is not None:
            by_submission[submission_id] += rows
    ledger.add_objected(con, by_submission)
    return dict(by_table)


def _create_tables(con) -> None:
    for table in COLUMNS:
        con.execute(create_sql(table))
    con.execute(people.create_sql())
    con.execute(CREATE_REGISTER)
    for ddl in (*ledger.DDL, *gp.DDL, *hospital.DDL):
        con.execute(ddl)


def _stage_new_rows(con, views: dict[str, str], new: list[cat.Submission]) -> list[str]:
    """Views `arrived_<canonical>` of the new submissions' rows (`sensitive.withhold` makes
    the `new_<canonical>` every later step reads); returns the canonical tables that have any.
    Views, not copies: the rows are read where they are, encrypted, as each step
    needs them, so a million-person region's activity never sits twice in memory."""
    by_table: dict[str, list[str]] = {}
    for submission in new:
        by_table.setdefault(submission.canonical_table, []).append(submission.submission_id)
    for canonical, ids in by_table.items():
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW arrived_{canonical} AS SELECT * FROM {views[canonical]} "
            f"WHERE submission_id IN ({_quoted(ids)})"
        )
    return list(by_table)


def _resolve_others(con, others: list[str], linkage_key: bytes) -> None:
    """Give every non-GP row its pseudonym: from its own valid NHS number, else the traced
    one, else an unmatched pseudonym of its own. `how` says which. Kept as temporary tables
    (a tenth of the rows GP activity has), since four steps read them. Each table's rows are
    read once: the few left untraced get their unmatched pseudonyms afterwards, in place
    (finding them first read every row twice)."""
    for table in others:
        canonical = table.removeprefix("new_")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE resolved_{canonical} AS
            SELECT r.*, n.pseudonym,
                   CASE WHEN c.nhs_number IS NOT NULL THEN 'nhs-number'
                        WHEN x.nhs_number IS NOT NULL THEN 'traced'
                        ELSE 'untraced' END AS how
            FROM {table} r
            LEFT JOIN nhs_check c ON c.raw = r.nhs_number
            LEFT JOIN traced x ON x.record_id = r.submission_id || '/' || r.source_row
            LEFT JOIN nhs_pseudonym n ON n.nhs_number = coalesce(c.nhs_number, x.nhs_number)"""
        )
    untraced = " UNION ALL ".join(
        f"SELECT source_kind, provider_ods AS provider, "
        f"{RECORD_ID[t.removeprefix('new_')]} AS record_id "
        f"FROM resolved_{t.removeprefix('new_')} WHERE how = 'untraced'"
        for t in others
    )
    resolve.unmatched(
        con,
        untraced
        or "SELECT NULL::VARCHAR source_kind, NULL::VARCHAR provider, "
        "NULL::VARCHAR record_id WHERE false",
        linkage_key,
        "unmatched",
    )
    for table in others:
        canonical = table.removeprefix("new_")
        con.execute(
            f"""UPDATE resolved_{canonical} SET pseudonym = u.pseudonym FROM unmatched u
            WHERE resolved_{canonical}.how = 'untraced'
              AND u.source_kind = resolved_{canonical}.source_kind
              AND u.provider = resolved_{canonical}.provider_ods
              AND u.record_id = resolved_{canonical}.{RECORD_ID[canonical]}"""
        )


def _resolve_gp(con, gp_activity: list[str]) -> None:
    """Give every new GP row its pseudonym through the practice's patient reference: the
    person's as zone 3 knows them, else as the current patient list says (an objector, whom
    zone 3 no longer holds), else the reference's own keyed pseudonym. Each reference is
    resolved once, into `gp_ref_resolved` (a row per patient, not per record): the rows,
    tens of millions, then need one join, and `_counts` counts them per reference."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE gp_ref_resolved AS
        SELECT f.practice, f.patient_ref,
               coalesce(g.pseudonym, p.pseudonym, f.ref_pseudonym) AS pseudonym,
               CASE WHEN starts_with(coalesce(g.pseudonym, p.pseudonym, 'u'), 'u')
                    THEN 'untraced' WHEN p.traced THEN 'traced' ELSE 'nhs-number' END AS how
        FROM gp_ref f
        LEFT JOIN {gp.GP_REFS} g ON g.ref_pseudonym = f.ref_pseudonym
        LEFT JOIN (SELECT DISTINCT ref_pseudonym, pseudonym,
                          valid_nhs_number IS NULL AND NOT starts_with(pseudonym, 'u') AS traced
                   FROM gp_people) p
               ON p.ref_pseudonym = f.ref_pseudonym"""
    )
    for table in gp_activity:
        canonical = table.removeprefix("new_")
        con.execute(
            f"""CREATE OR REPLACE TEMP VIEW resolved_{canonical} AS
            SELECT r.*, m.pseudonym, m.how FROM {table} r
            JOIN gp_ref_resolved m
              ON m.practice = r.provider_ods AND m.patient_ref = r.patient_ref"""
        )


def _rekey(con) -> None:
    """Move the rows of patients whose pseudonym changed (see gp.refresh_refs) to the new one."""
    for table in (*(f"linked.{t}" for t in COLUMNS), OBJECTORS):
        con.execute(
            f"UPDATE {table} SET pseudonym = k.new FROM gp_rekey k WHERE {table}.pseudonym = k.old"
        )
    con.execute(f"DELETE FROM {people.PEOPLE_TABLE} WHERE pseudonym IN (SELECT old FROM gp_rekey)")


def _update_objectors(con, objection_view: str, type1: bool) -> int:
    """Keep the register of objectors' pseudonyms: add those whose latest code is a dissent,
    drop those who withdrew. A patient reference leads to the person through the current
    patient list or, once that is destroyed, through `_gp_refs`. Returns how many people the
    register holds."""
    latest = objections.objectors(con, objection_view, type1=type1)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE objection_pseudonyms AS
        SELECT DISTINCT unnest([f.ref_pseudonym, g.pseudonym, p.pseudonym]) AS pseudonym,
               coalesce(g.pseudonym, p.pseudonym, f.ref_pseudonym) AS person, o.objects
        FROM {latest} o
        JOIN gp_ref f ON f.practice = o.practice AND f.patient_ref = o.patient_ref
        LEFT JOIN {gp.GP_REFS} g ON g.ref_pseudonym = f.ref_pseudonym
        LEFT JOIN gp_people p ON p.ref_pseudonym = f.ref_pseudonym"""
    )
    con.execute(
        f"DELETE FROM {OBJECTORS} WHERE pseudonym IN "
        "(SELECT pseudonym FROM objection_pseudonyms WHERE NOT objects)"
    )
    con.execute(
        f"""INSERT INTO {OBJECTORS} SELECT DISTINCT pseudonym, person FROM objection_pseudonyms
        WHERE objects AND pseudonym IS NOT NULL
          AND pseudonym NOT IN (SELECT pseudonym FROM {OBJECTORS})"""
    )
    return con.execute(f"SELECT count(DISTINCT person) FROM {OBJECTORS}").fetchone()[0]


def _counts(con, new: list[str]) -> dict[str, dict[str, int]]:
    """Records, valid NHS numbers, traced, untraced and objectors' rows of each new
    submission. GP activity is counted per patient reference first (its rows take their
    pseudonym from the reference), instead of resolving every row a second time."""
    names = ("records", "with_valid_nhs_number", "traced", "untraced", "objected")
    counts = {}
    for canonical in new:
        if canonical in GP_ACTIVITY:
            rows = f"""(SELECT r.submission_id, r.n, m.pseudonym, m.how
                FROM (SELECT submission_id, provider_ods, patient_ref, count(*) AS n
                      FROM new_{canonical} GROUP BY ALL) r
                JOIN gp_ref_resolved m
                  ON m.practice = r.provider_ods AND m.patient_ref = r.patient_ref)"""
        else:
            rows = f"(SELECT submission_id, 1 AS n, pseudonym, how FROM resolved_{canonical})"
        for submission_id, *values in con.execute(
            f"""SELECT submission_id, sum(n), coalesce(sum(n) FILTER (how = 'nhs-number'), 0),
                       coalesce(sum(n) FILTER (how = 'traced'), 0),
                       coalesce(sum(n) FILTER (how = 'untraced'), 0),
                       coalesce(sum(n) FILTER ({objecting(OBJECTORS)}), 0)
            FROM {rows} GROUP BY ALL"""
        ).fetchall():
            counts[submission_id] = dict(zip(names, (int(v) for v in values), strict=True))
    return counts


def _equity(con, others: list[str], reference) -> None:
    """Per new submission, records that needed tracing and how many were matched, by source,
    IMD decile (of the record's postcode), age band, sex and ethnic group (of the person
    matched: hospital records carry no ethnicity, so an unmatched record's is Unknown)."""
    age = f"date_diff('year', x.date_of_birth, DATE '{reference}')"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE matched_ethnicity AS
        SELECT p.pseudonym, coalesce(e.ethnic_group, '{UNKNOWN_ETHNIC_GROUP}') AS ethnic_group
        FROM gp_people p LEFT JOIN ref_ethnicity e ON e.code = p.ethnicity_code WHERE p.main"""
    )
    for table in others:
        canonical = table.removeprefix("new_")
        con.execute(
            f"""INSERT INTO {ledger.EQUITY}
            WITH r AS (
                SELECT x.submission_id, x.source_kind AS source,
                       coalesce(pc.imd_decile::VARCHAR, 'Unknown') AS imd_decile,
                       CASE WHEN x.how = 'traced' THEN g.ethnic_group
                            ELSE '{UNKNOWN_ETHNIC_GROUP}' END AS ethnic_group,
                       CASE WHEN x.date_of_birth IS NULL THEN 'Unknown'
                            ELSE {_age_band(age)} END AS age_band,
                       coalesce(x.sex, 'U') AS sex, x.how = 'traced' AS matched
                FROM resolved_{canonical} x
                LEFT JOIN ref_postcode pc
                       ON pc.postcode = {postcode_key("x.postcode")}
                LEFT JOIN matched_ethnicity g ON g.pseudonym = x.pseudonym
                WHERE x.how <> 'nhs-number')
            SELECT submission_id, grouped_by, "group", count(*), count(*) FILTER (matched)
            FROM (UNPIVOT r ON source, imd_decile, ethnic_group, age_band, sex
                  INTO NAME grouped_by VALUE "group")
            GROUP BY ALL"""
        )


def _quoted(values: list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _age_band(age_sql: str) -> str:
    bands = ((17, "0-17"), (44, "18-44"), (64, "45-64"), (79, "65-79"))
    whens = " ".join(f"WHEN {age_sql} <= {top} THEN '{label}'" for top, label in bands)
    return f"CASE {whens} ELSE '80+' END"
