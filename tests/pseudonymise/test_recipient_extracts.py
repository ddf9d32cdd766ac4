"""Recipient extracts: only the recipient's fields, its own pseudonyms, k-anonymous, no
identifier, and none at all once its access has expired."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from openphm import clock
from openphm.governance.audit import Actor
from openphm.governance.roles import Refused
from openphm.governance.schedule import keep_promises
from openphm.keystore import KeyName
from openphm.pseudonymise.extracts import ExtractError, make_extract

from .region import CANARIES, ENGINEER, copy_workspace

DPO = Actor("test-dpo", "data-protection-officer")


@pytest.fixture
def extracted(linked_region, tmp_path):
    ws = copy_workspace(linked_region, tmp_path / "ws")
    recipient = ws.config.recipients[0]
    return ws, recipient, make_extract(ws, ENGINEER, recipient.name)


def test_the_extract_holds_only_the_recipients_field_groups(extracted):
    _, recipient, made = extracted
    files = sorted(p.name for p in made.folder.glob("*.csv"))
    expected = sorted(["people.csv", *(f"{g.replace(' ', '-')}.csv" for g in recipient.fields)])
    assert files == expected
    people = pd.read_csv(made.folder / "people.csv")
    assert list(people.columns) == ["person", "sex", "age_band", "ethnic_group", "imd_quintile"]


def test_every_combination_of_quasi_identifiers_is_shared_by_at_least_k_people(extracted):
    ws, _, made = extracted
    people = pd.read_csv(made.folder / "people.csv", dtype=str)
    sizes = people.groupby(["sex", "age_band", "ethnic_group", "imd_quintile"]).size()
    assert sizes.min() >= ws.config.disclosure.k_anonymity
    assert made.manifest["k_anonymity"]["smallest_group"] == sizes.min()


def test_recipient_pseudonyms_cannot_be_joined_to_the_linked_zone(extracted):
    ws, _, made = extracted
    people = pd.read_csv(made.folder / "people.csv", dtype=str)
    con = ws.connect_linked(read_only=True)
    linked = {p for (p,) in con.execute("SELECT pseudonym FROM linked.people").fetchall()}
    con.close()
    assert not set(people["person"]) & linked


def test_no_identifier_appears_in_any_extract_file(extracted):
    _, _, made = extracted
    text = "".join(p.read_text().lower() for p in made.folder.iterdir())
    for name, value in CANARIES.items():
        assert value.lower() not in text, name


def test_two_extracts_for_the_same_recipient_use_the_same_pseudonyms(extracted):
    ws, recipient, made = extracted
    again = make_extract(ws, ENGINEER, recipient.name)
    first = set(pd.read_csv(made.folder / "people.csv")["person"])
    assert first == set(pd.read_csv(again.folder / "people.csv")["person"])


def test_after_expiry_the_recipients_key_is_destroyed_and_extracts_refused(extracted, monkeypatch):
    from openphm.programme.workspace import Workspace

    ws, recipient, _ = extracted
    # Access that ends before the programme does (after the end, close destroys every key).
    config = ws.root / "programme.toml"
    expires = ws.config.programme.end_date - dt.timedelta(days=30)
    config.write_text(config.read_text().replace(str(recipient.expires), str(expires)))
    monkeypatch.setattr(clock, "_source", clock.fixed(f"{expires + dt.timedelta(days=1)}T09:00:00"))
    reopened = Workspace.open(ws.root)
    # Expired but not yet destroyed: refused all the same, and opening destroyed nothing.
    assert reopened.keystore.has(KeyName.recipient(recipient.slug))
    with pytest.raises(ExtractError, match="expired"):
        make_extract(reopened, ENGINEER, recipient.name)
    keep_promises(reopened, DPO)  # the DPO's scheduled job
    assert not reopened.closed
    assert KeyName.recipient(recipient.slug) in reopened.keystore.destroyed()
    with pytest.raises(ExtractError, match="expired"):
        make_extract(reopened, ENGINEER, recipient.name)
    assert "recipient.expire" in [e.action for e in reopened.audit.entries()]


def test_an_unknown_recipient_is_refused(extracted):
    ws, _, _ = extracted
    with pytest.raises(ExtractError, match="not one of the programme's recipients"):
        make_extract(ws, ENGINEER, "Somebody else")


def test_an_analyst_cannot_make_an_extract(extracted, analyst):
    ws, recipient, _ = extracted
    with pytest.raises(Refused):
        make_extract(ws, analyst, recipient.name)


def test_the_extract_holds_the_registered_population_on_its_day(extracted):
    """Who is in an extract is zone 3's one registered population (openphm.linked.population),
    as analytics and the web count it, recounted here by hand: a registration open at the end
    of the day, alive at its end, born by it. Not everyone alive: people who left their
    practice are not the programme's to send."""
    ws, _, made = extracted
    day = clock.today()
    con = ws.connect_linked(read_only=True)
    try:
        alive, registered = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE birth_month <= $day AND EXISTS (SELECT 1 "
            "FROM linked.registrations r WHERE r.pseudonym = p.pseudonym AND r.start_date <= "
            "$day AND (r.end_date IS NULL OR r.end_date > $day))) FROM linked.people p "
            "WHERE date_of_death IS NULL OR date_of_death > $day",
            {"day": day},
        ).fetchone()
    finally:
        con.close()
    people = pd.read_csv(made.folder / "people.csv")
    assert len(people) + made.manifest["k_anonymity"]["people_suppressed"] == registered
    assert registered < alive  # the region has people who left: the rule is tested
