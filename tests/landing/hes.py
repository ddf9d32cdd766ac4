"""The artificial HES APC sample (shared/data/hes/) given the identifiable flow's fields for the
people of a small synthetic region: each PSEUDO_HESID becomes one person with a valid NHS number
(999 test range), a date of birth in the month MYDOB gives, and a real postcode."""

from __future__ import annotations

import csv
import io
import random
from pathlib import Path

# NHS England's artificial HES APC sample (Open Government Licence v3.0; its README there).
SAMPLE = Path("/work/shared/data/hes/artificial_hes_apc_0102.csv")

HES_SOURCE = """
[[sources]]
kind = "admitted-care"
provider = "X26"
name = "NHS England (HES)"
layout = "hes-apc"
period = "artificial_hes_apc_(?P<fyear>[0-9]{4})"
"""


def nhs_number(serial: int) -> str:
    """A valid NHS number (modulus 11) in the 999 test range."""
    while True:
        body = f"999{serial:06d}"
        total = sum(int(d) * (10 - i) for i, d in enumerate(body))
        check = 11 - total % 11
        if check == 11:
            check = 0
        if check != 10:
            return body + str(check)
        serial += 1


def people(hesids: list[str], seed: int = 21) -> dict[str, tuple[str, str]]:
    """PSEUDO_HESID -> (NHS number, postcode) for a region's people."""
    from openphm.reference import postcode_lsoa

    postcodes = sorted(postcode_lsoa()["postcode"].head(400))
    rng = random.Random(seed)
    out, serial = {}, 100
    for hesid in sorted(set(hesids)):
        number = nhs_number(serial)
        serial = int(number[3:9]) + 1
        out[hesid] = (number, rng.choice(postcodes))
    return out


SPECIAL_DATES = ("1800-01-01", "1801-01-01")  # HES: null, invalid date submitted


def births(header: list[str], body: list[list[str]]) -> dict[str, str]:
    """PSEUDO_HESID -> a date of birth: the first day of the earliest month of birth (MYDOB,
    mmyyyy) on the person's rows, moved back to their earliest admission or episode start
    where the artificial values put it later (they were generated field by field). A person
    whose every MYDOB is HES's null or invalid date keeps it, so DOB carries it too."""
    at = {name: i for i, name in enumerate(header)}
    born: dict[str, str] = {}
    earliest: dict[str, str] = {}
    for row in body:
        who, mydob = row[at["PSEUDO_HESID"]], row[at["MYDOB"]].strip()
        date = f"{mydob[2:]}-{mydob[:2]}-01"
        if date in SPECIAL_DATES:
            born.setdefault(who, date)
        elif born.get(who, "9999") in SPECIAL_DATES or date < born.get(who, "9999"):
            born[who] = date
        for column in ("ADMIDATE", "EPISTART"):
            value = row[at[column]].strip()
            if value and value not in SPECIAL_DATES:
                earliest[who] = min(earliest.get(who, value), value)
    return {
        who: date if date in SPECIAL_DATES else min(date, earliest.get(who, date))
        for who, date in born.items()
    }


def identifiable(text: str | None = None) -> str:
    """The sample with NEWNHSNO, DOB and HOMEADD appended to every row."""
    text = text if text is not None else SAMPLE.read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))
    header, body = rows[0], rows[1:]
    at = {name: i for i, name in enumerate(header)}
    who = people([r[at["PSEUDO_HESID"]] for r in body])
    born = births(header, body)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*header, "NEWNHSNO", "DOB", "HOMEADD"])
    for row in body:
        hesid = row[at["PSEUDO_HESID"]]
        number, postcode = who[hesid]
        writer.writerow([*row, number, born[hesid], postcode])
    return out.getvalue()
