"""Published figures the synthetic region is calibrated to, one place, each with its source.

The generator draws from these and the realism tests compare against them, so a figure is
changed here or nowhere. Writes test data only (nothing here describes a real person).
"""

from __future__ import annotations

from dataclasses import dataclass

# ONS mid-2021 population estimates, England: share of people in each five-year age band
# (rounded to 0.1%), and the share of each band that is male.
AGE_BANDS = [(0, 4), (5, 9), (10, 14), (15, 19), (20, 24), (25, 29), (30, 34), (35, 39),
             (40, 44), (45, 49), (50, 54), (55, 59), (60, 64), (65, 69), (70, 74), (75, 79),
             (80, 84), (85, 89), (90, 99)]  # fmt: skip
AGE_BAND_SHARE = [5.6, 6.0, 6.0, 5.6, 6.0, 6.6, 6.9, 6.7, 6.3, 6.4, 6.9, 6.7, 5.8, 5.0,
                  5.0, 3.7, 2.6, 1.6, 0.9]  # fmt: skip
MALE_SHARE = [0.512, 0.512, 0.512, 0.513, 0.508, 0.500, 0.497, 0.495, 0.495, 0.493,
              0.492, 0.491, 0.489, 0.483, 0.477, 0.466, 0.448, 0.413, 0.344]  # fmt: skip

# Census 2021, England: ethnic group (high-level, 2021 groupings: Chinese is Asian).
ETHNICITY_SHARE = {"White": 0.810, "Asian": 0.096, "Black": 0.042, "Mixed": 0.030,
                   "Other": 0.022}  # fmt: skip
# Census 2021 shares of the 2001 16-group categories that the ethnicity code list maps to
# (grouping_16_id), summing to the high-level shares above.
ETHNICITY_16_SHARE = {
    1: ("White", 0.735), 2: ("White", 0.009), 3: ("White", 0.066),
    4: ("Mixed", 0.009), 5: ("Mixed", 0.004), 6: ("Mixed", 0.009), 7: ("Mixed", 0.008),
    8: ("Asian", 0.033), 9: ("Asian", 0.028), 10: ("Asian", 0.011), 11: ("Asian", 0.017),
    15: ("Asian", 0.007),
    12: ("Black", 0.011), 13: ("Black", 0.025), 14: ("Black", 0.006),
    16: ("Other", 0.022),
}  # fmt: skip
# GP records with no ethnicity code (NHS Digital, GP ethnicity recording, roughly one in ten).
ETHNICITY_UNRECORDED = 0.08


@dataclass(frozen=True)
class Condition:
    """One QOF register: its prevalence among people aged `register_age` and over (the register's
    own denominator), the youngest age at which the generator gives it (`min_age`), and how
    steeply it rises with age (per year, log scale) and with deprivation (log rate ratio, most
    vs least deprived decile)."""

    name: str
    snomed_cluster: str
    icd10_list: str | None
    prevalence: float
    register_age: int
    min_age: int
    age_slope: float
    deprivation: float
    peak_age: int = 120  # the rise with age stops here


# QOF 2022-23 (NHS Digital, Quality and Outcomes Framework 2022-23), England register
# prevalence, with the register's own age denominator (all ages unless QOF counts only older
# patients: diabetes 17+, asthma 6+, CKD 18+, depression 18+, epilepsy 18+, RA 16+).
# Osteoporosis: the QOF register counts people 50+ with a fragility fracture; we use 1.0% of 50+.
CONDITIONS = [
    Condition("hypertension", "qof-hyp", "icd10-hypertension", 0.142, 0, 0, 0.060, 0.25, 85),
    Condition("diabetes", "qof-dm", "icd10-diabetes", 0.075, 17, 17, 0.045, 0.55, 80),
    Condition("asthma", "qof-ast", None, 0.065, 6, 6, 0.000, 0.25),
    Condition("copd", "qof-copd", "icd10-copd", 0.019, 0, 35, 0.070, 1.10, 85),
    Condition("atrial_fibrillation", "qof-afib", None, 0.021, 0, 30, 0.100, 0.00),
    Condition("heart_failure", "qof-hf", "icd10-heart-failure", 0.010, 0, 30, 0.095, 0.45),
    Condition("ckd", "qof-ckd", "icd10-ckd", 0.040, 18, 18, 0.090, 0.20),
    Condition("dementia", "qof-dem", "icd10-dementia", 0.007, 0, 50, 0.150, 0.10),
    Condition("depression", "qof-depr", "icd10-depression", 0.132, 18, 18, 0.000, 0.45),
    Condition("smi", "qof-mh", None, 0.0095, 0, 18, 0.000, 0.90),
    Condition("chd", "qof-chd", None, 0.030, 0, 30, 0.085, 0.55, 90),
    Condition("stroke_tia", "qof-strk", None, 0.018, 0, 30, 0.080, 0.35),
    Condition("epilepsy", "qof-epil", None, 0.008, 18, 18, 0.000, 0.45),
    Condition("learning_disability", "qof-ld", None, 0.0055, 0, 0, -0.010, 0.40),
    Condition("cancer", "qof-c19can", "icd10-cancer", 0.035, 0, 18, 0.070, -0.05),
    Condition("osteoporosis", "qof-osteo", None, 0.010, 50, 50, 0.080, 0.10),
    Condition("rheumatoid_arthritis", "qof-rarth", None, 0.0077, 16, 16, 0.030, 0.15),
    Condition("pad", "qof-pad", None, 0.006, 0, 40, 0.080, 0.70),
    Condition("palliative_care", "qof-palcare", None, 0.005, 0, 18, 0.090, 0.30),
]

# Utilisation per 1,000 people per year, England.
# GP appointments: NHS Digital "Appointments in General Practice" 2022-23, ~300M appointments a
# year for 56.5M people (we count the ~5,000 per 1,000 that are consultations with a clinician).
GP_CONSULTATIONS_PER_1000 = 5000.0
# ECDS 2022-23 (NHS Digital, A&E attendances and emergency admissions): ~24M attendances.
EMERGENCY_ATTENDANCES_PER_1000 = 400.0
# HES admitted patient care 2022-23: ~6.3M emergency admissions; ~8M elective and day cases.
EMERGENCY_ADMISSIONS_PER_1000 = 110.0
ELECTIVE_ADMISSIONS_PER_1000 = 140.0
# HES outpatients 2022-23: ~124M appointments (attended and not).
OUTPATIENT_APPOINTMENTS_PER_1000 = 2200.0
# ONS deaths registered in England 2022: ~530,000, ~9.3 per 1,000.
DEATHS_PER_1000 = 9.0
# Not calibrated to a published national figure (the community services data set counts
# contacts too differently between providers): an illustrative rate, concentrated in the old.
COMMUNITY_CONTACTS_PER_1000 = 600.0
# NHS Digital Adult Social Care Activity and Finance 2022-23: ~840,000 people in long-term
# support, ~1.9% of adults, most of them 65+.
SOCIAL_CARE_CLIENT_SHARE_ADULTS = 0.019
# Share of emergency admissions that arrive through the emergency department (HES/ECDS).
ADMISSIONS_VIA_ED = 0.75
