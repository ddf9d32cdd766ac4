"""The programme's clock. Retention and lifecycle decisions read the time here, so tests (and a
data protection officer rehearsing a close) can move the clock with PHM_NOW instead of waiting.
"""

from __future__ import annotations

import datetime as dt
import os


def now() -> dt.datetime:
    """The current time in UTC, or PHM_NOW (ISO 8601) when set."""
    override = os.environ.get("PHM_NOW")
    if override:
        moment = dt.datetime.fromisoformat(override)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return now().date()
