"""Person-level scores: long-term condition count, Cambridge Multimorbidity Score, electronic
Frailty Index, and the hospital scores (Hospital Frailty Risk Score, Charlson, Elixhauser).

Rules and weights are in `definitions`; the hospital scores come from the `pycomorb` package
(its own published ICD-10 mappings), called at the boundary with a polars frame.
Reads the coded-event tables of `population`; `person_scores` is written by `build`.
"""

from __future__ import annotations

import datetime as dt
import math

import ibis
import pandas as pd
import pyarrow as pa

from openphm.analytics.definitions import (
    CMS_CONDITIONS,
    EFI_CATEGORIES,
    EFI_DEFICITS,
    EFI_DENOMINATOR,
    EFI_POLYPHARMACY_DRUGS,
)
from openphm.analytics.zone import memtable, years_before

DISABILITY_DEFICITS = ("activity_limitation", "housebound", "mobility_transfer_problems")


def efi(gp_coded, drugs, available: set[str]):
    """(pseudonym, efi_deficits, efi, efi_disability) for people with at least one deficit.
    eFI = deficits present / 36; efi_disability: an activity limitation, housebound or
    mobility deficit (used by segmentation)."""
    rows = [(d.name, name) for d in EFI_DEFICITS for name in d.gp if name in available]
    mapping = memtable(pd.DataFrame(rows, columns=["deficit", "list"]))
    coded = gp_coded.join(mapping, "list").select("pseudonym", "deficit")
    poly = drugs.filter(drugs.drugs >= EFI_POLYPHARMACY_DRUGS).select(
        "pseudonym", deficit=ibis.literal("polypharmacy")
    )
    present = coded.union(poly, distinct=True)
    return present.group_by("pseudonym").agg(
        efi_deficits=present.deficit.nunique().cast("int32"),
        efi=(present.deficit.nunique() / EFI_DENOMINATOR).cast("float64"),
        efi_disability=present.deficit.isin(DISABILITY_DEFICITS).any(),
    )


def efi_category(score):
    """fit < 0.12 ≤ mild < 0.24 ≤ moderate < 0.36 ≤ severe (Clegg 2016). Compared as whole
    deficits (a score is a count over 36): mild from 5 (4.32 rounded up), moderate from 9,
    severe from 13, so that no binary-fraction rounding moves anyone across a bound."""
    deficits = (score * EFI_DENOMINATOR).round()
    cases = [(deficits >= math.ceil(bound * EFI_DENOMINATOR - 1e-9), name)
             for name, bound in reversed(EFI_CATEGORIES)]  # fmt: skip
    return ibis.cases(*cases, else_="fit")


def cms(gp_coded, med_issues, reference_date: dt.date, available: set[str]):
    """(pseudonym, cms, cms_conditions): the Cambridge Multimorbidity Score, the sum of the
    weights of the conditions present, for people with at least one."""
    code_rows, med_rows, unless_rows = [], [], []
    for c in CMS_CONDITIONS:
        since = years_before(reference_date, c.lookback_years) if c.lookback_years else None
        code_rows += [(c.name, name, since, c.weight) for name in c.gp if name in available]
        unless = dict(c.medication_unless)
        med_rows += [(c.name, name, c.min_issues, c.weight) for name in c.medication
                     if name in available and set(unless.get(name, ())) <= available]  # fmt: skip
        unless_rows += [(c.name, name, gp) for name, gps in unless.items() for gp in gps]
    codes = pd.DataFrame(code_rows, columns=["condition", "list", "since", "weight"])
    codes["since"] = pd.to_datetime(codes["since"].fillna(dt.date(1, 1, 1))).dt.date
    code_map = memtable(codes)
    j = gp_coded.join(code_map, "list")
    present = j.filter(j.last_date >= j.since.cast("date")).select(
        "pseudonym", "condition", "weight"
    )
    if med_rows:
        med_map = memtable(pd.DataFrame(med_rows, columns=["condition", "list", "min", "weight"]))
        m = med_issues.join(med_map, "list")
        m = m.filter(m.issues >= m["min"])
        if unless_rows:
            frame = pd.DataFrame(unless_rows, columns=["condition", "list", "unless"])
            unless_map = memtable(frame)
            coded = gp_coded.select("pseudonym", unless=gp_coded.list)
            barred = coded.join(unless_map, "unless").select("pseudonym", "condition", "list")
            m = m.anti_join(barred, ["pseudonym", "condition", "list"])
        present = present.union(m.select("pseudonym", "condition", "weight"), distinct=False)
    present = present.distinct()
    return present.group_by("pseudonym").agg(
        cms=present.weight.sum().round(2).cast("float64"),
        cms_conditions=present.condition.nunique().cast("int32"),
    )


# What `hospital_scores` gives per person: the schema every engine's result is cast to.
HOSPITAL_SCHEMA = pa.schema(
    [("pseudonym", pa.string()), ("hfrs", pa.float64()),
     ("charlson", pa.int32()), ("elixhauser", pa.int32())]
)  # fmt: skip


def hospital_scores(zone, population, reference_date: dt.date, lookback_years: int):
    """(pseudonym, hfrs, charlson, elixhauser) from ICD-10 diagnoses of spells admitted in the
    `lookback_years` before the reference date, by pycomorb: HFRS (Gilbert et al. 2018),
    Charlson (Quan 2005 ICD-10 coding, Charlson weights, comorbidity index without the age
    score), Elixhauser (Quan coding, van Walraven weights). People with no such spell have no
    row (their scores are 0 by definition, filled in by `build`).

    pycomorb is a Python library, not SQL, so each person's diagnoses go through it where the
    engine keeps them: on DuckDB in this process, on Spark on the executors, partitioned by
    person (`Zone.per_person`), so a nation's diagnoses never pass through the driver."""
    from openphm.analytics.population import hospital_diagnoses

    since = years_before(reference_date, lookback_years)
    diagnoses = hospital_diagnoses(zone, reference_date, since)
    people = population.select("pseudonym", "age")
    rows = diagnoses.join(people, "pseudonym").select("pseudonym", "code", "age").distinct()
    return zone.per_person("hospital_scores", rows, comorbidity_scores, HOSPITAL_SCHEMA)


def comorbidity_scores(rows: pa.Table) -> pa.Table:
    """HFRS, Charlson and Elixhauser of every person in `rows` (pseudonym, code, age: all of
    each person's distinct diagnoses), as HOSPITAL_SCHEMA. Each person's scores depend on
    their own rows only, which is what lets an engine run this on any partition by person."""
    import polars as pl
    import pycomorb

    if rows.num_rows == 0:
        return HOSPITAL_SCHEMA.empty_table()
    df = pl.from_arrow(rows.select(["pseudonym", "code", "age"])).rename({"pseudonym": "id"})
    args = {"id_col": "id", "code_col": "code"}
    hfrs = pycomorb.comorbidity("hfrs", df, **args)
    charlson = pycomorb.comorbidity("charlson", df, age_col="age", **args)
    elix = pycomorb.comorbidity("elixhauser", df, **args)
    joined = (
        hfrs.rename({"HFRS Score": "hfrs"})
        .join(charlson.select("id", pl.col("Charlson Comorbidity Index").alias("charlson")),
              on="id", how="full", coalesce=True)
        .join(elix.select("id", pl.col("Elixhauser Comorbidity Index").alias("elixhauser")),
              on="id", how="full", coalesce=True)
    )  # fmt: skip
    out = joined.rename({"id": "pseudonym"}).select([f.name for f in HOSPITAL_SCHEMA])
    return out.to_arrow().cast(HOSPITAL_SCHEMA)


def person_scores(population, flags, efi_table, cms_table, hospital):
    """One row per person: age, ltc_count, cms, cms_conditions, efi, efi_deficits,
    efi_category, efi_disability, hfrs, charlson, elixhauser (zeros where nothing is found)."""
    p = population.select("pseudonym", "age")
    t = (
        p.left_join(flags.select("pseudonym", "ltc_count"), "pseudonym")
        .drop("pseudonym_right")
        .left_join(efi_table, "pseudonym")
        .drop("pseudonym_right")
        .left_join(cms_table, "pseudonym")
        .drop("pseudonym_right")
        .left_join(hospital, "pseudonym")
        .drop("pseudonym_right")
    )
    efi_value = t.efi.fill_null(0.0)
    return t.select(
        "pseudonym",
        "age",
        ltc_count=t.ltc_count.fill_null(0),
        cms=t.cms.fill_null(0.0),
        cms_conditions=t.cms_conditions.fill_null(0),
        efi=efi_value,
        efi_deficits=t.efi_deficits.fill_null(0),
        efi_category=efi_category(efi_value),
        efi_disability=t.efi_disability.fill_null(False),
        hfrs=t.hfrs.fill_null(0.0),
        charlson=t.charlson.fill_null(0),
        elixhauser=t.elixhauser.fill_null(0),
    )
