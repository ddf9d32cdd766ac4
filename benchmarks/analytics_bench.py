# ruff: noqa: E501  (the generator SQL reads better unwrapped)
"""Time `phm analyse`'s build on a fabricated linked zone of the documented shape.

    python benchmarks/analytics_bench.py --people 1000000 [--threads 2] [--file bench.duckdb]

The zone is made with DuckDB's own generators (no Python loop over rows), at volumes scaled to
--people from a 1M-person region's: 25M GP events, 5M medication issues, 10M consultations,
110k emergency spells and 400k emergency care attendances a year, plus elective spells,
outpatients, community contacts and social care. A tenth of GP events carry a code from a list
the analytics use, so the joins do real work. Prints seconds per step; no person-level row.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

REFERENCE = dt.date(2026, 9, 30)
PER_MILLION = {
    "gp_events": 25_000_000,
    "medications": 5_000_000,
    "consultations": 10_000_000,
    "emergency_spells": 220_000,  # two years at 110k a year (hospital scores look back two)
    "elective_spells": 300_000,
    "ec_attendances": 800_000,
    "op_appointments": 3_000_000,
    "community_contacts": 2_000_000,
    "social_care_services": 40_000,
}


def fabricate(con, people: int) -> dict[str, int]:
    """Fill schema `linked` with every table analytics reads; rows per table."""
    from openphm import reference

    scale = people / 1_000_000
    n = {k: max(1, int(v * scale)) for k, v in PER_MILLION.items()}
    snomed = sorted({c for name in reference.codelist_names() if not name.startswith("icd10")
                     and name != "ethnicity" for c in reference.codelist(name).code})  # fmt: skip
    icd = sorted({c for name in reference.codelist_names() if name.startswith("icd10")
                  for c in reference.codelist(name).code})  # fmt: skip
    con.execute("CREATE TEMP TABLE list_codes AS SELECT unnest(?) AS code", [snomed])
    con.execute("CREATE TEMP TABLE icd_codes AS SELECT unnest(?) AS code", [icd])
    sql = f"""
    CREATE TABLE linked.people AS SELECT
      lpad(to_hex(i), 64, '0') AS pseudonym,
      CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
      (DATE '1926-01-01' + to_months(CAST(hash(i, 1) % 1200 AS INTEGER)))::DATE AS birth_month,
      NULL::VARCHAR AS ethnicity_code,
      ['White','White','White','Asian','Black','Mixed','Other','Unknown'][CAST(1 + hash(i, 2) % 8 AS BIGINT)]
        AS ethnic_group,
      'E01' || lpad(CAST(i % 600 AS VARCHAR), 6, '0') AS lsoa,
      CAST(1 + (i % 600) % 10 AS INTEGER) AS imd_decile,
      'P' || lpad(CAST(i % 120 AS VARCHAR), 5, '0') AS practice,
      TRUE AS registered,
      CASE WHEN hash(i, 3) % 100 = 0 THEN DATE '{REFERENCE}' - CAST(hash(i, 4) % 700 AS INTEGER)
      END AS date_of_death,
      'nhs-number' AS traced, NULL::VARCHAR AS token
    FROM range({people}) t(i);
    CREATE TABLE linked.registrations AS SELECT pseudonym, practice,
      DATE '2000-01-01' AS start_date, NULL::DATE AS end_date FROM linked.people;
    CREATE TEMP TABLE ids AS SELECT row_number() OVER () - 1 AS k, pseudonym, practice
      FROM linked.people;
    CREATE TEMP TABLE codes AS SELECT row_number() OVER () - 1 AS k, code FROM (
      SELECT code FROM list_codes UNION ALL
      SELECT CAST(100000000 + i AS VARCHAR) FROM range((SELECT 9 * count(*) FROM list_codes)) t(i));
    CREATE TABLE linked.gp_events AS SELECT ids.pseudonym, ids.practice,
      DATE '{REFERENCE}' - CAST(hash(r, 5) % 7300 AS INTEGER) AS event_date,
      codes.code AS snomed_code, NULL::DOUBLE AS value, NULL::VARCHAR AS unit
    FROM range({n["gp_events"]}) t(r)
    JOIN ids ON ids.k = CAST(hash(r, 6) % {people} AS BIGINT)
    JOIN codes ON codes.k = CAST(hash(r, 7) % {len(snomed) * 10} AS BIGINT);
    CREATE TABLE linked.medications AS SELECT ids.pseudonym, ids.practice,
      DATE '{REFERENCE}' - CAST(hash(r, 8) % 730 AS INTEGER) AS issue_date,
      CAST(3000000 + hash(r, 9) % 3000 AS VARCHAR) AS dmd_code, 'drug' AS drug_name,
      28.0 AS quantity
    FROM range({n["medications"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 10) % {people} AS BIGINT);
    CREATE TABLE linked.consultations AS SELECT ids.pseudonym, ids.practice,
      DATE '{REFERENCE}' - CAST(hash(r, 11) % 730 AS INTEGER) AS consultation_date,
      'face to face' AS consultation_type, 'GP' AS staff_role
    FROM range({n["consultations"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 12) % {people} AS BIGINT);
    CREATE TEMP TABLE icd AS SELECT row_number() OVER () - 1 AS k, code FROM (
      SELECT code || 'X' AS code FROM icd_codes UNION ALL
      SELECT 'R' || lpad(CAST(i AS VARCHAR), 3, '0') FROM range(400) t(i));
    CREATE TABLE linked.apc_spells AS
    WITH s AS (
      SELECT r, r < {n["emergency_spells"]} AS emergency,
        DATE '{REFERENCE}' - CAST(hash(r, 13) % 730 AS INTEGER) AS admission_date,
        CAST(hash(r, 14) % 8 AS INTEGER) AS los
      FROM range({n["emergency_spells"] + n["elective_spells"]}) t(r)),
    k AS (SELECT count(*) AS n FROM icd)
    SELECT ids.pseudonym, 'RZ1' AS provider, admission_date,
      admission_date + los AS discharge_date,
      CASE WHEN emergency THEN '21' ELSE '11' END AS admission_method,
      emergency, NOT emergency AS elective, d1.code AS primary_diagnosis,
      [d2.code, d3.code] AS secondary_diagnoses,
      NULL::VARCHAR AS primary_procedure, 'home' AS discharge_destination, los AS bed_days
    FROM s CROSS JOIN k JOIN ids ON ids.k = CAST(hash(r, 18) % {people} AS BIGINT)
    JOIN icd d1 ON d1.k = CAST(hash(r, 15) % k.n AS BIGINT)
    JOIN icd d2 ON d2.k = CAST(hash(r, 16) % k.n AS BIGINT)
    JOIN icd d3 ON d3.k = CAST(hash(r, 17) % k.n AS BIGINT);
    CREATE TABLE linked.ec_attendances AS SELECT ids.pseudonym, 'RZ1' AS provider,
      DATE '{REFERENCE}' - CAST(hash(r, 19) % 730 AS INTEGER) AS arrival_date,
      '01' AS department_type, NULL::VARCHAR AS chief_complaint, NULL::VARCHAR AS diagnosis,
      'home' AS discharge_destination
    FROM range({n["ec_attendances"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 20) % {people} AS BIGINT);
    CREATE TABLE linked.op_appointments AS SELECT ids.pseudonym, 'RZ1' AS provider,
      DATE '{REFERENCE}' - CAST(hash(r, 21) % 730 AS INTEGER) AS appointment_date,
      '100' AS treatment_function_code, hash(r, 22) % 3 = 0 AS first_attendance,
      hash(r, 23) % 10 > 0 AS attended
    FROM range({n["op_appointments"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 24) % {people} AS BIGINT);
    CREATE TABLE linked.community_contacts AS SELECT ids.pseudonym, 'RZ3' AS provider,
      DATE '{REFERENCE}' - CAST(hash(r, 25) % 730 AS INTEGER) AS contact_date,
      'district nursing' AS service, 'face to face' AS contact_type
    FROM range({n["community_contacts"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 26) % {people} AS BIGINT);
    CREATE TABLE linked.social_care_services AS SELECT ids.pseudonym, 'LA001' AS provider,
      DATE '{REFERENCE}' - CAST(hash(r, 27) % 1500 AS INTEGER) AS service_start,
      CASE WHEN hash(r, 28) % 2 = 0 THEN DATE '{REFERENCE}' - CAST(hash(r, 29) % 300 AS INTEGER)
      END AS service_end, 'home care' AS service_type, 'physical support' AS primary_support_reason
    FROM range({n["social_care_services"]}) t(r) JOIN ids ON ids.k = CAST(hash(r, 30) % {people} AS BIGINT);
    CREATE TABLE linked.deaths AS SELECT pseudonym, date_of_death, 'I219' AS underlying_cause,
      'hospital' AS place_of_death FROM linked.people WHERE date_of_death IS NOT NULL;
    """
    con.execute(sql)
    tables = [
        "people",
        "gp_events",
        "medications",
        "consultations",
        "apc_spells",
        "ec_attendances",
        "op_appointments",
        "community_contacts",
        "social_care_services",
    ]
    return {t: con.execute(f"SELECT count(*) FROM linked.{t}").fetchone()[0] for t in tables}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--file", default=":memory:", help="DuckDB file for the zone")
    parser.add_argument("--simulations", type=int, default=10_000)
    args = parser.parse_args()

    from openphm import analytics
    from openphm.engine import connect

    con = connect(threads=args.threads)
    con.execute(f"ATTACH '{args.file}' AS linked")
    started = time.perf_counter()
    rows = fabricate(con, args.people)
    made = time.perf_counter() - started
    print(f"fabricated in {made:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    summary = analytics.build(con, REFERENCE, analytics.AnalyticsOptions(
        sii_simulations=args.simulations))  # fmt: skip
    print(f"analytics for {args.people:,} people on {args.threads} threads:")
    for step, seconds in summary.seconds.items():
        print(f"  {step:<26} {seconds:8.2f} s")
    print(f"  {'total':<26} {summary.total_seconds:8.2f} s")
    print("rows written: " + ", ".join(f"{k} {v:,}" for k, v in summary.rows.items()))


if __name__ == "__main__":
    main()
