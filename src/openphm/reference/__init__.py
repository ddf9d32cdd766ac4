"""Reference data shipped with OpenPHM: code lists, deprivation, standard population, and the
synthetic region's postcode lookup.

Read-only, and identical in every zone: nothing here identifies anyone. Each loader returns a
fresh DataFrame with codes as strings (a SNOMED CT id or an ICD-10 code is a label, not a number).
Origins and licences are in README.md beside these files.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

import pandas as pd

_CODELISTS = "codelists"


def _read(name: str, **kwargs) -> pd.DataFrame:
    with resources.files(__name__).joinpath(name).open("rb") as handle:
        return pd.read_csv(handle, **kwargs)


@cache
def _codelist(name: str) -> pd.DataFrame:
    try:
        return _read(f"{_CODELISTS}/{name}.csv", dtype=str)
    except FileNotFoundError:
        raise KeyError(
            f"no code list {name!r}; known lists: {', '.join(codelist_names())}"
        ) from None


def codelist_names() -> list[str]:
    """Names `codelist` accepts: `qof-<cluster>` (SNOMED CT), `icd10-<condition>`, `ethnicity`."""
    folder = resources.files(__name__).joinpath(_CODELISTS)
    return sorted(p.name.removesuffix(".csv") for p in folder.iterdir() if p.name.endswith(".csv"))


def codelist(name: str) -> pd.DataFrame:
    """A code list by name, e.g. `codelist("qof-hyp")`: columns code, term (ethnicity also has
    grouping_16_id and grouping_6_id)."""
    return _codelist(name).copy()


@cache
def _imd2019() -> pd.DataFrame:
    return _read("imd2019.csv", dtype={"lsoa_code": str, "la_code": str})


def imd2019() -> pd.DataFrame:
    """English IMD 2019 for every 2011 LSOA: lsoa_code, lsoa_name, la_code, la_name, imd_rank
    (1 = most deprived), imd_decile (1 = most deprived 10%), total_population (mid-2015)."""
    return _imd2019().copy()


def esp2013() -> pd.DataFrame:
    """European Standard Population 2013: age_band_19, age_band_21, esp2013_weight."""
    return _read("esp2013.csv", dtype={"age_band_19": str, "age_band_21": str})


@cache
def _postcode_lsoa() -> pd.DataFrame:
    return _read("postcode_lsoa.csv", dtype=str)


def postcode_lsoa() -> pd.DataFrame:
    """The synthetic region's postcodes: postcode (upper case, one space), lsoa_code. Made-up
    postcodes on real LSOAs (see README.md); a real deployment supplies ONS's lookup instead."""
    return _postcode_lsoa().copy()


def sensitive_codes() -> pd.DataFrame:
    """The default sensitive lists' codes (sensitive/codes.csv): list, system (`ICD-10`,
    `OPCS-4`, `SNOMED CT`), code, term, source; sensitive/README.md gives each list's legal
    basis and each source."""
    return _read("sensitive/codes.csv", dtype=str)
