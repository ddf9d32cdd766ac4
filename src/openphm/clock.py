"""The programme's clock: the system clock, and nothing else.

Retention, recipient expiry and the programme's close are decided by the time read here. No
setting, environment variable or option moves it: a clock that a user can set is a way for any
role to destroy the programme (set it past the end date) or to backdate the audit log. Tests
move it through code (`frozen_at`), never through the environment; a data protection officer
who wants to see a close before it is due rehearses it on a copy (`phm schedule rehearse`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator


def _system() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


_source: Callable[[], dt.datetime] = _system


def now() -> dt.datetime:
    """The current time in UTC."""
    return _source()


def today() -> dt.date:
    return now().date()


def as_utc(moment: dt.datetime | str) -> dt.datetime:
    """A moment in UTC; a naive or ISO 8601 moment is read as UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


@contextlib.contextmanager
def frozen_at(moment: dt.datetime | str) -> Iterator[None]:
    """Within the block, the clock reads `moment` (for tests and for a close rehearsed on a
    copy of a workspace: code only, in this process only)."""
    global _source
    fixed = as_utc(moment)
    previous, _source = _source, lambda: fixed
    try:
        yield
    finally:
        _source = previous


def fixed(moment: dt.datetime | str) -> Callable[[], dt.datetime]:
    """A clock that always reads `moment`: what a test puts in place of the system clock."""
    fixed_moment = as_utc(moment)
    return lambda: fixed_moment
