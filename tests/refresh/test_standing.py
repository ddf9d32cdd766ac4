"""The standing cohorts programme.toml names ([cohorts] standing): checked when read, local
definitions copied into the workspace, and loaded (with their purposes checked) before a
refresh starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from openphm.programme.config import ConfigError, parse_config

EXAMPLE_STANDING = 'standing = ["frail-high-risk"]'


def with_standing(example: str, names: str) -> str:
    assert EXAMPLE_STANDING in example
    return example.replace(EXAMPLE_STANDING, f"standing = {names}")


def problems_of(text: str) -> str:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return str(caught.value)


def test_a_standing_cohort_is_a_shipped_name_or_a_file_beside_programme_toml(example_config):
    example = example_config.read_text()
    config = parse_config(with_standing(example, '["frail-high-risk", "mine.toml"]'))
    assert config.cohorts.standing == ["frail-high-risk", "mine.toml"]
    assert parse_config(example.replace(EXAMPLE_STANDING, "")).cohorts.standing == []
    assert "not a path" in problems_of(with_standing(example, '["../x.toml"]'))
    assert "neither a shipped" in problems_of(with_standing(example, '["Frail High"]'))
    assert "listed twice" in problems_of(with_standing(example, '["a", "a"]'))


def test_a_local_definition_is_copied_into_the_workspace_and_a_missing_one_refused(
    tmp_path: Path, example_config: Path, engineer
):
    from openphm.programme.workspace import Workspace, WorkspaceError
    from openphm.refresh.run import standing_cohorts

    text = with_standing(example_config.read_text(), '["frail-high-risk", "older.toml"]')
    example_config.write_text(text)
    with pytest.raises(WorkspaceError, match=r"older\.toml"):
        Workspace.create(tmp_path / "none", example_config, engineer)
    (example_config.parent / "older.toml").write_text(
        'name = "older"\ndescription = "80 and over"\npurpose = "prevention"\nmin_age = 80\n'
    )
    ws = Workspace.create(tmp_path / "ws", example_config, engineer)
    assert (ws.root / "older.toml").is_file()
    assert [d.name for d in standing_cohorts(ws)] == ["frail-high-risk", "older"]


def test_a_definition_for_a_purpose_the_programme_lacks_stops_the_refresh_before_it_starts(
    tmp_path: Path, example_config: Path, engineer
):
    from openphm.cohorts.definition import CohortDefinitionError
    from openphm.programme.workspace import Workspace
    from openphm.refresh.run import refresh

    # prescribing-safety is for safety-monitoring, which the example programme does not have.
    text = example_config.read_text().replace('"frail-high-risk"', '"prescribing-safety"')
    example_config.write_text(text)
    ws = Workspace.create(tmp_path / "ws", example_config, engineer)
    with pytest.raises(CohortDefinitionError, match="safety-monitoring"):
        refresh(ws, engineer)
    assert not (ws.root / "refresh").exists() or not list((ws.root / "refresh").glob("*.json"))
