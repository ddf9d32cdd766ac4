"""The indicator packs OpenPHM ships, by the name programme.toml chooses them with."""

from __future__ import annotations

from openphm.console import UserFacingError
from openphm.indicators import care, hospital, pincer
from openphm.indicators.definitions import Pack


class PackError(UserFacingError):
    """A pack programme.toml names that cannot be used; the message says what to change."""


PACKS: dict[str, Pack] = {
    p.name: p for p in (pincer.PACK, care.CARE_GAPS_PACK, care.CASE_FINDING_PACK, hospital.PACK)
}
