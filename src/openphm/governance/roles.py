"""Roles and what each may do (docs/promises.md "Roles"), checked before every action.

A refusal is itself audited, so the data protection officer sees attempts as well as actions.
On the command line the person is the operating-system account the command runs as (the kernel
vouches for it; an environment variable would not) and the role is declared (`--role` or
PHM_ROLE) and recorded; the web service authenticates accounts before it grants a role. What
protects data in the end is the key store: a role that is never handed a key cannot read what
the key protects.
"""

from __future__ import annotations

import os
import pwd
import unicodedata
from collections.abc import Callable
from enum import StrEnum

from openphm.errors import UserFacingError
from openphm.governance.audit import Actor, AuditLog


class Role(StrEnum):
    PROCESSOR_ENGINEER = "processor-engineer"
    ANALYST = "analyst"
    OUTPUT_CHECKER = "output-checker"
    PRACTICE = "practice"
    # A hospital provider (trust) that receives cohort lists of its own patients.
    PROVIDER = "provider"
    DATA_PROTECTION_OFFICER = "data-protection-officer"


# Who may check a release request: never its requester (openphm.disclosure.releases).
CHECKERS = frozenset({Role.OUTPUT_CHECKER, Role.DATA_PROTECTION_OFFICER})

# Each action a command can take, and the roles that may take it. An action missing here is
# refused to everyone: new commands must be granted explicitly.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "workspace.init": frozenset({Role.PROCESSOR_ENGINEER}),
    "workspace.status": frozenset(Role),
    "audit.show": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "audit.verify": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "landing.ingest": frozenset({Role.PROCESSOR_ENGINEER}),
    "landing.quarantine": frozenset({Role.PROCESSOR_ENGINEER}),
    "landing.read": frozenset({Role.PROCESSOR_ENGINEER}),
    "landing.retention": frozenset({Role.PROCESSOR_ENGINEER, Role.DATA_PROTECTION_OFFICER}),
    "identity.link": frozenset({Role.PROCESSOR_ENGINEER}),
    # Tracing's quality: the kept models' report, and a clerical review's figures.
    "identity.report": frozenset({Role.PROCESSOR_ENGINEER}),
    "identity.review": frozenset({Role.PROCESSOR_ENGINEER}),
    "practice.register": frozenset({Role.PROCESSOR_ENGINEER}),
    # Replacing a practice's registered key makes the lists already sent unreadable until
    # they are sealed again: the DPO's decision (pseudonymise.practices).
    "practice.replace_key": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # A practice signed in to the web service registers its own first key (its ODS code is its
    # account's), and asks for a replacement, which the DPO then makes (web.practice_keys).
    "practice.register_own": frozenset({Role.PRACTICE}),
    "practice.request_replace": frozenset({Role.PRACTICE}),
    "linked.query": frozenset({Role.ANALYST}),
    "linked.tables": frozenset({Role.ANALYST}),
    "analytics.build": frozenset({Role.ANALYST, Role.PROCESSOR_ENGINEER}),
    "analytics.read": frozenset({Role.ANALYST}),
    "programme.close": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # The scheduled monthly refresh (openphm.refresh, docs/refresh.md) runs as the programme's
    # processor account: ingest and link are authorised as themselves; the analysis stages it
    # runs are the programme's standing, governed definitions (the shipped analytics, the
    # indicator packs, the risk model and the standing cohorts programme.toml names), each
    # audited as taken in this role "by the scheduled refresh". An analyst runs them by hand.
    "programme.refresh": frozenset({Role.PROCESSOR_ENGINEER}),
    # Reading the refreshes' records (`phm refresh --history`, the web's Refreshes page): the
    # processor's engineers, whose job it is, and the DPO, who oversees it. The records hold no
    # patient value; `phm status` shows every role the latest refresh's state.
    "refresh.history": frozenset({Role.PROCESSOR_ENGINEER, Role.DATA_PROTECTION_OFFICER}),
    # The promises time brings (retention, recipient expiry, close): the DPO's scheduled job.
    "schedule.run": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "schedule.rehearse": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "schedule.show": frozenset(Role),
    # Handing key stores and zones to their operating-system accounts (programme/custody.py).
    "custody.assign": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # The web service's local accounts (phm user list|disable|enable|unlock|reset-password):
    # the DPO manages who may sign in.
    "web.user.list": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.user.disable": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.user.enable": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.user.unlock": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.user.reset_password": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # API tokens for Power BI, Tableau and scripts (phm api-token, web.api_tokens): the DPO
    # makes, lists and revokes them; a token reads only approved releases' tables, and only for
    # an account whose role may download releases.
    "web.api_token.create": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.api_token.list": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "web.api_token.revoke": frozenset({Role.DATA_PROTECTION_OFFICER}),
    "release.api_read": frozenset({Role.ANALYST, *CHECKERS}),
    "extract.recipient": frozenset({Role.PROCESSOR_ENGINEER}),
    # Releases (openphm.disclosure.releases): analysts draft and request; output checkers and
    # the DPO check another person's request (the DPO alone grants an exception).
    "release.draft": frozenset({Role.ANALYST}),
    "release.request": frozenset({Role.ANALYST}),
    "release.resubmit": frozenset({Role.ANALYST}),
    "release.review": CHECKERS,
    "release.approve": CHECKERS,
    "release.return": CHECKERS,
    "release.reject": CHECKERS,
    "release.list": frozenset({Role.ANALYST, *CHECKERS}),
    "release.download": frozenset({Role.ANALYST, *CHECKERS}),
    "programme.notice": frozenset(Role),
    # The web service (openphm.web): a practice, or a hospital provider, sees only its own
    # cohort lists (the account says which organisation; web.practice).
    "cohort.inbox": frozenset({Role.PRACTICE, Role.PROVIDER}),
    "cohort.download": frozenset({Role.PRACTICE, Role.PROVIDER}),
    # What the practice did for each person on its list: token and outcome only (cohorts.outcomes).
    "cohort.outcome": frozenset({Role.PRACTICE, Role.PROVIDER}),
    # A hospital provider's key, under the practices' rules (pseudonymise.providers).
    "provider.register": frozenset({Role.PROCESSOR_ENGINEER}),
    "provider.replace_key": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # Retention and destruction status, keys, objections applied: the DPO's status page.
    "governance.status": frozenset({Role.DATA_PROTECTION_OFFICER}),
    # Risk stratification and cohorts (openphm.risk, openphm.cohorts): analysts only.
    "risk.train": frozenset({Role.ANALYST}),
    "risk.score": frozenset({Role.ANALYST}),
    "risk.card": frozenset({Role.ANALYST}),
    "cohort.build": frozenset({Role.ANALYST}),
    "cohort.evaluate": frozenset({Role.ANALYST}),
    # The web service's analyst pages: risk distribution and card; a cohort's size before it
    # is built.
    "risk.read": frozenset({Role.ANALYST}),
    "cohort.preview": frozenset({Role.ANALYST}),
}


class Refused(UserFacingError, PermissionError):
    """The actor's role may not take this action. Already written to the audit log."""


def operating_system_account() -> str:
    """The account this process runs as, from the kernel's effective user id: unlike a login
    name read from the environment (LOGNAME, USER, PHM_USER), nobody can set it by typing."""
    return pwd.getpwuid(os.geteuid()).pw_name


# Where the command line learns who is at the keyboard. Tests that play two people under one
# operating-system account replace it in code (monkeypatch); nothing outside the code can.
identify: Callable[[], str] = operating_system_account


def current_user() -> str:
    """The person at the keyboard: the operating-system account (`identify`)."""
    return identify()


def same_person(a: str, b: str) -> bool:
    """Whether two user names name one person, compared as `identity_key`s."""
    return identity_key(a) == identity_key(b)


def identity_key(name: str) -> str:
    """A user name reduced to what identifies the person: compatibility forms folded (NFKC:
    full-width "ａｎｎ" is "ann"), case folded, surrounding white space and invisible format
    characters (zero-width spaces, direction marks) removed, so " Ann\u200b" is "ann"."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", name).casefold())
    visible = "".join(c for c in folded if unicodedata.category(c) != "Cf")
    return visible.strip()


def current_actor(role: str | None) -> Actor:
    """The person at the keyboard and the role they act in."""
    user = current_user()
    if role is None:
        raise Refused(
            "say which role you act in: --role "
            + "|".join(r.value for r in Role)
            + " (or set PHM_ROLE)"
        )
    try:
        return Actor(user=user, role=Role(role).value)
    except ValueError:
        raise Refused(
            f"{role!r} is not a role; roles are: {', '.join(r.value for r in Role)}"
        ) from None


def authorise(
    audit: AuditLog, actor: Actor, action: str, *, purpose: str | None = None, query: str = ""
) -> None:
    """Allow the action or raise Refused, recording the refusal (with the query refused, if the
    action is one)."""
    allowed = PERMISSIONS.get(action, frozenset())
    if actor.role in allowed:
        return
    reason = f"role {actor.role} may not {action}" + (
        f"; allowed: {', '.join(sorted(allowed))}" if allowed else ""
    )
    audit.record(actor, action, outcome="refused", purpose=purpose, reason=reason, query=query)
    raise Refused(reason)
