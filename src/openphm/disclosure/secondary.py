"""Secondary (complementary) suppression: more cells hidden until no hidden cell can be worked
out, or narrowed to less than its protection range (rules.py), by arithmetic on the cells and
totals published beside it.

A table is a list of cells, its totals among them, and equations: each total is the sum of its
members. A reader who knows the equations bounds a hidden cell by linear programming: the least
and the most it can be, with every equation holding, the published cells at their values and
every hidden cell at least 0. That range is the cell's feasible interval.

The published cells enter at their true values, not as the ranges their rounding leaves (±2 when
rounding to 5). Rounding only widens a feasible interval, so a table safe without it is safe with
it; and protection must not rest on rounding noise: a total less its published cells gives the
sum of the hidden ones to within that noise, which can be enough to tell that they are small.

For tables with totals over one or two dimensions (all that `tables.control_table` makes), the
equations are those of a network flow, so the bounds are whole numbers: a reader who knows that
counts are whole can narrow nothing further.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
from scipy.optimize import linprog

Equation = tuple[int, Sequence[int]]  # (total cell, its member cells)


def feasible_interval(
    cell: int, values: np.ndarray, hidden: np.ndarray, equations: Sequence[Equation]
) -> tuple[float, float]:
    """The least and most a hidden `cell` can be, given every published cell (at its value)
    and the equations; the upper end is inf when nothing bounds it."""
    component = _component(cell, hidden, equations)
    position = {c: k for k, c in enumerate(component)}
    rows, rhs = [], []
    for total, members in equations:
        terms = [(total, 1.0), *((m, -1.0) for m in members)]
        if not any(c in position for c, _ in terms):
            continue
        row = np.zeros(len(component))
        constant = 0.0
        for c, sign in terms:
            if hidden[c]:
                row[position[c]] += sign
            else:
                constant -= sign * float(values[c])
        rows.append(row)
        rhs.append(constant)
    if not rows:
        return 0.0, np.inf
    objective = np.zeros(len(component))
    objective[position[cell]] = 1.0
    bounds = [(0, None)] * len(component)
    ends = []
    for sign in (1.0, -1.0):
        found = linprog(sign * objective, A_eq=np.array(rows), b_eq=rhs, bounds=bounds)
        if found.status == 3:  # unbounded: only the maximum can be
            ends.append(np.inf)
        elif found.status == 0:
            ends.append(sign * found.fun)
        else:  # the true values always satisfy the equations
            raise RuntimeError(f"feasible interval of cell {cell}: {found.message}")
    return max(ends[0], 0.0), ends[1]


def protect(
    values: np.ndarray,
    hidden: np.ndarray,
    equations: Sequence[Equation],
    is_safe: Callable[[int, float, float], bool],
) -> tuple[np.ndarray, dict[int, int]]:
    """Hide more cells until `is_safe(cell, low, high)` holds for every hidden cell's feasible
    interval. Returns the new hidden mask and, for each cell added, the cell it protects.

    One cell at a time, for the first exposed hidden cell (`_partner` says which). Hiding a
    cell only widens every other hidden cell's interval, so a cell found safe stays safe, and
    hiding every cell of an equation leaves each unbounded: the loop ends."""
    hidden = hidden.copy()
    added: dict[int, int] = {}
    safe: set[int] = set()
    while True:
        for cell in map(int, np.flatnonzero(hidden)):
            if cell in safe:
                continue
            # Alone in an equation, a cell is that equation's difference: no need to solve.
            alone = any(
                cell in (total, *members) and sum(hidden[c] for c in (total, *members)) == 1
                for total, members in equations
            )
            if not alone and is_safe(cell, *feasible_interval(cell, values, hidden, equations)):
                safe.add(cell)
                continue
            partner = _partner(cell, values, hidden, equations)
            hidden[partner] = True
            added[partner] = cell
            break
        else:
            return hidden, added


def _partner(
    cell: int, values: np.ndarray, hidden: np.ndarray, equations: Sequence[Equation]
) -> int:
    """The published cell to hide next for an exposed `cell`. An equation with one hidden cell
    gives that cell away, so first the cell that mends the most such equations in `cell`'s
    component (closing a rectangle in a two-way table), else one beside `cell`; then the
    smallest value, zeros last (a hidden 0 widens little, and a reader who knows partners are
    seldom 0 would guess it), then the earlier cell."""
    component = set(_component(cell, hidden, equations))
    groups = [{total, *members} for total, members in equations]
    touching = [g for g in groups if g & component]
    mends = Counter(
        c for g in touching if sum(hidden[c] for c in g) == 1 for c in g if not hidden[c]
    )
    near = set(mends) or (
        {c for g in touching if cell in g for c in g if not hidden[c]}
        or {c for g in touching for c in g if not hidden[c]}
    )
    if not near:  # cannot happen: a component whose equations are all hidden is unbounded
        raise RuntimeError(f"cell {cell} is exposed but no published cell is beside it")
    return min(near, key=lambda c: (-mends[c], values[c] == 0, values[c], c))


def _component(cell: int, hidden: np.ndarray, equations: Sequence[Equation]) -> list[int]:
    """The hidden cells linked to `cell` through equations that hold hidden cells."""
    groups = [[c for c in (total, *members) if hidden[c]] for total, members in equations]
    found, frontier = {cell}, [cell]
    while frontier:
        current = frontier.pop()
        for group in groups:
            if current in group:
                new = [c for c in group if c not in found]
                found.update(new)
                frontier.extend(new)
    return sorted(found)
