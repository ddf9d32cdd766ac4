"""Disclosure control as the web's pages apply it, worked out once per table and kept.

A page view publishes a built table (figures per group, indicator counts per practice) under
the programme's disclosure rules (openphm.disclosure). Secondary suppression proves for every
hidden cell that no published total narrows it, with a linear programme per cell: at a million
people that was most of a page's time (0.4 s of the activity page's 0.48 s, 80 programmes per
view). The same cells under the same rules publish the same table, so the result is kept for
the life of the process, keyed by a digest of the cells, the column types and every argument
(the rules included): a rebuilt table or a changed rule is a different key, and a page never
shows a table controlled for other cells. Viewers get a copy (a page must not change what the
next one is shown). Nothing here holds anything but published aggregates' inputs, which are
the built tables' counts already in the process.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable

import pandas as pd

from openphm.disclosure import tables

KEPT = 256  # controlled tables kept per process (each a few hundred rows at most)

_kept: OrderedDict[str, tables.ControlledTable] = OrderedDict()
_lock = threading.Lock()


def control_table(cells: pd.DataFrame, **arguments) -> tables.ControlledTable:
    """`disclosure.control_table(cells, **arguments)`, worked out once for the same input."""
    return _once(tables.control_table, cells, arguments)


def control_areas(cells: pd.DataFrame, **arguments) -> tables.ControlledTable:
    """`disclosure.control_areas(cells, **arguments)`, worked out once for the same input."""
    return _once(tables.control_areas, cells, arguments)


def _once(control: Callable[..., tables.ControlledTable], cells: pd.DataFrame,
          arguments: dict) -> tables.ControlledTable:  # fmt: skip
    key = _digest(control.__name__, cells, arguments)
    with _lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return copy.deepcopy(found)
    made = control(cells, **arguments)
    with _lock:
        _kept[key] = copy.deepcopy(made)
        while len(_kept) > KEPT:
            _kept.popitem(last=False)
    return made


def _digest(name: str, cells: pd.DataFrame, arguments: dict) -> str:
    """A digest of everything the result depends on: the cells (values, row labels, column
    names and types) and the arguments (rules, groups, levels: plain values and dataclasses,
    whose repr says every field)."""
    h = hashlib.sha256(name.encode())
    h.update(repr([(str(c), str(t)) for c, t in cells.dtypes.items()]).encode())
    h.update(pd.util.hash_pandas_object(cells, index=True).to_numpy().tobytes())
    h.update(repr(sorted(arguments.items())).encode())
    return h.hexdigest()
