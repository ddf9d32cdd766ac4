"""The counts the analyst pages and the web's JSON API show, built once per `phm analyse` so
that a page view reads a small table instead of counting a million people (issue 27: the
activity page took 3.2 s per view at 1M people). Aggregates only, before disclosure control:
the web puts each through `disclosure.control_table` with the programme's rules as it reads it,
so no unrounded count leaves zone 3.

Counted from the build's own tables, so the pages and `phm measures` count the same people by
the same definitions (openphm.linked.population): the registered population at the reference
date (`in_reference_population`) for the population and multimorbidity figures, everyone
registered in the activity window (`in_window_population`, the denominator of the activity
measures) for activity and deaths in it.

| table | one row per |
|---|---|
| figures_population | figure (age_sex, ethnicity, imd) × group: people |
| figures_activity | grouping (imd_decile, practice) × group: people, activity, deaths |
| figures_multimorbidity | distribution (ltc_group, cms_band, efi_category, segment) × level |
"""

from __future__ import annotations

import ibis

POPULATION = "figures_population"
ACTIVITY = "figures_activity"
MULTIMORBIDITY = "figures_multimorbidity"
TABLES = (POPULATION, ACTIVITY, MULTIMORBIDITY)
UNKNOWN = "Unknown"
# The activity the page counts per person in the window (person_activity's columns), by the
# names the page and API give them.
ACTIVITY_COUNTS = {
    "emergency_admissions": "emergency_admissions",
    "ec_attendances": "ec_attendances",
    "outpatient_appointments": "outpatient_attendances",
    "deaths": "died",
}
ACTIVITY_GROUPINGS = ("imd_decile", "practice")
CMS_BANDS = ("0", "0.01-0.99", "1.00-1.99", "2.00-2.99", "3.00+")


def _decile(t):
    return t.imd_decile.cast("string").fill_null(UNKNOWN)


def population(pop):
    """(figure, group, sex, people): the registered population at the reference date by age
    band and sex (M and F: the pyramid), by ethnic group and by IMD decile."""
    ref = pop.filter(pop.in_reference_population)
    pyramid = ref.filter(ref.sex.isin(["M", "F"]))
    parts = [
        pyramid.group_by(group=pyramid.age_band, sex=pyramid.sex).agg(people=pyramid.count()),
        ref.group_by(group=ref.ethnic_group.fill_null(UNKNOWN)).agg(people=ref.count()),
        ref.group_by(group=_decile(ref)).agg(people=ref.count()),
    ]
    named = []
    for figure, part in zip(("age_sex", "ethnicity", "imd"), parts, strict=True):
        sex = part.sex if "sex" in part.columns else ibis.null("string")
        named.append(
            part.select(
                figure=ibis.literal(figure),
                group=part.group.cast("string"),
                sex=sex.cast("string"),
                people=part.people.cast("int64"),
            )
        )
    return named[0].union(named[1]).union(named[2])


def activity(pop, person_activity):
    """(grouping, group, people, emergency_admissions, ec_attendances,
    outpatient_appointments, deaths): activity in the window and deaths in it, of everyone
    registered in the window, by IMD decile and by practice."""
    t = pop.filter(pop.in_window_population).select("pseudonym", "imd_decile", "practice")
    t = t.left_join(person_activity, "pseudonym").drop("pseudonym_right")
    sums = {name: t[column].fill_null(0).sum().cast("int64")
            for name, column in ACTIVITY_COUNTS.items()}  # fmt: skip
    groups = {
        "imd_decile": _decile(t),
        "practice": t.practice.cast("string"),
    }
    parts = [
        t.group_by(group=groups[g])
        .agg(people=t.count().cast("int64"), **sums)
        .mutate(grouping=ibis.literal(g))
        for g in ACTIVITY_GROUPINGS
    ]
    both = parts[0].union(parts[1])
    return both.select("grouping", "group", "people", *ACTIVITY_COUNTS)


def _cms_band(cms):
    return ibis.cases(
        (cms == 0, CMS_BANDS[0]),
        (cms < 1, CMS_BANDS[1]),
        (cms < 2, CMS_BANDS[2]),
        (cms < 3, CMS_BANDS[3]),
        else_=CMS_BANDS[4],
    )


def multimorbidity(pop, scores, segments):
    """(distribution, level, people): the registered population at the reference date by
    long-term conditions, Cambridge Multimorbidity Score band, eFI category (aged 65 and
    over) and Bridges to Health segment."""
    t = pop.filter(pop.in_reference_population).select("pseudonym", "aged_65_plus")
    t = t.join(scores.select("pseudonym", "cms", "efi_category"), "pseudonym")
    t = t.join(segments.select("pseudonym", "ltc_group", "segment"), "pseudonym")
    older = t.filter(t.aged_65_plus)
    parts = {
        "ltc_group": (t, t.ltc_group),
        "cms_band": (t, _cms_band(t.cms)),
        "efi_category": (older, older.efi_category),
        "segment": (t, t.segment),
    }
    out = None
    for name, (rows, level) in parts.items():
        part = rows.group_by(level=level.cast("string")).agg(people=rows.count().cast("int64"))
        part = part.select(distribution=ibis.literal(name), level=part.level, people=part.people)
        out = part if out is None else out.union(part)
    return out
