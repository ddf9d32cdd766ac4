"""Condition registers: who is on each register at the reference date, and which source found
them (gp, hospital or both). Rules are in `definitions.Register`; this compiles them.

Reads the coded-event tables of `population`; writes linked.person_registers (one row per
person and register they are on).
"""

from __future__ import annotations

import ibis
import pandas as pd

from openphm.analytics.definitions import Register
from openphm.analytics.zone import memtable


def register_roles(registers: tuple[Register, ...], available: set[str]) -> pd.DataFrame:
    """(register, list, role, min_age) for every list a register names that is available."""
    rows = [
        (r.name, name, role, r.min_age)
        for r in registers
        for role, names in (("gp", r.gp), ("resolved", r.resolved), ("hospital", r.hospital))
        for name in names
        if name in available
    ]
    return pd.DataFrame(rows, columns=["register", "list", "role", "min_age"])


def person_registers(coded, population, roles: pd.DataFrame):
    """One row per person on a register: pseudonym, register, source, first_gp_date,
    first_hospital_date. `coded` is gp_coded ∪ hospital_coded."""
    role_table = memtable(roles)
    j = coded.join(role_table, "list")
    is_gp, is_res, is_hosp = (j.role == "gp"), (j.role == "resolved"), (j.role == "hospital")
    per = j.group_by(["pseudonym", "register", "min_age"]).agg(
        first_gp_date=j.first_date.min(where=is_gp),
        last_gp_date=j.last_date.max(where=is_gp),
        last_resolved_date=j.last_date.max(where=is_res),
        first_hospital_date=j.first_date.min(where=is_hosp),
    )
    on_gp = per.last_gp_date.notnull() & (
        per.last_resolved_date.isnull() | (per.last_gp_date > per.last_resolved_date)
    )
    on_hospital = per.first_hospital_date.notnull()
    per = per.mutate(on_gp=on_gp, on_hospital=on_hospital)
    people = population.select("pseudonym", "age")
    per = per.join(people, "pseudonym").filter(
        (per.on_gp | per.on_hospital), people.age >= per.min_age
    )
    source = ibis.cases((per.on_gp & per.on_hospital, "both"), (per.on_gp, "gp"), else_="hospital")
    return per.select(
        "pseudonym",
        "register",
        source=source,
        first_gp_date=per.on_gp.ifelse(per.first_gp_date, ibis.null("date")),
        first_hospital_date=per.first_hospital_date,
    )


def register_flags(person_registers, registers: tuple[Register, ...]):
    """One row per person on any register: pseudonym, reg_<name> (boolean) for every register,
    and ltc_count (registers marked long_term_condition)."""
    t = person_registers
    flags = {f"reg_{r.name}": (t.register == r.name).any() for r in registers}
    ltc = [r.name for r in registers if r.long_term_condition]
    return t.group_by("pseudonym").agg(**flags, ltc_count=t.register.isin(ltc).sum().cast("int32"))
