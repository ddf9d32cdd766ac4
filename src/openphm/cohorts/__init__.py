"""Cohorts (issue 7): definitions as data, compiled to one query over the linked zone, and one
list per practice of the people in a cohort, as re-identification tokens.

Reads zone 3 (people's tokens, analytics tables, person_risk); writes zone 3
linked.cohort_members (for evaluation) and zone 4 WORKSPACE/outputs/cohorts/<ODS>/<name>.csv.
A list holds tokens, scores, segments and reasons only: never a pseudonym, never an identifier.

    from openphm import cohorts
    definition = cohorts.load_definition(Path("frail.toml"))
    built = cohorts.build_cohort(con, definition)          # members, counts, per practice
"""

from openphm.cohorts.build import BuiltCohort, build_cohort, write_lists
from openphm.cohorts.definition import CRITERIA, CohortDefinition, load_definition

__all__ = [
    "CRITERIA",
    "BuiltCohort",
    "CohortDefinition",
    "build_cohort",
    "load_definition",
    "write_lists",
]
