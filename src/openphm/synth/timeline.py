"""The region's calendar: its end date, the history window before it, and the two extract
periods (baseline and monthly) that split it. Pure date arithmetic; writes test data only."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

DEFAULT_END = dt.date(2026, 10, 31)
# A day number far beyond any region's end: "no such date" in integer day arrays.
NEVER = np.int32(np.iinfo(np.int32).max)


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later (earlier if negative), clipped to the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    first_next = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    return dt.date(year, month + 1, min(day.day, (first_next - dt.timedelta(days=1)).day))


def day_number(day: dt.date) -> int:
    """Days since 1970-01-01, the integer form every date array in the generator uses."""
    return (day - dt.date(1970, 1, 1)).days


@dataclass(frozen=True)
class Timeline:
    end: dt.date
    months: int

    @property
    def start(self) -> dt.date:
        """First day of the history window: the first of the month, `months` months back."""
        return add_months(self.end.replace(day=1), -(self.months - 1))

    @property
    def monthly_start(self) -> dt.date:
        return self.end.replace(day=1)

    @property
    def baseline_end(self) -> dt.date:
        return self.monthly_start - dt.timedelta(days=1)

    @property
    def baseline_period(self) -> str:
        return self.baseline_end.strftime("%Y%m")

    @property
    def monthly_period(self) -> str:
        return self.end.strftime("%Y%m")

    @property
    def risk_index_dates(self) -> tuple[dt.date, dt.date]:
        """The two dates the true risk is given from: 12 months before the end, and the end."""
        return add_months(self.end, -12), self.end

    def years(self) -> list[tuple[dt.date, dt.date]]:
        """12-month spans (start exclusive, end inclusive) ending at the end date, oldest first,
        reaching back one year before the window (a burn-in year that gives the first year its
        prior use) and clipped to it."""
        spans = []
        stop = self.end
        while stop >= self.start:
            spans.append((add_months(stop, -12), stop))
            stop = add_months(stop, -12)
        spans.append((add_months(stop, -12), stop))
        return spans[::-1]
