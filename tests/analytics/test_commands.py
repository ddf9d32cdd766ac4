"""phm analyse and phm measures on a real (encrypted) workspace: aggregates out, counts into
the audit log, never a person's row."""

import datetime as dt
import json

import pytest

from .linked import REFERENCE, fill, person, population


@pytest.mark.slow  # about 40 s: a real encrypted workspace and every grouping
def test_analyse_then_measures_prints_aggregates_and_audits_counts(cli, workspace):
    con = workspace.connect_linked()
    people = [person(f"p{i}", age=20 + i, imd_decile=1 + i % 10) for i in range(30)]
    fill(con, **population(*people))
    con.close()
    result = cli(["analyse", workspace.root, "--reference-date", REFERENCE.isoformat(),
                  "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "measures" in result.output and "p1" not in result.output
    listed = cli(["measures", workspace.root, "--role", "analyst"])
    assert listed.exit_code == 0, listed.output
    assert "Measures, 2025-04-01 to 2026-03-31" in listed.output and "mortality" in listed.output
    core20 = cli(["measures", workspace.root, "--measure", "mortality", "--role", "analyst"])
    assert "Core20" in core20.output
    entries = [
        json.loads(line)
        for line in (workspace.root / "audit" / "audit.jsonl").read_text().splitlines()
    ]
    built = [e for e in entries if e.get("writes") and "linked.measures" in e["writes"]]
    assert built and all(isinstance(v, int) for v in built[-1]["counts"].values())


def test_a_practice_may_not_run_analytics(cli, workspace):
    result = cli(["analyse", workspace.root, "--role", "practice"])
    assert result.exit_code == 2


def test_an_unknown_engine_is_named_and_nothing_is_built(cli, workspace):
    result = cli(["analyse", workspace.root, "--engine", "postgres", "--role", "analyst"])
    assert result.exit_code == 2
    assert "'postgres' is not an engine; choose one of duckdb, spark" in result.output
    con = workspace.connect_linked(read_only=True)
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    con.close()
    assert "measures" not in tables


def analysed_three_people(cli, workspace):
    """Three people p0-p2 in the zone, analysed as `phm analyse` does; the zone's folder and
    data key, for a Parquet copy."""
    from openphm.keystore import KeyName

    con = workspace.connect_linked()
    fill(con, **population(*[person(f"p{i}", age=70) for i in range(3)]))
    con.close()
    built = cli(["analyse", workspace.root, "--reference-date", REFERENCE.isoformat(),
                 "--role", "analyst"])  # fmt: skip
    assert built.exit_code == 0, built.output
    return workspace.zone("linked"), workspace.keystore.get(KeyName.LINKED_DATA)


def test_an_objection_applied_while_spark_builds_is_not_undone_by_the_copy_back(cli, workspace):
    from openphm.analytics.stage import objections
    from openphm.engine import export_linked, import_linked
    from openphm.keystore import KeyName

    folder, key = analysed_three_people(cli, workspace)
    export_linked(folder, KeyName.LINKED_DATA, key)  # the copy Spark would build from
    con = workspace.connect_linked()  # meanwhile, phm link applies an objection from p1
    con.execute("CREATE TABLE linked._objectors (pseudonym VARCHAR, person VARCHAR)")
    con.execute("INSERT INTO linked._objectors VALUES ('p1', 'p1')")
    con.execute("DELETE FROM linked.person_scores WHERE pseudonym = 'p1'")
    con.close()
    import_linked(folder, KeyName.LINKED_DATA, key, ["person_scores"], before_commit=objections)
    con = workspace.connect_linked(read_only=True)
    left = {r[0] for r in con.execute("SELECT pseudonym FROM linked.person_scores").fetchall()}
    con.close()
    assert left == {"p0", "p2"}


def test_a_link_while_spark_builds_stops_the_copy_back_and_keeps_the_zones_tables(cli, workspace):
    """Rows linked (or re-keyed, or removed) in the zone file after the Parquet copy was taken:
    the tables built from the copy describe a population the zone no longer holds, so nothing
    is brought back and the zone keeps its own analytics."""
    from openphm.analytics.runs import ZoneChangedError, inputs_fingerprint
    from openphm.analytics.stage import copy_back_check
    from openphm.engine import export_linked, import_linked
    from openphm.keystore import KeyName

    folder, key = analysed_three_people(cli, workspace)
    con = workspace.connect_linked(read_only=True)
    copied = inputs_fingerprint(con, "linked")
    con.close()
    export_linked(folder, KeyName.LINKED_DATA, key)  # the copy Spark would build from
    check = copy_back_check()  # as Spark.building runs it: with the fingerprint it took

    def guard(con):
        check(con, copied)

    # Unchanged since the copy: the tables come back.
    import_linked(folder, KeyName.LINKED_DATA, key, ["person_scores"], before_commit=guard)
    con = workspace.connect_linked()  # meanwhile, phm link re-keys p1's registration
    con.execute("UPDATE linked.registrations SET pseudonym = 'p1-new' WHERE pseudonym = 'p1'")
    con.execute("DELETE FROM linked.person_scores WHERE pseudonym = 'p2'")  # a mark to find
    con.close()
    with pytest.raises(ZoneChangedError, match="run phm analyse again"):
        import_linked(folder, KeyName.LINKED_DATA, key, ["person_scores"], before_commit=guard)
    con = workspace.connect_linked(read_only=True)
    left = {r[0] for r in con.execute("SELECT pseudonym FROM linked.person_scores").fetchall()}
    con.close()
    assert left == {"p0", "p1"}  # the zone's own table, not the copy's


def three_people_seen_to(workspace, last_visit):
    """Three people with GP consultations, the latest on `last_visit`."""
    con = workspace.connect_linked()
    visits = [{"pseudonym": "p0", "consultation_date": REFERENCE.replace(day=2)},
              {"pseudonym": "p1", "consultation_date": last_visit}]  # fmt: skip
    fill(con, **population(*[person(f"p{i}", age=70) for i in range(3)]), consultations=visits)
    con.close()


def test_analyse_defaults_to_the_end_of_the_last_complete_month_of_data(cli, workspace):
    from openphm import clock

    # Data to 12 May 2026, run on 6 December: the default is 30 April, not today.
    three_people_seen_to(workspace, dt.date(2026, 5, 12))
    with clock.frozen_at("2026-12-06T09:00:00"):
        result = cli(["analyse", workspace.root, "--role", "analyst"])
    assert result.exit_code == 0, result.output
    assert "as at 2026-04-30 (data to 2026-05-12)" in " ".join(result.output.split())
    assert "Warning" not in result.output
    con = workspace.connect_linked(read_only=True)
    runs = con.execute("SELECT reference_date, data_end FROM linked.analytics_runs").fetchone()
    con.close()
    assert runs == (dt.date(2026, 4, 30), dt.date(2026, 5, 12))
    listed = cli(["measures", workspace.root, "--role", "analyst"])
    assert "Data to 2026-05-12" in listed.output
    as_json = json.loads(cli(["measures", workspace.root, "--json", "--role", "analyst"]).output)
    assert as_json["data_end"] == "2026-05-12"
    # Each listing is one entry (analytics.stage.measures_built): what it read, a count of rows.
    con = workspace.connect_linked(read_only=True)
    rows = con.execute("SELECT count(*) FROM linked.measures").fetchone()[0]
    con.close()
    read = [e for e in workspace.audit.entries() if e.action == "analytics.read"]
    assert [(e.user, e.outcome, e.reads, dict(e.counts)) for e in read] == [
        (read[0].user, "ok", ("linked.measures",), {"rows": rows})
    ] * 2
    mortality = [m for m in as_json["measures"] if m["measure"] == "mortality"]
    assert {m["statistic"] for m in mortality} == {"crude", "dsr"}
    # three people all aged 70: every other band is empty, so no DSR, and the row says why
    dsr = next(m for m in mortality if m["statistic"] == "dsr")
    assert dsr["value"] is None and dsr["flag"].startswith("not standardised: 18 age band(s)")


def test_analyse_at_a_date_past_the_data_warns_how_much_of_the_window_has_none(cli, workspace):
    from openphm import clock

    # Data to 31 October 2026, asked for 6 December: of the 365 days from 7 December 2025,
    # 1 November to 6 December (36 days, 9.9%) have no data.
    three_people_seen_to(workspace, dt.date(2026, 10, 31))
    with clock.frozen_at("2026-12-06T09:00:00"):
        result = cli(["analyse", workspace.root, "--reference-date", "2026-12-06",
                      "--role", "analyst"])  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "Warning: the reference date 2026-12-06 is after the data's end 2026-10-31" in said
    assert "36 of the window's 365 days (9.9%) have no data" in said


def test_phm_analyse_keeps_measure_history_across_rebuilds_of_the_zone(cli, workspace):
    """On a real encrypted workspace, through the engine's building (which drops the build's
    record and rewrites the analytics tables): an earlier date's measures survive a build at a
    later date and a rebuild at the later date replaces only its own."""
    con = workspace.connect_linked()
    fill(con, **population(*[person(f"p{i}", age=70) for i in range(3)]))
    con.close()
    earlier = dt.date(2026, 2, 28)

    def analyse(day):
        result = cli(["analyse", workspace.root, "--reference-date", day.isoformat(),
                      "--role", "analyst"])  # fmt: skip
        assert result.exit_code == 0, result.output

    def kept():
        con = workspace.connect_linked(read_only=True)
        try:
            return dict(
                con.execute(
                    "SELECT reference_date, count(*) FROM linked.measure_history GROUP BY 1"
                ).fetchall()
            )
        finally:
            con.close()

    analyse(earlier)
    first = kept()
    analyse(REFERENCE)
    both = kept()
    assert set(both) == {earlier, REFERENCE} and both[earlier] == first[earlier]
    analyse(REFERENCE)
    assert kept() == both
