"""Codes the generator writes beyond the shared code lists: observations, medicines, hospital
diagnoses and procedures, emergency care terms. Plausible, commonly used codes chosen by hand;
the landing stage must treat any code as data, so a wrong pick here is harmless. The dm+d ids of
apixaban, clopidogrel, methotrexate and ramipril, and every medicine and test in `SIGNALS`, are
the ids the shipped PINCER lists give them (tests/synth/test_signals.py checks each); amlodipine
is 319283006 as published dm+d users cite it (no shipped list holds it); the others were not
checked against a dm+d release. Writes test data only.
"""

from __future__ import annotations

SYSTOLIC = "163030003"
DIASTOLIC = "163031004"
HBA1C = "999791000000106"
BMI = "60621009"
SMOKER, EX_SMOKER, NEVER_SMOKED = "77176002", "8517006", "266919005"
FRAILTY = ("", "925791000000100", "925831000000107", "925861000000102")  # mild..severe
TYPE1_DISSENT = "827241000000103"
DISSENT_WITHDRAWN = "827261000000104"

# A repeat medicine per condition (dm+d VMP id, name, quantity per 56-day issue). The current
# VMP ids, as in the shipped CMS prescription lists (sertraline, levetiracetam and morphine
# were re-identified in dm+d; their old ids 321958007, 407810007 and 322492003 match no list).
MEDICINES = {
    "hypertension": ("319283006", "Amlodipine 5mg tablets", "56"),
    "diabetes": ("325278007", "Metformin 500mg tablets", "112"),
    "asthma": ("320176004", "Salbutamol 100micrograms/dose inhaler CFC free", "2"),
    "copd": ("407762005", "Tiotropium 18microgram inhalation powder capsules", "60"),
    "atrial_fibrillation": ("703908001", "Apixaban 5mg tablets", "112"),
    "heart_failure": ("318590006", "Bisoprolol 2.5mg tablets", "56"),
    "ckd": ("318902004", "Ramipril 5mg capsules", "56"),
    "dementia": ("322016008", "Donepezil 10mg tablets", "56"),
    "depression": ("39704111000001102", "Sertraline 50mg tablets", "56"),
    "smi": ("321555004", "Olanzapine 10mg tablets", "56"),
    "chd": ("320000009", "Atorvastatin 20mg tablets", "56"),
    "stroke_tia": ("319799004", "Clopidogrel 75mg tablets", "56"),
    "epilepsy": ("42131311000001108", "Levetiracetam 500mg tablets", "112"),
    "osteoporosis": ("8143711000001101", "Alendronic acid 70mg tablets", "8"),
    "rheumatoid_arthritis": ("326874007", "Methotrexate 2.5mg tablets", "32"),
    "pad": ("319799004", "Clopidogrel 75mg tablets", "56"),
    "palliative_care": ("36128311000001101", "Morphine sulfate 10mg/5ml oral solution", "300"),
}

# The signals of the indicators (openphm.indicators; synth.signals writes them): medicines and
# tests as the shipped PINCER lists give them (dm+d VMP or SNOMED CT id, name, the list).
SIGNAL_MEDICINES = {
    "naproxen": ("329807003", "Naproxen 500mg tablets", "pincer-nsaid"),
    "ibuprofen": ("329653008", "Ibuprofen 400mg tablets", "pincer-nsaid"),
    "omeprazole": ("317291008", "Omeprazole 20mg gastro-resistant capsules", "pincer-ppi"),
    "lansoprazole": ("317309001", "Lansoprazole 30mg gastro-resistant capsules", "pincer-ppi"),
    "aspirin": ("319773006", "Aspirin 75mg dispersible tablets", "pincer-aspirin"),
    "propranolol": ("318353009", "Propranolol 40mg tablets", "pincer-nsbb"),
    "furosemide": ("317972000", "Furosemide 40mg tablets", "pincer-diur"),
    "lithium": ("13177001000001108", "Lithium carbonate 400mg modified-release tablets",
                "pincer-lith"),
    "amiodarone": ("318187007", "Amiodarone 200mg tablets", "pincer-amio"),
    "warfarin": ("319734006", "Warfarin 3mg tablets", "pincer-anticoag"),
}  # fmt: skip
SIGNAL_TESTS = {
    "creatinine": ("1000731000000107", "Serum creatinine level", "pincer-renal"),
    "potassium": ("1000651000000109", "Serum potassium level", "pincer-electro"),
    "fbc": ("1022441000000101", "Full blood count", "pincer-fbc"),
    "lft": ("997531000000108", "Liver function test", "pincer-lft"),
    "lithium_level": ("1006681000000100", "Serum lithium level", "pincer-lith_lev"),
    "tft": ("1016851000000107", "Thyroid function test", "pincer-tft"),
    "peptic_ulcer": ("13200003", "Peptic ulcer", "pincer-pep"),
    "gi_bleed": ("37372002", "Upper gastrointestinal hemorrhage", "pincer-gi_bleed"),
}
# Readings and codes for the indicator lists OpenPHM does not ship: the synthetic region's own
# codes, hand-picked, not checked against a SNOMED CT or dm+d release. The region writes each
# as a one-code list in DIR/codelists/ (for `--codelists`): they stand in for the real lists
# there, and are not clinical code lists.
URINE_ACR = "1023491000000104"
NDH = "700449008"
NDPP_REFERRAL = "1025301000000100"
REGION_LISTS = {
    "bp-systolic": (SYSTOLIC, "Systolic blood pressure"),
    "bp-diastolic": (DIASTOLIC, "Diastolic blood pressure"),
    "hba1c": (HBA1C, "HbA1c"),
    "urine-acr": (URINE_ACR, "Urine albumin:creatinine ratio"),
    "statins-dmd": ("320000009", "Atorvastatin 20mg tablets"),
    "ndh": (NDH, "Non-diabetic hyperglycaemia"),
    "ndpp-referral": (NDPP_REFERRAL, "Referral to NHS Diabetes Prevention Programme"),
}

# One ICD-10 code per condition for secondary diagnoses; primary diagnoses draw from the shared
# ICD-10 list where the condition has one.
ICD10_SECONDARY = {
    "hypertension": "I10", "diabetes": "E119", "asthma": "J459", "copd": "J449",
    "atrial_fibrillation": "I489", "heart_failure": "I509", "ckd": "N183", "dementia": "F03",
    "depression": "F329", "smi": "F209", "chd": "I251", "stroke_tia": "I64",
    "epilepsy": "G409", "learning_disability": "F79", "cancer": "C809", "osteoporosis": "M819",
    "rheumatoid_arthritis": "M069", "pad": "I739", "palliative_care": "Z515",
}  # fmt: skip
ICD10_EMERGENCY = ["R074", "J189", "N390", "R55", "R104", "S720", "I219", "J440", "L031",
                   "A099", "R296", "F059", "I639", "N179", "E86", "J22"]  # fmt: skip
ICD10_DEATH_OTHER = ["I219", "J189", "C349", "I64", "J449", "F03", "I251", "C509"]
# Elective: (OPCS-4 procedure, the ICD-10 diagnosis that usually goes with it).
ELECTIVE = [("C712", "H259"), ("H229", "K573"), ("G459", "K219"), ("W401", "M171"),
            ("W371", "M161"), ("M459", "R31"), ("T201", "K409"), ("J183", "K802"),
            ("X352", "C509"), ("M421", "C679")]  # fmt: skip
OPCS_EMERGENCY = ["U051", "G451", "W461", "H011", "K634"]

ED_COMPLAINTS = ["29857009", "267036007", "21522001", "25064002", "161898004", "271594007",
                 "422587007", "386661006", "422400008", "125605004", "22253000", "271807003",
                 "267038008"]  # fmt: skip
ED_DIAGNOSES = ["233604007", "68566005", "22298006", "49436004", "230690007", "195967001",
                "13645005", "72704001", "62315008", "84114007", "271737000", "125667009",
                "44465007", "91175000"]  # fmt: skip
ED_DISCHARGED_HOME = "306689006"
ED_ADMITTED = "306706006"
ED_TRANSFERRED = "19712007"

TREATMENT_FUNCTIONS = ["100", "101", "110", "120", "130", "300", "301", "320", "330", "340",
                       "400", "502", "800", "370"]  # fmt: skip
PAEDIATRICS = "420"
COMMUNITY_SERVICES = ["district nursing", "physiotherapy", "podiatry", "community matron",
                      "falls service"]  # fmt: skip
SOCIAL_CARE_SERVICES = ["home care", "residential care", "nursing care", "direct payment",
                        "reablement"]  # fmt: skip
