"""Page views, summarised in the audit log: one `web.view` entry per person, page and hour.

A data protection officer needs to know who looked at which figures and when, not every
refresh: one entry per view buried the actions that matter (a query, a release, a refusal) among
hundreds of near-copies. So a signed-in user's views of a page are folded (web.folding): the
first view after a quiet hour is written at once, so a kill never hides that someone looked; the
views after it in that hour are counted and written as one entry once the hour has passed (at
the next view by anyone, by the app's sweep, or at shutdown). Each entry names the page by its
route (fixed text, never the caller's URL) and what the page reads, and counts the views it
stands for.

Only views are folded. Everything else stays one entry each: refusals, queries (with their
text), drafts, release steps and downloads, cohort builds and downloads, the close.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from openphm.governance.audit import Actor, AuditLog
from openphm.web.folding import FoldedAudit

VIEW_SUMMARY_SECONDS = 3600
VIEW = "web.view"


class PageViews(FoldedAudit):
    """Signed-in users' page views, folded per person, role, page and what the page reads."""

    def __init__(
        self,
        audit: AuditLog,
        *,
        interval: float = VIEW_SUMMARY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(audit, interval=interval, clock=clock)

    def viewed(self, actor: Actor, page: str, reads: tuple[str, ...] = ()) -> None:
        self._count((actor.user, actor.role, page, tuple(reads)))

    def _entry(self, key: tuple[str, str, str, tuple[str, ...]], count: int) -> None:
        user, role, page, reads = key
        self.audit.record(
            Actor(user, role),
            VIEW,
            reads=reads,
            counts={"views": count},
            reason=f"page {page} (views since this person's last entry for it; at most one "
            f"entry every {self.interval / 60:g} minutes after the first view)",
        )
