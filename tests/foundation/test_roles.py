"""Roles: a role may do only what shared/DESIGN.md lets it, and every refusal is audited."""

from __future__ import annotations

import os
import pwd

import pytest

from openphm.governance.roles import Refused, current_actor, same_person


def test_an_analyst_may_not_read_the_audit_log_and_the_refusal_is_recorded(workspace, analyst):
    with pytest.raises(Refused, match=r"analyst may not audit\.show"):
        workspace.authorise(analyst, "audit.show")
    last = list(workspace.audit.entries())[-1]
    assert (last.action, last.outcome, last.user) == ("audit.show", "refused", "test-analyst")


def test_an_action_nobody_was_granted_is_refused_to_everyone(workspace, dpo):
    with pytest.raises(Refused):
        workspace.authorise(dpo, "something.new")


def test_the_data_protection_officer_may_verify_the_audit_log(workspace, dpo):
    workspace.authorise(dpo, "audit.verify")


def test_a_role_must_be_declared_and_real():
    with pytest.raises(Refused, match="say which role"):
        current_actor(None)
    with pytest.raises(Refused, match="not a role"):
        current_actor("superuser")


def test_the_person_is_the_operating_system_account_whatever_the_environment_says(monkeypatch):
    monkeypatch.setenv("PHM_USER", "carol")
    monkeypatch.setenv("USER", "carol")
    monkeypatch.setenv("LOGNAME", "carol")
    assert current_actor("analyst").user == pwd.getpwuid(os.geteuid()).pw_name


@pytest.mark.parametrize(
    "disguised", [" ann", "ann ", "ANN", "Ann", "\uff41\uff4e\uff4e", "ann\u200b", "\u200dann\t"]
)
def test_one_person_is_one_identity_however_the_name_is_typed(disguised):
    assert same_person("ann", disguised)
    assert not same_person("ann", "anne")
