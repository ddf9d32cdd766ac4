"""The privacy notice is written from the programme's own configuration, so the two agree."""

from __future__ import annotations

from openphm.governance.notice import privacy_notice
from openphm.programme.config import load_config


def test_the_notice_states_sources_purposes_retention_end_date_and_choices(example_config):
    notice = privacy_notice(load_config(example_config))
    for expected in (
        "Example Valley PHM programme",
        "Example Commissioning Support Unit",
        "hospital admitted patient care",
        "adult social care",
        "quality improvement",
        "service planning",
        "at most 14 days",
        "22 March 2027",
        "Type 1 opt-out",
        "national data opt-out",
        "Example Valley analytics partner",
    ):
        assert expected in notice, expected
    assert "research" not in notice  # not one of this programme's purposes


def test_changing_the_configuration_changes_the_notice(example_config):
    text = example_config.read_text()
    text = text.replace("national_data_opt_out = true", "national_data_opt_out = false")
    text = text.replace("identifiable_retention_days = 14", "identifiable_retention_days = 7")
    example_config.write_text(text)
    notice = privacy_notice(load_config(example_config))
    assert "at most 7 days" in notice
    assert "national data opt-out" not in notice


def test_phm_notice_writes_it_into_the_outputs_zone(cli, workspace):
    result = cli(["notice", workspace.root, "--role", "analyst"])
    assert result.exit_code == 0, result.output
    notice = (workspace.zone("outputs") / "privacy-notice.md").read_text()
    assert "How we use your information" in notice
