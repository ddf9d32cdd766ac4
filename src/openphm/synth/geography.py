"""The synthetic region's geography: which real English local authorities it covers, and the
made-up postcodes placed on their real LSOAs, so that deprivation comes from real IMD 2019 ranks.

Writes test data only: `build_postcode_lookup` made `openphm/reference/postcode_lsoa.csv` once
(run `python -m openphm.synth.geography` to remake it); the generator reads that shipped file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from openphm import reference

# Three West Yorkshire districts: a big city with both very deprived and very affluent
# neighbourhoods (Leeds), one of England's most deprived districts (Bradford) and a mixed
# town-and-moorland district (Calderdale). Together ~920 LSOAs and ~1.5M people, enough for a
# 1M-person region with a real deprivation spread.
REGION_LOCAL_AUTHORITIES = {
    "E08000035": ("Leeds", "LS", 29),
    "E08000032": ("Bradford", "BD", 24),
    "E08000033": ("Calderdale", "HX", 7),
}
POSTCODES_PER_LSOA = 12
# Royal Mail never uses C, I, K, M, O, V in the last two letters of a postcode.
_INWARD_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"))
_LOOKUP_SEED = 20191  # fixed: the lookup is reference data, not part of a region's seed


def region_lsoas() -> pd.DataFrame:
    """IMD 2019 rows for the region's LSOAs, in LSOA code order."""
    imd = reference.imd2019()
    region = imd[imd["la_code"].isin(REGION_LOCAL_AUTHORITIES)]
    return region.sort_values("lsoa_code").reset_index(drop=True)


def build_postcode_lookup() -> pd.DataFrame:
    """Plausible postcodes, POSTCODES_PER_LSOA per LSOA: the district (outward code) follows the
    LSOA's MSOA, so neighbours share a district; inward codes are unique within a district."""
    rng = np.random.default_rng(_LOOKUP_SEED)
    lsoas = region_lsoas()
    msoa = lsoas["lsoa_name"].str.extract(r"(\d{3})[A-Z]$")[0].astype(int)
    area = lsoas["la_code"].map(lambda la: REGION_LOCAL_AUTHORITIES[la][1])
    n_districts = lsoas["la_code"].map(lambda la: REGION_LOCAL_AUTHORITIES[la][2])
    district = area + ((msoa - 1) % n_districts + 1).astype(str)
    frames = []
    for outward, group in lsoas.groupby(district, sort=True):
        n = len(group) * POSTCODES_PER_LSOA
        inward_space = 10 * len(_INWARD_LETTERS) ** 2
        pick = rng.choice(inward_space, size=n, replace=False)
        digit, rest = np.divmod(pick, len(_INWARD_LETTERS) ** 2)
        first, second = np.divmod(rest, len(_INWARD_LETTERS))
        inward = digit.astype(str) + _INWARD_LETTERS[first] + _INWARD_LETTERS[second]
        frames.append(
            pd.DataFrame(
                {
                    "postcode": outward + " " + pd.Series(inward),
                    "lsoa_code": np.repeat(group["lsoa_code"].to_numpy(), POSTCODES_PER_LSOA),
                }
            )
        )
    return pd.concat(frames).sort_values("postcode").reset_index(drop=True)


if __name__ == "__main__":
    target = Path(reference.__file__).with_name("postcode_lsoa.csv")
    build_postcode_lookup().to_csv(target, index=False)
    print(f"wrote {target}")
