"""A hospital provider's user signs in and sees, downloads and can open only its own cohort lists
(served by the practices' pages, whose folder the account names); no practice sees the
provider's list and the provider none of the practices' (403 by URL, audited)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openphm.governance.audit import AuditLog
from openphm.governance.roles import Role
from openphm.web.accounts import AccountError, LocalAccounts

from .helpers import OTHER_LIST, OWN_LIST, PASSWORD, WORDED_LIST, sign_in

TRUST = "RX1"  # the example programme's hospital trust
TRUST_LIST = "seen-and-frail.csv"


@pytest.fixture
def provider_list(web_workspace):
    """TRUST_LIST for RX1 as `phm cohort` writes a provider's list, and a provider account."""
    from openphm.cohorts.build import LIST_FOR, BuiltCohort, _reasons, write_lists
    from openphm.cohorts.definition import CohortDefinition

    definition = CohortDefinition(
        name=TRUST_LIST.removesuffix(".csv"),
        description="Frail people the trust has seen",
        purpose="prevention",
        efi_categories=("moderate", "severe"),
        provider=TRUST,
    )
    members = pd.DataFrame(
        {
            "pseudonym": ["d" * 64, "e" * 64],
            "token": ["RX1-sealed-token-1", "RX1-sealed-token-2"],
            "practice": ["Y10001", "Y10002"],  # registered at two practices, both seen at RX1
            "risk": [0.5, 0.4],
            "risk_percentile": [99.0, 97.0],
            "segment": ["frailty", "frailty"],
            "efi_category": ["moderate", "severe"],
            "met_efi_categories": [True, True],
            "driver_1": ["age", "age"],
            "driver_2": [None, None],
            "driver_3": [None, None],
        }
    )
    members["reasons"] = _reasons(members, definition)
    members[LIST_FOR] = TRUST
    built = BuiltCohort(
        definition, members, dt.date(2026, 10, 31), dt.date(2026, 10, 31), 0,
        dt.date(2025, 11, 1),
    )  # fmt: skip
    paths = write_lists(web_workspace.zone("outputs"), built, web_workspace.config)
    assert list(paths) == [TRUST]  # one list, the provider's, whatever the members' practices
    LocalAccounts(web_workspace.root).add(
        "tess", PASSWORD, Role.PROVIDER, web_workspace.config.programme.controllers, TRUST,
        providers=web_workspace.config.list_providers(),
    )  # fmt: skip
    return paths[TRUST]


def refusals(ws, user: str) -> list:
    return [
        e
        for e in AuditLog(ws.root / "audit").entries()
        if e.user == user and e.action == "cohort.download" and e.outcome == "refused"
    ]


def test_a_provider_sees_and_downloads_only_its_own_lists(client, web_workspace, provider_list):
    assert sign_in(client, "tess").headers["location"] == "/practice/cohorts"
    page = client.get("/practice/cohorts").text
    assert "Cohort lists for RX1" in page and "Frail people the trust has seen" in page
    assert "people your trust has seen" in page and "phm provider reidentify" in page
    assert "people seen at RX1 between 1 November 2025 and 31 October 2026" in page
    for other in (OWN_LIST, OTHER_LIST, WORDED_LIST, "Y10001", "Riverside"):
        assert other not in page
    response = client.get(f"/practice/cohorts/{TRUST_LIST}")
    assert response.status_code == 200
    assert "# Provider: RX1" in response.text and "phm provider reidentify" in response.text
    assert "RX1-sealed-token-2" in response.text


@pytest.mark.parametrize("name", [OWN_LIST, WORDED_LIST, f"../Y10001/{OWN_LIST}"])
def test_a_provider_cannot_open_a_practice_s_list_by_url(
    client, web_workspace, provider_list, name
):
    sign_in(client, "tess")
    response = client.get(f"/practice/cohorts/{name}")
    assert response.status_code in (403, 404)
    assert "Y10001-" not in response.text
    if response.status_code == 403:
        assert refusals(web_workspace, "tess")


def test_no_practice_opens_the_provider_s_list(client, web_workspace, provider_list):
    sign_in(client, "pat")  # Y10001, where one of the list's people is registered
    page = client.get("/practice/cohorts").text
    assert TRUST_LIST not in page and "RX1" not in page
    response = client.get(f"/practice/cohorts/{TRUST_LIST}")
    assert response.status_code == 403 and "RX1-sealed" not in response.text
    assert len(refusals(web_workspace, "pat")) == 1


def test_a_provider_s_pages_are_only_the_lists(client, provider_list):
    sign_in(client, "tess")
    for path in ("/analyst/population", "/dpo", "/dpo/releases"):
        assert client.get(path).status_code == 403


def test_a_provider_user_must_belong_to_one_of_the_programme_s_providers(web_workspace):
    accounts = LocalAccounts(web_workspace.root)
    config = web_workspace.config
    for ods in ("Y10001", "E0801", None):
        with pytest.raises(AccountError, match="provider user needs --ods"):
            accounts.add(
                "tom", PASSWORD, Role.PROVIDER, config.programme.controllers, ods,
                providers=config.list_providers(),
            )  # fmt: skip
    with pytest.raises(AccountError, match="practice user needs --ods"):
        accounts.add(
            "tom", PASSWORD, Role.PRACTICE, config.programme.controllers, TRUST,
            providers=config.list_providers(),
        )  # fmt: skip


def test_a_provider_opens_its_list_in_its_own_words(client, web_workspace, provider_list):
    """The page that opens a list in the browser asks a trust for its provider.key and its
    patient list by `local_patient_id`; a practice's still asks for practice.key and
    `patient_ref`."""
    sign_in(client, "tess")
    page = client.get(f"/practice/open/{TRUST_LIST}").text
    assert "Your trust&#39;s private key" in page and "provider.key" in page
    assert "<code>local_patient_id</code>" in page and "practice.key" not in page
    assert "Provider" in page and "your trust has seen" in page
    assert 'data-organisation="provider"' in page  # the script's words for a trust
    client.get("/sign-out")
    client.cookies.clear()
    sign_in(client, "pat")
    page = client.get(f"/practice/open/{WORDED_LIST}").text
    assert "Your practice&#39;s private key" in page and "practice.key" in page
    assert "<code>patient_ref</code>" in page and "local_patient_id" not in page
    assert 'data-organisation="practice"' in page
