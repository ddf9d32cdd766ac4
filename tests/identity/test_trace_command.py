import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import openphm.cli
from openphm.cli import app

from .people import region

openphm.cli._register()
runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("trace")
    people = region(400, 60, seed=11)
    # The spine in GP flavour B's column names; records in the canonical names.
    spine = people.spine.rename(
        columns={"given_name": "Forename", "family_name": "Surname", "date_of_birth": "DOB"}
    )
    spine["DOB"] = pd.to_datetime(spine["DOB"]).dt.strftime("%d/%m/%Y")
    spine.to_csv(folder / "spine.csv", index=False)
    people.records.to_csv(folder / "records.csv", index=False)
    return folder, people


def plain(output: str) -> str:
    """The output without Rich's box drawing and line wrapping."""
    return " ".join(output.replace("│", " ").split())


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def trace_args(folder, **overrides):
    args = {
        "--against": folder / "spine.csv",
        "--map": "given_name=given_name,family_name=family_name,date_of_birth=date_of_birth,"
        "sex=sex,postcode=postcode",
        "--against-map": "given_name=Forename,family_name=Surname,date_of_birth=DOB,sex=sex,"
        "postcode=postcode",
        "--id": "record_id",
        "--against-id": "spine_id",
        "--out": folder / "pairs.csv",
    } | overrides
    return ["trace", folder / "records.csv", *[x for kv in args.items() for x in kv]]


def test_phm_trace_writes_each_records_best_match_end_to_end(files):
    folder, people = files
    result = run(*trace_args(folder))
    assert result.exit_code == 0, result.output
    pairs = pd.read_csv(folder / "pairs.csv", dtype={"record_id": str, "spine_id": str})
    assert list(pairs.columns) == ["record_id", "spine_id", "match_probability"]
    assert (pairs["match_probability"] >= 0.95).all()
    assert (pairs["spine_id"] == people.truth.loc[pairs["record_id"]].to_numpy()).all()
    assert len(pairs) >= 0.9 * people.truth.notna().sum()
    assert f"{len(pairs)} matched" in result.output
    # By default the threshold is the rule's (expected precision), not a fixed 0.95.
    assert "(chosen for expected precision)" in plain(result.output)
    # The rule's target, 0.999, as printed (1.0000 when every link is all but certain).
    expected = re.search(r"expected precision (\d\.\d{4})", plain(result.output))
    assert expected and float(expected.group(1)) >= 0.999
    # Counts only: no patient's name reaches the screen.
    assert not any(name in result.output.upper() for name in people.spine["family_name"])


def test_a_postcode_column_mapped_by_mistake_is_named_with_its_parse_rate(files):
    folder, _ = files
    wrong = "given_name=given_name,family_name=family_name,date_of_birth=date_of_birth,sex=sex,"
    result = run(*trace_args(folder, **{"--map": wrong + "postcode=family_name"}))
    assert result.exit_code == 0, result.output
    assert "postcode: 0% in UK shape, check --map" in plain(result.output)
    # The spine, mapped right, reads its postcodes.
    assert "spine: postcode" not in plain(result.output)
    assert "Readable in the spine: given_name 100%" in plain(result.output)


def test_phm_trace_report_writes_self_contained_charts_and_a_sample_to_label(files, tmp_path):
    folder, people = files
    result = run(*trace_args(folder, **{"--report": tmp_path / "report"}))
    assert result.exit_code == 0, result.output
    pages = {p.name: p.read_text() for p in (tmp_path / "report").glob("*.html")}
    assert set(pages) == {"index.html", "01-records-match-weights.html", "01-records-m-u.html"}
    for page in pages.values():  # nothing fetched when a page opens
        assert "<script src" not in page and "cdn.jsdelivr" not in page
        # No patient's name: in the page's own part, after any inlined chart library.
        own = page.rsplit("<script>", 1)[-1]
        assert not any(name in own for name in people.spine["family_name"])
    assert "vegaEmbed" in pages["01-records-match-weights.html"]
    assert "Exact match on family_name" in pages["01-records-m-u.html"]
    index = pages["index.html"]
    assert "<svg" in index and "expected precision" in index and "Readable values" in index
    sample = pd.read_csv(tmp_path / "report" / "review_sample.csv", dtype=str)
    assert {"band", "band_pairs", "linked", "record_family_name", "spine_family_name"} <= set(
        sample.columns
    )
    assert sample["label"].isna().all() and len(sample) > 10


def test_phm_trace_review_turns_labels_into_precision_and_recall_and_audits_them(
    files, workspace, tmp_path
):
    folder, people = files
    assert run(*trace_args(folder, **{"--report": tmp_path / "report"})).exit_code == 0
    sample = pd.read_csv(tmp_path / "report" / "review_sample.csv", dtype=str)
    truth = people.truth.reindex(sample["record_id"]).to_numpy()
    sample["label"] = np.where(sample["spine_id"].to_numpy() == truth, "match", "non-match")
    sample.to_csv(tmp_path / "labelled.csv", index=False)

    review = ["trace", "review", tmp_path / "labelled.csv", "--workspace", workspace.root]
    result = run(*review, "--role", "processor-engineer")
    assert result.exit_code == 0, result.output
    assert "Clerical review: precision 1.0000 (95% interval" in plain(result.output)
    entry = [e for e in workspace.audit.entries() if e.action == "identity.review"][-1]
    assert entry.outcome == "ok" and entry.counts["pairs_labelled"] == len(sample)
    assert entry.counts["matches"] == (sample["label"] == "match").sum()
    assert "precision 1.0000" in entry.reason
    refused = run(*review, "--role", "analyst")
    assert refused.exit_code == 2
    assert list(workspace.audit.entries())[-1].outcome == "refused"


def test_phm_trace_review_names_a_bad_count_by_row_without_echoing_the_sample(
    files, workspace, tmp_path
):
    folder, _ = files
    assert run(*trace_args(folder, **{"--report": tmp_path / "report"})).exit_code == 0
    sample = pd.read_csv(tmp_path / "report" / "review_sample.csv", dtype=str)
    sample["label"] = "match"
    name = sample.loc[1, "record_family_name"]
    sample.loc[1, "band_pairs"] = name  # a name pasted into the wrong column
    sample.to_csv(tmp_path / "labelled.csv", index=False)
    result = run("trace", "review", tmp_path / "labelled.csv", "--workspace", workspace.root,
                 "--role", "processor-engineer")  # fmt: skip
    assert result.exit_code == 2
    assert "row 3: band_pairs is not a number" in plain(result.output)
    assert name not in result.output


def test_a_field_may_be_several_columns_joined(files, tmp_path):
    folder, people = files
    split = people.records.assign(
        house=people.records["address"].str.split(" ", n=1).str[0],
        street=people.records["address"].str.split(" ", n=1).str[1],
    ).drop(columns="address")
    split.to_csv(tmp_path / "records.csv", index=False)
    people.records.to_csv(tmp_path / "whole.csv", index=False)
    spine_map = "given_name=Forename,family_name=Surname,date_of_birth=DOB,postcode=postcode,"
    common = ["--against", folder / "spine.csv", "--against-map", spine_map + "address=address",
              "--id", "record_id", "--against-id", "spine_id"]  # fmt: skip
    fields = "given_name=given_name,family_name=family_name,date_of_birth=date_of_birth,"
    fields += "postcode=postcode,"
    joined = run("trace", tmp_path / "records.csv", *common, "--map",
                 fields + "address=house + street", "--out", tmp_path / "joined.csv")  # fmt: skip
    whole = run("trace", tmp_path / "whole.csv", *common, "--map", fields + "address=address",
                "--out", tmp_path / "whole_pairs.csv")  # fmt: skip
    assert joined.exit_code == 0 and whole.exit_code == 0, joined.output + whole.output
    assert "address 100%" in plain(joined.output)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "joined.csv"), pd.read_csv(tmp_path / "whole_pairs.csv")
    )
    missing = run("trace", tmp_path / "records.csv", *common, "--map",
                  fields + "address=house+flat", "--out", tmp_path / "x.csv")  # fmt: skip
    assert missing.exit_code == 2
    assert "has no column 'flat' (for address)" in plain(missing.output)


def test_a_bad_map_is_named(files):
    folder, _ = files
    result = run(*trace_args(folder, **{"--map": "forename=given_name"}))
    assert result.exit_code == 2
    assert "'forename' is not a field tracing uses" in plain(result.output)
    result = run(*trace_args(folder, **{"--map": "given_name"}))
    assert result.exit_code == 2 and "not FIELD=COLUMN" in plain(result.output)


def test_a_missing_column_names_the_file_and_the_column(files):
    folder, _ = files
    result = run(*trace_args(folder, **{"--against-map": "given_name=FirstName"}))
    assert result.exit_code == 2
    assert "spine.csv has no column 'FirstName' (for given_name)" in plain(result.output)


def test_a_missing_file_is_named(files):
    folder, _ = files
    result = run(*trace_args(folder, **{"--against": folder / "nowhere.csv"}))
    assert result.exit_code == 2 and "nowhere.csv" in plain(result.output)


def test_repeated_ids_are_refused(files):
    folder, _ = files
    result = run(*trace_args(folder, **{"--against-id": "sex"}))
    assert result.exit_code == 2 and "blank or repeated ids" in plain(result.output)


def test_without_id_columns_rows_are_numbered_from_one(files):
    folder, _ = files
    args = trace_args(folder)
    for option in ("--id", "--against-id"):
        i = args.index(option)
        del args[i : i + 2]
    assert run(*args).exit_code == 0
    pairs = pd.read_csv(folder / "pairs.csv")
    assert pairs["record_id"].between(1, 60).all() and pairs["spine_id"].between(1, 400).all()


def test_a_workspace_s_files_are_refused_even_through_a_symlink_and_audited(
    files, workspace, tmp_path
):
    folder, _ = files
    inside = workspace.root / "landing" / "trace"
    inside.mkdir(parents=True)
    for name in ("records.csv", "spine.csv"):
        (inside / name).write_bytes((folder / name).read_bytes())
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("records.csv", "spine.csv"):
        (outside / name).symlink_to(inside / name)

    for where in (inside, outside):
        result = run(*trace_args(where, **{"--out": tmp_path / "pairs.csv"}))
        assert result.exit_code == 2, result.output
        assert "is inside the programme workspace" in plain(result.output)
    assert not (tmp_path / "pairs.csv").exists()
    refused = [e for e in workspace.audit.entries() if e.action == "identity.trace"]
    assert [e.outcome for e in refused] == ["refused", "refused"]


def test_pairs_may_not_be_written_into_a_workspace(files, workspace):
    folder, _ = files
    result = run(*trace_args(folder, **{"--out": workspace.root / "outputs" / "pairs.csv"}))
    assert result.exit_code == 2
    assert "is inside the programme workspace" in plain(result.output)
    assert not (workspace.root / "outputs" / "pairs.csv").exists()


@pytest.mark.slow  # a fresh JVM: about 40 s
@pytest.mark.skipif(shutil.which("java") is None, reason="no Java runtime: run `make java`")
def test_phm_trace_on_spark_writes_the_same_pairs_as_on_duckdb(files, tmp_path):
    folder, _ = files
    assert run(*trace_args(folder, **{"--out": tmp_path / "duckdb.csv"})).exit_code == 0
    # Its own process: `phm trace --engine spark` starts and stops a Spark session of its own.
    args = [*trace_args(folder, **{"--out": tmp_path / "spark.csv"}), "--engine", "spark"]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "phm"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    ours, theirs = (
        pd.read_csv(tmp_path / f"{e}.csv", dtype=str).set_index("record_id").sort_index()
        for e in ("duckdb", "spark")
    )
    assert len(ours) > 0 and ours["spine_id"].to_dict() == theirs["spine_id"].to_dict()


def test_a_spine_may_give_each_persons_previous_postcode(files, tmp_path):
    # Records of people who moved, at the postcode they had before: the spine's map names the
    # column that holds it, and a record there counts for its person.
    folder, people = files
    spine = pd.read_csv(folder / "spine.csv", dtype=str)
    known = people.truth.dropna()
    movers = people.records.set_index("record_id").loc[known.index[:20]].reset_index()
    old = [f"WF{i + 1} {i % 9 + 1}ZZ" for i in range(len(movers))]
    before = spine["spine_id"].map(dict(zip(known.iloc[:20].to_numpy(), old, strict=True)))
    spine.assign(Before=before).to_csv(tmp_path / "spine.csv", index=False)
    movers.assign(postcode=old).to_csv(tmp_path / "records.csv", index=False)
    spine_map = "given_name=Forename,family_name=Surname,date_of_birth=DOB,sex=sex,"
    spine_map += "postcode=postcode"
    args = ["trace", tmp_path / "records.csv", "--against", tmp_path / "spine.csv",
            "--map", "given_name=given_name,family_name=family_name,"
            "date_of_birth=date_of_birth,sex=sex,postcode=postcode",
            "--id", "record_id", "--against-id", "spine_id", "--threshold", "0.5"]  # fmt: skip

    def scores(against_map: str, out: str) -> pd.Series:
        result = run(*args, "--against-map", against_map, "--out", tmp_path / out)
        assert result.exit_code == 0, result.output
        pairs = pd.read_csv(tmp_path / out, dtype={"record_id": str, "spine_id": str})
        return pairs.set_index("record_id")["match_probability"]

    with_previous = scores(spine_map + ",previous_postcode=Before", "with.csv")
    without = scores(spine_map, "without.csv")
    ids = movers["record_id"]
    assert (with_previous.reindex(ids).fillna(0) > without.reindex(ids).fillna(0)).all()
    # Only the spine has one: in the records' map it is refused, with the reason.
    refused = run(*trace_args(folder, **{"--map": "postcode=postcode,previous_postcode=postcode"}))
    assert refused.exit_code == 2
    assert "the spine's only" in plain(refused.output)


def test_a_spine_of_one_person_is_a_clear_error_not_a_traceback(files, tmp_path):
    folder, _ = files
    one = pd.read_csv(folder / "spine.csv").head(1)
    one.to_csv(tmp_path / "one.csv", index=False)
    result = run(*trace_args(folder, **{"--against": tmp_path / "one.csv"}))
    assert result.exit_code == 2, result.output
    assert "cannot trace: the spine has one person" in plain(result.output)
    assert "Traceback" not in result.output
