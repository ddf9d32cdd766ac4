from typer.testing import CliRunner

import openphm.cli
from openphm.cli import app
from openphm.practice.keys import load_private_key, load_public_key

openphm.cli._register()
runner = CliRunner()


def test_keygen_makes_a_key_pair_and_says_the_private_key_stays_at_the_practice(tmp_path):
    result = runner.invoke(app, ["practice", "keygen", str(tmp_path / "keys")])
    assert result.exit_code == 0, result.output
    private = tmp_path / "keys" / "practice.key"
    assert load_private_key(private).public_key == load_public_key(tmp_path / "keys/practice.pub")
    assert "must never leave the practice" in " ".join(result.output.split())
    assert str(private) in result.output.replace("\n", "")


def test_keygen_refuses_to_replace_a_key_that_opens_issued_tokens(tmp_path):
    runner.invoke(app, ["practice", "keygen", str(tmp_path)])
    result = runner.invoke(app, ["practice", "keygen", str(tmp_path)])
    assert result.exit_code == 2 and "already exists" in result.output
