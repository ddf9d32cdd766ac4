"""30-day emergency readmissions when spells share their dates (one stay recorded twice, as
elective and as emergency): the emergency one is compared with the discharge before the stay,
on every engine alike (without one order for such ties DuckDB and Spark counted differently on
the 100k region)."""

import datetime as dt

from openphm import analytics

from .linked import person, population, zone_on

D = dt.date


def spell(admitted, discharged, *, emergency):
    return {"pseudonym": "p", "admission_date": admitted, "discharge_date": discharged,
            "emergency": emergency, "elective": not emergency, "primary_diagnosis": "J189",
            "secondary_diagnoses": [], "bed_days": None}  # fmt: skip


SPELLS = [
    spell(D(2025, 6, 1), D(2025, 6, 5), emergency=False),
    spell(D(2025, 6, 10), D(2025, 6, 15), emergency=False),  # one stay, recorded twice
    spell(D(2025, 6, 10), D(2025, 6, 15), emergency=True),  # 5 days after the first ended
    spell(D(2025, 8, 1), None, emergency=True),  # still in, 47 days later: not a readmission
]
# The emergency twin follows the spell that ended on 5 June: a readmission. Compared with its
# elective twin instead (discharged after it was admitted), it would not count.
EXPECTED = [(1,)]
OPTIONS = analytics.AnalyticsOptions(hospital_scores=False, sii_simulations=10, groupings=())


def test_an_emergency_spell_is_compared_with_the_discharge_before_its_twin(engine, tmp_path):
    zone = zone_on(engine, tmp_path, **population(person("p")), apc_spells=SPELLS)
    zone.analyse(D(2026, 3, 31), OPTIONS)
    assert zone.sql("SELECT readmissions_30d FROM linked.person_activity").fetchall() == EXPECTED
