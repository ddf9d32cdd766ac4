"""Which codes the generator may write so that a record says what the truth says, and no more.

A code can belong to more than one list: some depression codes are in the serious mental illness
cluster too ("severe depression with psychosis"), some asthma codes in the COPD cluster, some
dementia codes in the eFI's memory and cognitive problems set. A diagnosis drawn from the whole
cluster would put people on registers (and give them eFI deficits) that the truth says they do
not have. So each condition's codes are those of its QOF cluster that, by the analytics'
definitions (`openphm.analytics.definitions`: the registers' diagnosis and resolved lists, the
eFI deficits' lists), mean that register and that condition's eFI deficit and nothing else; each
of the eFI's other deficits is written with codes of its own list found in no other shipped list;
and a hospital diagnosis drawn at random never names a register the person is not on.
Writes test data only.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from openphm import reference
from openphm.analytics.definitions import EFI_DEFICITS, REGISTERS
from openphm.synth import calibration as cal

# The analytics' register for each of the generator's conditions.
CONDITION_REGISTER = {c.name: c.name for c in cal.CONDITIONS} | {
    "smi": "serious_mental_illness",
    "pad": "peripheral_arterial_disease",
}
# The eFI deficit (Clegg et al. 2016) each condition is, or None: asthma and COPD are both the
# one "respiratory disease" deficit; dementia is "memory and cognitive problems" (its codes are
# drawn from those the eFI's set holds); depression, serious mental illness, epilepsy, learning
# disability, cancer and palliative care are not deficits of the eFI.
CONDITION_DEFICIT = {
    "hypertension": "hypertension",
    "diabetes": "diabetes",
    "asthma": "respiratory_disease",
    "copd": "respiratory_disease",
    "atrial_fibrillation": "atrial_fibrillation",
    "heart_failure": "heart_failure",
    "ckd": "chronic_kidney_disease",
    "dementia": "memory_cognitive_problems",
    "depression": None,
    "smi": None,
    "chd": "ischaemic_heart_disease",
    "stroke_tia": "cerebrovascular_disease",
    "epilepsy": None,
    "learning_disability": None,
    "cancer": None,
    "osteoporosis": "osteoporosis",
    "rheumatoid_arthritis": "arthritis",
    "pad": "peripheral_vascular_disease",
    "palliative_care": None,
}
POLYPHARMACY = "polypharmacy"
# The deficits that are neither a condition nor polypharmacy: drawn per person and written as
# coded events (bit i of a person's deficit mask is OTHER_DEFICITS[i]).
OTHER_DEFICITS = tuple(
    d.name
    for d in EFI_DEFICITS
    if d.name not in set(CONDITION_DEFICIT.values()) and d.name != POLYPHARMACY
)
# The distinct deficits the conditions can give, and which conditions give each.
CONDITION_DEFICITS = tuple(dict.fromkeys(d for d in CONDITION_DEFICIT.values() if d))
CONDITION_DEFICIT_MEMBERS = tuple(
    tuple(j for j, c in enumerate(cal.CONDITIONS) if CONDITION_DEFICIT[c.name] == deficit)
    for deficit in CONDITION_DEFICITS
)


@functools.cache
def _shipped() -> dict[str, frozenset[str]]:
    """Every shipped code list: name -> its codes."""
    folder = Path(reference.__file__).parent / "codelists"
    lists = {}
    for path in sorted(folder.glob("*.csv")):
        frame = reference.codelist(path.stem)
        lists[path.stem] = frozenset(frame["code" if "code" in frame else "id"].astype(str))
    return lists


def _codes(names) -> frozenset[str]:
    lists = _shipped()
    return frozenset().union(*(lists[n] for n in names if n in lists))


@functools.cache
def _sensitive() -> dict[str, frozenset[str]]:
    """The default sensitive lists' codes by system (openphm/reference/sensitive): the region
    codes none of them, since `phm link` withholds such records (docs/sensitive-data.md) and
    the region's truth would then disagree with its linked zone."""
    frame = reference.sensitive_codes()
    return {system: frozenset(rows["code"]) for system, rows in frame.groupby("system")}


def _sensitive_snomed(code: str) -> bool:
    return code in _sensitive().get("SNOMED CT", frozenset())


def _sensitive_icd10(code: str) -> bool:
    """As link matches an ICD-10 code: by each of its prefixes of 3 to 6 characters."""
    listed = _sensitive().get("ICD-10", frozenset())
    return any(code[:n] in listed for n in (3, 4, 5, 6))


@functools.cache
def _gp_meaning() -> dict[str, tuple[frozenset, frozenset]]:
    """code -> (registers and resolutions it counts for, eFI deficits it counts for)."""
    meaning: dict[str, tuple[set, set]] = {}
    for r in REGISTERS:
        for code in _codes(r.gp):
            meaning.setdefault(code, (set(), set()))[0].add(r.name)
        for code in _codes(r.resolved):
            meaning.setdefault(code, (set(), set()))[0].add(f"{r.name} resolved")
    for d in EFI_DEFICITS:
        for code in _codes(d.gp):
            meaning.setdefault(code, (set(), set()))[1].add(d.name)
    return {code: (frozenset(a), frozenset(b)) for code, (a, b) in meaning.items()}


@functools.cache
def condition_codes(name: str) -> np.ndarray:
    """The codes of a condition's QOF cluster that mean its register and its eFI deficit (if
    it has one), and no other register, resolution or deficit, and are on no sensitive list."""
    condition = next(c for c in cal.CONDITIONS if c.name == name)
    wanted = (
        frozenset({CONDITION_REGISTER[name]}),
        frozenset({CONDITION_DEFICIT[name]} - {None}),
    )
    meaning = _gp_meaning()
    cluster = sorted(_shipped()[condition.snomed_cluster])
    codes = [
        code for code in cluster if meaning.get(code) == wanted and not _sensitive_snomed(code)
    ]
    if not codes:
        raise ValueError(f"no code of {condition.snomed_cluster} means {name} alone")
    return np.array(codes, dtype=object)


@functools.cache
def deficit_codes(name: str) -> np.ndarray:
    """Codes of an eFI deficit's own list that are in no other shipped list nor a sensitive
    list."""
    deficit = next(d for d in EFI_DEFICITS if d.name == name)
    lists = _shipped()
    own = deficit.gp[0]
    others = _codes(n for n in lists if n != own)
    codes = sorted(c for c in lists[own] - others if not _sensitive_snomed(c))
    if not codes:
        raise ValueError(f"every code of {own} is in another list")
    return np.array(codes, dtype=object)


@functools.cache
def _icd10_lists() -> dict[str, frozenset[str]]:
    """register -> the ICD-10 codes (and stems) of its hospital lists."""
    return {r.name: _codes(r.hospital) for r in REGISTERS if r.hospital}


def icd10_registers(code: str) -> frozenset[str]:
    """The registers a hospital diagnosis puts a person on, by the analytics' rule: a list
    code matches a diagnosis equal to it or equal to its first 3 or 4 characters."""
    stems = {code, code[:3], code[:4]}
    return frozenset(name for name, codes in _icd10_lists().items() if stems & codes)


@functools.cache
def hospital_codes(name: str) -> np.ndarray:
    """A condition's ICD-10 list, without the codes that would name another register too
    (hypertensive heart failure, I11.0, is on the hypertension list as well as heart
    failure's)."""
    condition = next(c for c in cal.CONDITIONS if c.name == name)
    own = {CONDITION_REGISTER[name]}
    codes = [code for code in reference.codelist(condition.icd10_list)["code"].astype(str)
             if icd10_registers(code) <= own and not _sensitive_icd10(code)]  # fmt: skip
    return np.array(codes, dtype=object)


def condition_of_register(register: str) -> int:
    """The column (in `calibration.CONDITIONS`) of the condition a register records."""
    name = next(c for c, r in CONDITION_REGISTER.items() if r == register)
    return [c.name for c in cal.CONDITIONS].index(name)
