"""What the analytics compute, written down as data: registers, scores, segments, measures.

Nothing here touches a table. The engine modules (registers, scores, segments, activity,
measures) compile these definitions into Ibis expressions; docs/analytics.md is written from
them. A definition is a frozen dataclass, checked when it is made, so that a mistake in a
definition fails at import, not half-way through a build.

Code lists are named, not embedded: `qof-hyp` is the shipped QOF cluster, and a programme can
add or override any list (including those OpenPHM does not ship, such as the QOF asthma,
atrial fibrillation and mental health "resolved" clusters) with a folder of CSV files; a list
that is nowhere to be found is left out and named in the build summary, so a gap is visible
rather than silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from openphm.linked import population as _counted

# ----- condition registers ----------------------------------------------------------------


@dataclass(frozen=True)
class Register:
    """A person is on the register at the reference date when

    - a code from `gp` lists is recorded on or before it, and no code from `resolved` lists is
      recorded on or after the latest such code (QOF's rule: latest diagnosis after latest
      resolution), or
    - a hospital spell admitted on or before it has a diagnosis (primary or secondary) in one
      of the `hospital` ICD-10 lists (matched on the 3- or 4-character stem, so `I10` matches
      `I109`);
    and the person is at least `min_age` at the reference date (QOF's register ages)."""

    name: str
    label: str
    gp: tuple[str, ...]
    resolved: tuple[str, ...] = ()
    hospital: tuple[str, ...] = ()
    min_age: int = 0
    long_term_condition: bool = True

    def __post_init__(self):
        if not self.gp and not self.hospital:
            raise ValueError(f"register {self.name} names no code list")
        if not self.name.isidentifier():
            raise ValueError(f"register name {self.name!r} must be a Python identifier")


REGISTERS: tuple[Register, ...] = (
    Register("hypertension", "Hypertension", ("qof-hyp",), ("qof-hypres",),
             ("icd10-hypertension",)),
    Register("diabetes", "Diabetes", ("qof-dm",), ("qof-dmres",), ("icd10-diabetes",),
             min_age=17),
    Register("asthma", "Asthma", ("qof-ast",), ("qof-astres",)),
    Register("copd", "COPD", ("qof-copd",), ("qof-copdres",), ("icd10-copd",)),
    Register("chd", "Coronary heart disease", ("qof-chd",)),
    Register("heart_failure", "Heart failure", ("qof-hf",), ("qof-hfres",),
             ("icd10-heart-failure",)),
    Register("atrial_fibrillation", "Atrial fibrillation", ("qof-afib",), ("qof-afibres",)),
    Register("stroke_tia", "Stroke and TIA", ("qof-strk",)),
    # CKD stages 3-5: the ckd cluster, unless a stage 1-2 code is recorded later.
    Register("ckd", "Chronic kidney disease (stages 3-5)", ("qof-ckd",), ("qof-ckd1and2",),
             ("icd10-ckd-stage3to5",), min_age=18),
    Register("dementia", "Dementia", ("qof-dem",), (), ("icd10-dementia",)),
    Register("depression", "Depression", ("qof-depr",), ("qof-depres",), ("icd10-depression",),
             min_age=18),
    Register("serious_mental_illness", "Serious mental illness", ("qof-mh",), ("qof-mhrem",)),
    Register("learning_disability", "Learning disability", ("qof-ld",)),
    Register("cancer", "Cancer", ("qof-c19can", "qof-c19haemcan"), (), ("icd10-cancer",)),
    Register("epilepsy", "Epilepsy", ("qof-epil",), ("qof-epilres",), min_age=18),
    Register("osteoporosis", "Osteoporosis", ("qof-osteo",), min_age=50),
    Register("rheumatoid_arthritis", "Rheumatoid arthritis", ("qof-rarth",), min_age=16),
    Register("peripheral_arterial_disease", "Peripheral arterial disease", ("qof-pad",)),
    Register("palliative_care", "Palliative care", ("qof-palcare",),
             long_term_condition=False),
)  # fmt: skip

# ----- Cambridge Multimorbidity Score -----------------------------------------------------


@dataclass(frozen=True)
class CMSCondition:
    """One of the 20 conditions of the Cambridge Multimorbidity Score.

    Present when a code from `gp` lists is recorded on or before the reference date (within
    `lookback_years` when set), or when drugs from one of the `medication` lists (dm+d) are
    issued at least `min_issues` times in the 12 months before it. `medication_unless` pairs a
    medication list with GP lists: that list counts only for people with no code from them
    recorded on or before the reference date (and not at all when they are not shipped)."""

    name: str
    weight: float
    gp: tuple[str, ...] = ()
    lookback_years: int | None = None
    medication: tuple[str, ...] = ()
    min_issues: int = 4
    medication_unless: tuple[tuple[str, tuple[str, ...]], ...] = ()


# Payne RA, Mendonca SC, Elliott MN, et al. Development and validation of the Cambridge
# Multimorbidity Score. CMAJ 2020;192(5):E107-E114. doi:10.1503/cmaj.190757. The 20-condition
# score, "general outcome" weights (the paper's weights for the combined outcome of death,
# unplanned admission and primary care consultations). Weights as used in a public OpenSAFELY
# ehrQL implementation, and all twenty the same in two other teams' code (docs/analytics.md);
# the paper's table itself was not at hand to check them against.
CMS_CONDITIONS: tuple[CMSCondition, ...] = (
    CMSCondition("alcohol_problems", 0.65, ("cms-alcohol-problems",)),
    CMSCondition("anxiety_depression", 0.50, ("qof-depr", "cms-anxiety"),
                 medication=("cms-anxiolytics-antidepressants-dmd",)),
    CMSCondition("atrial_fibrillation", 1.34, ("qof-afib",)),
    CMSCondition("cancer", 1.53, ("qof-c19can", "qof-c19haemcan"), lookback_years=5),
    CMSCondition("chronic_kidney_disease", 0.53, ("qof-ckd",)),
    CMSCondition("connective_tissue_disorder", 0.43, ("qof-rarth", "cms-connective-tissue")),
    CMSCondition("copd", 1.46, ("qof-copd",)),
    CMSCondition("coronary_heart_disease", 0.49, ("qof-chd",)),
    CMSCondition("dementia", 2.50, ("qof-dem",)),
    CMSCondition("diabetes", 0.75, ("qof-dm",)),
    CMSCondition("epilepsy", 0.92, ("qof-epil",)),
    CMSCondition("hearing_loss", 0.09, ("cms-hearing-loss",)),
    CMSCondition("heart_failure", 1.18, ("qof-hf",)),
    CMSCondition("irritable_bowel_syndrome", 0.21, ("cms-irritable-bowel-syndrome",)),
    CMSCondition("psychosis_bipolar", 0.64, ("qof-mh",)),
    CMSCondition("stroke_tia", 0.80, ("qof-strk",)),
    CMSCondition("asthma", 0.19, ("qof-ast",)),
    CMSCondition("hypertension", 0.08, ("qof-hyp",)),
    CMSCondition("constipation", 1.12, medication=("cms-laxatives-dmd",)),
    # Payne: anti-epileptics count towards a painful condition only without an epilepsy code.
    CMSCondition("painful_condition", 0.92,
                 medication=("cms-analgesics-dmd", "cms-antiepileptics-dmd"),
                 medication_unless=(("cms-antiepileptics-dmd", ("qof-epil",)),)),
)  # fmt: skip

# ----- electronic Frailty Index -----------------------------------------------------------


@dataclass(frozen=True)
class Deficit:
    """One of the 36 deficits of the electronic Frailty Index: present when a code from any of
    `gp` lists is recorded on or before the reference date. The first list is the eFI's own
    (`efi-<deficit>`, a SNOMED CT reproduction of the 2016 Read code sets); for the disease
    deficits the QOF register clusters are added, which hold the SNOMED CT concepts created
    since that mapping (see docs/analytics.md)."""

    name: str
    gp: tuple[str, ...] = ()


# Clegg A, Bates C, Young J, et al. Development and validation of an electronic frailty index
# using routine primary care electronic health record data. Age Ageing 2016;45(3):353-360.
EFI_DEFICITS: tuple[Deficit, ...] = (
    Deficit("activity_limitation", ("efi-activity-limitation",)),
    Deficit("anaemia_haematinic_deficiency", ("efi-anaemia",)),
    Deficit("arthritis", ("efi-arthritis", "qof-rarth")),
    Deficit("atrial_fibrillation", ("efi-atrial-fibrillation", "qof-afib")),
    Deficit("cerebrovascular_disease", ("efi-stroke-tia", "qof-strk")),
    Deficit("chronic_kidney_disease", ("efi-ckd", "qof-ckd")),
    Deficit("diabetes", ("efi-diabetes", "qof-dm")),
    Deficit("dizziness", ("efi-dizziness",)),
    Deficit("dyspnoea", ("efi-dyspnoea",)),
    Deficit("falls", ("efi-falls",)),
    Deficit("foot_problems", ("efi-foot-problems",)),
    Deficit("fragility_fracture", ("efi-fragility-fracture",)),
    Deficit("hearing_impairment", ("efi-hearing-impairment",)),
    Deficit("heart_failure", ("efi-heart-failure", "qof-hf")),
    Deficit("heart_valve_disease", ("efi-heart-valve-disease",)),
    Deficit("housebound", ("efi-housebound",)),
    Deficit("hypertension", ("efi-hypertension", "qof-hyp")),
    Deficit("hypotension_syncope", ("efi-hypotension",)),
    Deficit("ischaemic_heart_disease", ("efi-chd", "qof-chd")),
    Deficit("memory_cognitive_problems", ("efi-cognitive-problems",)),
    Deficit("mobility_transfer_problems", ("efi-mobility-problems",)),
    Deficit("osteoporosis", ("efi-osteoporosis", "qof-osteo")),
    Deficit("parkinsonism_tremor", ("efi-parkinsonism",)),
    Deficit("peptic_ulcer", ("efi-peptic-ulcer",)),
    Deficit("peripheral_vascular_disease", ("efi-pvd", "qof-pad")),
    Deficit("polypharmacy"),  # five or more different drugs issued in the last 12 months
    Deficit("requirement_for_care", ("efi-care-requirement",)),
    Deficit("respiratory_disease", ("efi-respiratory-disease", "qof-ast", "qof-copd")),
    Deficit("skin_ulcer", ("efi-skin-ulcer",)),
    Deficit("sleep_disturbance", ("efi-sleep-disturbance",)),
    Deficit("social_vulnerability", ("efi-social-vulnerability",)),
    Deficit("thyroid_disease", ("efi-thyroid-disease",)),
    Deficit("urinary_incontinence", ("efi-urinary-incontinence",)),
    Deficit("urinary_system_disease", ("efi-urinary-system-disease",)),
    Deficit("visual_impairment", ("efi-vision-problems",)),
    Deficit("weight_loss_anorexia", ("efi-weight-loss",)),
)
EFI_POLYPHARMACY_DRUGS = 5
EFI_DENOMINATOR = 36
# Category lower bounds (Clegg 2016): fit < 0.12 ≤ mild < 0.24 ≤ moderate < 0.36 ≤ severe.
EFI_CATEGORIES: tuple[tuple[str, float], ...] = (
    ("fit", 0.0),
    ("mild", 0.12),
    ("moderate", 0.24),
    ("severe", 0.36),
)

# Hospital scores from ICD-10 diagnoses of spells admitted in this many years before the
# reference date (the Hospital Frailty Risk Score looks back two years: Gilbert et al. 2018).
HOSPITAL_LOOKBACK_YEARS = 2

# ----- segmentation -----------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """A Bridges to Health segment. Segments are tried in `SEGMENTS` order and a person takes
    the first whose rule holds, so everyone is in exactly one."""

    name: str
    label: str
    rule: str


SEGMENTS: tuple[Segment, ...] = (
    Segment("end_of_life", "Short period of decline before dying",
            "on the palliative care register"),
    Segment("frailty", "Frailty",
            "on the dementia register, or aged 65+ with an eFI of 0.24 or more "
            "(moderate or severe frailty)"),
    Segment("limited_reserve", "Limited reserve and exacerbations",
            "on the heart failure or COPD register, or on the CKD (3-5) register with an "
            "emergency admission in the activity window, or 2+ emergency admissions in the "
            "window with at least one long-term condition"),
    Segment("stable_serious_disability", "Stable but serious disability",
            "on the learning disability register, or aged under 65 with an eFI activity "
            "limitation, housebound or mobility deficit"),
    Segment("chronic_conditions", "Chronic conditions",
            "on at least one long-term condition register"),
    Segment("maternal_infant", "Maternal and infant health",
            "aged under 1, or a pregnancy code (qof-preg) recorded in the 9 months up to the "
            "reference date"),
    Segment("acutely_ill", "Acutely ill but curable",
            "an emergency admission or emergency care attendance in the activity window"),
    Segment("healthy", "Healthy", "none of the above"),
)  # fmt: skip

# Pregnancy for the maternal segment: a code from these lists recorded in the months up to the
# reference date (a pregnancy's length). QOF's pregnancy cluster only: no delivery or loss
# code ends it sooner, so someone whose pregnancy ended in the window still counts.
PREGNANCY_LISTS: tuple[str, ...] = ("qof-preg",)
PREGNANCY_MONTHS = 9

# Condition-count segmentation, for comparison: (label, lowest count).
LTC_GROUPS: tuple[tuple[str, int], ...] = (("0", 0), ("1", 1), ("2-3", 2), ("4+", 4))

# ----- activity ---------------------------------------------------------------------------

# The activity window and the age bands are zone 3's one definition (openphm.linked.population).
ACTIVITY_WINDOW_MONTHS = _counted.ACTIVITY_WINDOW_MONTHS
READMISSION_DAYS = 30

# Activity counted per person in the window before the reference date, and the tariff row
# (src/openphm/reference/tariffs/default.csv) that costs one unit of it.
ACTIVITY_COLUMNS: tuple[tuple[str, str, str | None], ...] = (
    ("gp_consultations", "GP practice consultations", "gp_consultation"),
    ("ec_attendances", "Emergency care attendances", "ec_attendance"),
    ("emergency_admissions", "Emergency admissions", "emergency_admission"),
    ("elective_admissions", "Elective admissions", "elective_admission"),
    (
        "bed_days",
        "Hospital bed days in the window (spells admitted in it, up to the reference date)",
        "excess_bed_day",
    ),
    ("outpatient_attendances", "Outpatient appointments attended", "outpatient_attendance"),
    ("community_contacts", "Community service contacts", "community_contact"),
    ("social_care_services", "Social care services open in the window", "social_care_service"),
    ("readmissions_30d", "Emergency readmissions within 30 days of a discharge", None),
    ("died", "Deaths in the window", None),
)

# ----- measures ---------------------------------------------------------------------------

GROUPINGS: tuple[str, ...] = (
    "practice",
    "age_band",
    "sex",
    "ethnic_group",
    "imd_decile",
    "imd_quintile",
    "lsoa",
    "segment",
    "core20",
)


@dataclass(frozen=True)
class Measure:
    """A numerator over a denominator, both columns of the person table, per group.

    kind "proportion": people with numerator among people with denominator, Wilson limits,
    shown per `multiplier` (100 = per cent). kind "rate": events per `multiplier` people,
    Poisson limits (exact below 10 events, Byar's from 10). kind "mean": mean of the
    numerator over the denominator's people, normal limits."""

    name: str
    label: str
    numerator: str
    denominator: str
    kind: str
    multiplier: float = 100.0
    standardise: bool = True
    inequality: bool = True
    notes: str = ""
    # The youngest age the measure counts (a QOF register's age): the denominator is then
    # `aged_denominator(min_age)`, and the standardised rate is over the ESP2013 bands from the
    # one holding it up.
    min_age: int = 0

    def __post_init__(self):
        if self.kind not in ("proportion", "rate", "mean"):
            raise ValueError(f"measure {self.name}: kind must be proportion, rate or mean")


def aged_denominator(min_age: int) -> str:
    """The person-table column of people in the reference population aged `min_age` or more
    at the reference date (all of it for 0): a QOF register's prevalence denominator."""
    return "in_reference_population" if min_age <= 0 else f"in_reference_population_{min_age}plus"


def _measures() -> tuple[Measure, ...]:
    # QOF prevalence: people on the register over registered people of the register's ages
    # (docs/analytics.md names the QOF indicator of each age).
    prevalence = tuple(
        Measure(f"prevalence_{r.name}", f"{r.label}: recorded prevalence"
                + (f", aged {r.min_age}+" if r.min_age else ""), f"reg_{r.name}",
                aged_denominator(r.min_age), "proportion", min_age=r.min_age)
        for r in REGISTERS
    )  # fmt: skip
    scores = (
        Measure("multimorbidity_2plus", "Two or more long-term conditions", "ltc_2plus",
                "in_reference_population", "proportion"),
        Measure("multimorbidity_4plus", "Four or more long-term conditions", "ltc_4plus",
                "in_reference_population", "proportion"),
        Measure("frailty_moderate_severe_65plus", "Moderate or severe frailty (eFI), 65+",
                "efi_moderate_plus", "aged_65_plus", "proportion", standardise=False),
        Measure("mean_cms", "Mean Cambridge Multimorbidity Score", "cms",
                "in_reference_population", "mean", multiplier=1.0, standardise=False,
                inequality=False),
    )  # fmt: skip
    activity = tuple(
        Measure(f"rate_{name}", f"{label} per 1,000 people", name, "in_window_population",
                "rate", multiplier=1000.0)
        for name, label, _ in ACTIVITY_COLUMNS
        if name not in ("readmissions_30d", "died")
    )  # fmt: skip
    # The same per 1,000 person-years: each person counts the time they were registered and
    # alive in the window (population.person_years), so a death, birth or move part-way
    # through counts part of a year, not a whole head.
    person_time = tuple(
        Measure(f"rate_py_{name}", f"{label} per 1,000 person-years", name, "person_years",
                "rate", multiplier=1000.0)
        for name, label, _ in ACTIVITY_COLUMNS
        if name not in ("readmissions_30d",)
    )  # fmt: skip
    outcomes = (
        Measure("mortality", "Deaths per 1,000 people", "died", "in_window_population",
                "rate", multiplier=1000.0),
        Measure("readmission_30d", "Emergency admissions followed by another within 30 days",
                "readmissions_30d", "emergency_admissions", "proportion", standardise=False,
                notes="denominator is emergency admissions, not people"),
        Measure("mean_cost", "Mean cost per person (GBP)", "cost", "in_window_population",
                "mean", multiplier=1.0, standardise=False, inequality=False),
    )  # fmt: skip
    return prevalence + scores + activity + person_time + outcomes


MEASURES: tuple[Measure, ...] = _measures()

# The 19 age bands of the 2013 European Standard Population as OHID uses it: 0-4 ... 90+.
AGE_BANDS_19: tuple[str, ...] = _counted.AGE_BANDS


@dataclass(frozen=True)
class AnalyticsOptions:
    """How a build runs. Every field has the documented default."""

    window_months: int = ACTIVITY_WINDOW_MONTHS
    codelist_folder: str | None = None
    tariff_path: str | None = None
    registers: tuple[Register, ...] = REGISTERS
    measures: tuple[Measure, ...] = MEASURES
    groupings: tuple[str, ...] = GROUPINGS
    # The programme's PCNs, places and ICBs ({level: {practice: area}}, analytics.areas):
    # the measures and the activity figures are also broken down by each level named.
    # None: the programme's, filled in by analytics.stage.build_on_engine; {} for none.
    areas: dict[str, dict[str, str]] | None = None
    hospital_scores: bool = True
    # PHE's phe_sii draws 100,000 by default; each measure has its own seed (stats.seed_for).
    sii_simulations: int = 100_000
    # Only the per-person tables (population, registers, scores, activity, segments) and the
    # run's record: what the risk features read (risk.features.FEATURE_BUILD), built into a
    # scratch catalogue that is thrown away. Like measures and groupings it shapes no
    # per-person table, so it is not in the build's fingerprint (analytics.runs).
    person_tables_only: bool = False
