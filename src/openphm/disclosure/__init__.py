"""Statistical disclosure control (promise P10): nothing published can identify anyone.

Reads aggregate tables built from zone 3; returns tables safe for zone 4 (outputs), each with
the rule set it passed and every value's outcome. Pure functions of their inputs, on by default:
the only way round them is an explicit, recorded reason (`DisclosureRules.relaxed`).
"""

from openphm.disclosure.rules import (
    DOMINANCE_P,
    ROUNDING_MULTIPLE,
    SUPPRESSION_THRESHOLD,
    DisclosureError,
    DisclosureRules,
)
from openphm.disclosure.tables import (
    ControlledTable,
    control_areas,
    control_counts,
    control_table,
    sum_cells,
)

__all__ = [
    "DOMINANCE_P",
    "ROUNDING_MULTIPLE",
    "SUPPRESSION_THRESHOLD",
    "ControlledTable",
    "DisclosureError",
    "DisclosureRules",
    "control_areas",
    "control_counts",
    "control_table",
    "sum_cells",
]
