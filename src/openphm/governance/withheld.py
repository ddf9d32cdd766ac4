"""What `phm link` kept in the landing zone because a sensitive list names a code of it
(openphm.pseudonymise.sensitive), as the data protection officer sees it: records per list and
source kind, summed over the links in the audit log. Reads the audit log; writes nothing.

Counts only, never a row or a code of a person: the link recorded `sensitive.<list>.<source
kind>` (records on that list) and `sensitive_withheld.<source kind>` (records, each once).
A resubmitted file's records are withheld, and counted, again when it is linked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LINK = "identity.link"
PER_LIST = "sensitive."
RECORDS = "sensitive_withheld."


@dataclass
class Withheld:
    per_list: Counter = field(default_factory=Counter)  # (list, source kind) -> records
    records: Counter = field(default_factory=Counter)  # source kind -> records
    reason: str = ""  # the latest link's note of default lists turned off, with its reason

    def rows(self) -> list[list[str]]:
        """[list, source kind, records] in list order, then source kind, for a table."""
        return [[name, kind, f"{n:,}"] for (name, kind), n in sorted(self.per_list.items())]

    def as_dict(self) -> dict:
        lists: dict[str, dict[str, int]] = {}
        for (name, kind), n in sorted(self.per_list.items()):
            lists.setdefault(name, {})[kind] = n
        return {"per_list": lists, "records": dict(sorted(self.records.items())),
                "lists_off": self.reason}  # fmt: skip


def withheld(audit) -> Withheld:
    """The sum over every successful link of the records each withheld."""
    out = Withheld()
    for entry in audit.entries():
        if entry.action != LINK or entry.outcome != "ok":
            continue
        for name, value in entry.counts.items():
            if name.startswith(PER_LIST):
                listed, _, kind = name.removeprefix(PER_LIST).rpartition(".")
                out.per_list[(listed, kind)] += value
            elif name.startswith(RECORDS):
                out.records[name.removeprefix(RECORDS)] += value
        out.reason = entry.reason
    return out
