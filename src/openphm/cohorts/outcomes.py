"""What a practice did for the people on its list, back in the programme de-identified.

A practice sends, per person on one of its lists, the person's token and an outcome from the
fixed set OUTCOMES, and nothing else: never a name, NHS number or note. The programme finds
the person by the token among that practice's own people who are members of that cohort
(linked.people, linked.cohort_members) and keeps the pseudonym, not the token, with the outcome
in zone 3 (linked.cohort_outcomes), where `phm evaluate` counts them per practice under
disclosure control. A token that is not one of this practice's members of this cohort (another
practice's, a list sealed to a key since replaced, a mistyped one) is counted and not kept: a
practice can record outcomes only for its own people on that list. A hospital provider's tokens
are found among its own (linked._provider_refs, pseudonymise.hospital) the same way.

Reads zone 3 people and cohort_members; writes zone 3 cohort_outcomes and the audit log
(counts per outcome only, never a token).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

import pandas as pd

from openphm import clock
from openphm.cohorts.build import MEMBERS
from openphm.errors import UserFacingError

OUTCOMES_TABLE = "cohort_outcomes"
# The outcomes a practice may record (their words: cohorts.words.OUTCOME_WORDS).
OUTCOMES = (
    "contacted",
    "offered",
    "accepted",
    "declined",
    "not_appropriate",
    "moved_or_died",
)
_COHORT_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class OutcomeError(UserFacingError):
    """Outcomes that cannot be recorded: the message names the row and field, never a token."""


def record_outcomes(
    ws, actor, ods: str, cohort: str, rows: Iterable[tuple[str, str]]
) -> Counter[str]:
    """Keep (token, outcome) pairs a practice sent for its list of `cohort`. A later outcome
    for the same person and cohort replaces the earlier one. Returns counts per outcome kept
    and `not_on_list` for tokens that are not this practice's members of this cohort. Any
    outcome outside OUTCOMES refuses the whole post (audited): nothing is half recorded."""
    ws.authorise(actor, "cohort.outcome")
    ws.require_open()
    rows = list(rows)

    def refuse(message: str):
        ws.audit.record(actor, "cohort.outcome", outcome="refused", reason=message)
        raise OutcomeError(message)

    if not _COHORT_NAME.match(cohort):
        refuse("the cohort is not a cohort name (lower case letters, digits, - and _)")
    for number, (token, outcome) in enumerate(rows, start=1):
        if not isinstance(token, str) or not token.strip():
            refuse(f"row {number}: the token is empty")
        if outcome not in OUTCOMES:
            refuse(f"row {number}: the outcome is not one of {', '.join(OUTCOMES)}")
    sent = pd.DataFrame(rows, columns=["token", "outcome"], dtype="string")
    sent["token"] = sent["token"].str.strip()
    sent = sent.drop_duplicates("token", keep="last")  # the latest for a person wins
    # A practice's tokens are its people's (linked.people); a provider's, its local ids'.
    table, column = (
        ("_provider_refs", "provider")
        if ods in ws.config.list_providers()
        else ("people", "practice")
    )
    tokens = f"linked.{table} p ON p.token = s.token AND p.{column} = ?"
    con = ws.connect_linked()
    try:
        con.execute("BEGIN")
        members = {MEMBERS, table} <= _tables(con)
        con.register("_sent", sent)
        matched = (
            con.execute(
                f"""
                SELECT DISTINCT p.pseudonym, s.outcome FROM _sent s
                JOIN {tokens}
                JOIN linked.{MEMBERS} m ON m.pseudonym = p.pseudonym AND m.cohort = ?
                """,
                [ods, cohort],
            ).df()
            if members
            else pd.DataFrame({"pseudonym": [], "outcome": []})
        )
        con.unregister("_sent")
        con.execute(
            f"CREATE TABLE IF NOT EXISTS linked.{OUTCOMES_TABLE} (cohort VARCHAR, "
            "pseudonym VARCHAR, practice VARCHAR, outcome VARCHAR, recorded_at TIMESTAMP)"
        )
        kept = matched.assign(
            cohort=cohort, practice=ods, recorded_at=clock.now().replace(tzinfo=None)
        )[["cohort", "pseudonym", "practice", "outcome", "recorded_at"]]
        con.register("_kept", kept)
        con.execute(
            f"DELETE FROM linked.{OUTCOMES_TABLE} WHERE cohort = ? AND pseudonym IN "
            "(SELECT pseudonym FROM _kept)",
            [cohort],
        )
        con.execute(f"INSERT INTO linked.{OUTCOMES_TABLE} SELECT * FROM _kept")
        con.unregister("_kept")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    counts: Counter[str] = Counter(kept["outcome"].astype(str))
    counts["not_on_list"] = len(sent) - len(kept)
    ws.audit.record(
        actor,
        "cohort.outcome",
        reads=("linked.people", f"linked.{MEMBERS}"),
        writes=(f"linked.{OUTCOMES_TABLE}",),
        counts=dict(counts),
        reason=f"outcomes from {ods} for cohort {cohort}",
    )
    return counts


def _tables(con) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'linked'"
        ).fetchall()
    }


def outcome_counts(con, cohort: str, rules=None) -> pd.DataFrame | None:
    """People per practice and outcome for `cohort`, disclosure-controlled (the practices'
    totals and the programme's with them), or None when no outcome has been recorded."""
    from openphm.disclosure import control_table

    if OUTCOMES_TABLE not in _tables(con):
        return None
    cells = con.execute(
        f"SELECT practice, outcome, count(*) AS people FROM linked.{OUTCOMES_TABLE} "
        "WHERE cohort = ? GROUP BY ALL",
        [cohort],
    ).df()
    if cells.empty:
        return None
    cells["people"] = cells["people"].astype("int64")
    return control_table(
        cells,
        groups=["practice", "outcome"],
        counts=["people"],
        totals_over=["practice", "outcome"],
        rules=rules,
    ).table


def outcome_lines(table: pd.DataFrame) -> list[str]:
    """`outcome_counts`' table as Markdown, outcomes in words, a hidden count "suppressed"."""
    from openphm.cohorts.words import OUTCOME_WORDS

    lines = ["| practice | outcome | people |", "|---|---|---|"]
    for row in table.itertuples():
        people = "suppressed" if pd.isna(row.people) else f"{int(row.people):,}"
        lines.append(
            f"| {row.practice} | {OUTCOME_WORDS.get(row.outcome, row.outcome)} | {people} |"
        )
    return lines
