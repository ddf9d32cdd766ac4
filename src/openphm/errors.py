"""The one base class of the errors a person can fix: the command line prints their message
and exits 2 (openphm.console.PhmGroup), the web service shows it as a page. Every stage's own
error that should reach the user as a message, not a traceback, derives from it.

Imports nothing, so any module may raise one without loading the command line's libraries.
"""

from __future__ import annotations


class UserFacingError(RuntimeError):
    """An error whose message tells the user what to fix (a setting, a file, a role, a name)."""
