"""Name pools for synthetic people, built once from Faker's en_GB word lists (not from Faker's
random generator, so that names depend only on the region's seed), and the nicknames that
hospital and council systems record instead of the registered given name. Writes test data only.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from faker.providers.person.en_GB import Provider as _Person

STREET_SUFFIXES = ["Road", "Street", "Lane", "Avenue", "Close", "Drive", "Way", "Grove",
                   "Crescent", "Terrace", "Gardens", "Place", "Court", "View", "Mount"]  # fmt: skip
LOCALITY_SUFFIXES = ["Park", "Green", "Hill", "Moor", "Bank", "Fold", "Bottom", "Side"]

# Formal name -> the short form seen in other systems' records (Robert registered, Bob in A&E).
NICKNAMES = {
    "Robert": "Bob", "Elizabeth": "Liz", "William": "Bill", "James": "Jim", "Margaret": "Maggie",
    "Katherine": "Kate", "Kathryn": "Kate", "Michael": "Mike", "Richard": "Rich", "Thomas": "Tom",
    "Christopher": "Chris", "Anthony": "Tony", "Daniel": "Dan", "Matthew": "Matt",
    "Joseph": "Joe", "Samuel": "Sam", "Benjamin": "Ben", "Alexander": "Alex", "Jennifer": "Jenny",
    "Rebecca": "Becky", "Victoria": "Vicky", "Susan": "Sue", "Deborah": "Debbie",
    "Patricia": "Pat", "Edward": "Ted", "Jonathan": "Jon", "Stephen": "Steve", "Andrew": "Andy",
    "David": "Dave", "Peter": "Pete", "Nicholas": "Nick", "Timothy": "Tim", "Jessica": "Jess",
    "Catherine": "Cathy", "Christine": "Chris", "Philip": "Phil", "Gregory": "Greg",
    "Kenneth": "Ken", "Ronald": "Ron", "Donald": "Don", "Frederick": "Fred", "Harold": "Harry",
    "Henry": "Harry", "Jacqueline": "Jackie", "Josephine": "Jo", "Joanne": "Jo",
    "Kimberley": "Kim", "Natalie": "Nat", "Pamela": "Pam", "Sandra": "Sandy", "Valerie": "Val",
    "Abigail": "Abby", "Charlotte": "Lottie", "Gerald": "Gerry", "Leonard": "Len",
    "Raymond": "Ray", "Terence": "Terry", "Lawrence": "Larry", "Jacob": "Jake",
}  # fmt: skip


@cache
def pools() -> dict[str, np.ndarray]:
    """Name pools as object arrays, and the sampling weights of family names."""
    family = _Person.last_names
    return {
        "male": np.array(sorted(set(_Person.first_names_male)), dtype=object),
        "female": np.array(sorted(set(_Person.first_names_female)), dtype=object),
        "family": np.array(list(family), dtype=object),
        "family_weight": np.array(list(family.values()), dtype=float),
    }


def zipf_weights(n: int) -> np.ndarray:
    """Given names are far from equally common: a Zipf-like spread over the pool."""
    weights = 1.0 / (np.arange(n) + 8.0)
    return weights / weights.sum()
