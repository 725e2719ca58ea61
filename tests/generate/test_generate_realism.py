"""The demo data behave like the real thing: calibrated to the real school figures for
Middlesbrough (LA 806), worse on average for pupils with SEN, pupils followed across years,
and the improving partnership group visibly improving."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from .gen_contract_rules import read_rows, read_seed

Demo = tuple[Path, dict[str, Any]]
YEARS = ("2023-24", "2024-25", "2025-26")
TRUE = {"y", "yes", "true", "1"}
# Stated tolerances (percentage points) between generated and real pupil-weighted figures.
TOLERANCE_PP = {"sen_support": 1.5, "ehc_plan": 0.5, "absence": 0.75, "persistent_absence": 2.5}


def _rows(out: Path, source: str, year: str) -> list[dict[str, str]]:
    return read_rows(out / source / f"806_{year}_{source}.csv")[1]


def _real_figures() -> dict[str, float]:
    """Pupil-weighted (register headcount) real figures for LA 806's mainstream schools."""
    schools = {r["urn"]: int(r["headcount_pupils"]) for r in read_seed("schools.csv")
               if r["la_code"] == "806" and r["is_mainstream"] == "true"}
    sen = {r["urn"]: r for r in read_seed("calibration/school_sen_2018-19.csv")}
    absence = {r["urn"]: r for r in read_seed("calibration/school_absence_2018-19.csv")}

    def weighted(table: dict[str, dict[str, str]], col: str) -> float:
        pairs = [(schools[u], float(r[col])) for u, r in table.items()
                 if u in schools and r[col] != ""]
        return sum(w * v for w, v in pairs) / sum(w for w, _ in pairs)

    return {"sen_support": weighted(sen, "sen_support_percent"),
            "ehc_plan": weighted(sen, "ehc_plan_percent"),
            "absence": weighted(absence, "overall_absence_percent"),
            "persistent_absence": weighted(absence, "persistent_absence_percent"),
            "_urns": 0.0}


def _generated(rows: list[dict[str, str]], urns: set[str]) -> dict[str, float]:
    rows = [r for r in rows if r["urn"] in urns]
    counted = [r for r in rows if int(r["sessions_possible"]) > 0]
    possible = sum(int(r["sessions_possible"]) for r in counted)
    attended = sum(int(r["sessions_attended"]) for r in counted)
    pa = sum(int(r["sessions_attended"]) < 0.9 * int(r["sessions_possible"]) for r in counted)
    return {"sen_support": 100 * sum(r["sen_provision"] == "K" for r in rows) / len(rows),
            "ehc_plan": 100 * sum(r["sen_provision"] == "E" for r in rows) / len(rows),
            "absence": 100 * (1 - attended / possible),
            "persistent_absence": 100 * pa / len(counted)}


def test_calibrated_to_real_figures_for_the_demo_la(clean_demo: Demo) -> None:
    out, _ = clean_demo
    real = _real_figures()
    calibrated = {r["urn"] for r in read_seed("calibration/school_sen_2018-19.csv")}
    with_absence = {r["urn"] for r in read_seed("calibration/school_absence_2018-19.csv")}
    first = _rows(out, "outcomes", YEARS[0])
    got = _generated(first, calibrated & with_absence)
    for key, tol in TOLERANCE_PP.items():
        assert got[key] == pytest.approx(real[key], abs=tol), (key, got[key], real[key])
    # SEN prevalence is not part of the improvement story: it stays calibrated every year.
    for year in YEARS[1:]:
        later = _generated(_rows(out, "outcomes", year), calibrated & with_absence)
        for key in ("sen_support", "ehc_plan"):
            assert later[key] == pytest.approx(real[key], abs=TOLERANCE_PP[key])


def _rate(rows: list[Any], test: Any) -> float:
    return sum(1 for r in rows if test(r)) / len(rows)


def test_pupils_with_sen_do_worse_on_average(clean_demo: Demo) -> None:
    out, _ = clean_demo
    rows = [r for r in _rows(out, "outcomes", YEARS[0]) if int(r["sessions_possible"]) > 0]
    by = {p: [r for r in rows if r["sen_provision"] == p] for p in "NKE"}

    def absence(rs: list[dict[str, str]]) -> float:
        return 1 - sum(int(r["sessions_attended"]) for r in rs) / sum(
            int(r["sessions_possible"]) for r in rs)

    def expected(rs: list[dict[str, str]]) -> float:
        given = [r for r in rs if r["met_expected_standard"]]
        return _rate(given, lambda r: r["met_expected_standard"].lower() in TRUE)

    for p in "KE":
        assert absence(by[p]) > 1.2 * absence(by["N"])
        assert _rate(by[p], lambda r: int(r["suspensions"]) > 0) > 2 * _rate(
            by["N"], lambda r: int(r["suspensions"]) > 0)
        assert expected(by[p]) < expected(by["N"]) - 0.2
    belonging = _domain_scores(_rows(out, "voice", YEARS[0]), "belonging")
    share = {p: _rate([s for (_, sen), s in belonging.items() if sen == p],
                      lambda s: s >= 4) for p in "NKE"}
    assert share["K"] < share["N"] and share["E"] < share["N"]


def _domain_scores(rows: list[dict[str, str]], domain: str) -> dict[tuple[str, str], float]:
    """Mean response per respondent on a domain, reverse-scored items flipped (the
    indicator definition), keyed by (respondent_id, sen_provision)."""
    bank = {q["question_code"]: q for q in read_seed("question_bank.csv")}
    answers: dict[tuple[str, str], list[int]] = defaultdict(list)
    for r in rows:
        q = bank[r["question_code"]]
        if q["domain"] == domain and r["response"]:
            value = int(r["response"])
            answers[(r["respondent_id"], r["sen_provision"])].append(
                6 - value if q["reverse_scored"] == "true" else value)
    return {k: sum(v) / len(v) for k, v in answers.items()}


def test_reverse_scored_items_run_against_the_rest(clean_demo: Demo) -> None:
    out, _ = clean_demo
    rows = _rows(out, "voice", YEARS[0])
    by_resp: dict[str, dict[str, int]] = defaultdict(dict)
    for r in rows:
        if r["response"]:
            by_resp[r["respondent_id"]][r["question_code"]] = int(r["response"])
    pairs = [(v["P_BEL_1"], v["P_BEL_3"]) for v in by_resp.values()
             if "P_BEL_1" in v and "P_BEL_3" in v]
    high = [rev for pos, rev in pairs if pos == 5]
    low = [rev for pos, rev in pairs if pos <= 2]
    assert sum(high) / len(high) < sum(low) / len(low) - 1  # "I often feel left out"
    skipped = sum(1 for r in rows if r["response"] == "") / len(rows)
    assert 0.01 < skipped < 0.1
    pupils = [r for r in rows if r["respondent_type"] == "pupil"]
    assert all(r["year_group"] not in ("N1", "N2", "R", "1", "2") for r in pupils)
    assert any(r["respondent_type"] == "parent_carer" for r in rows)


def test_pupils_persist_across_years(clean_demo: Demo) -> None:
    out, _ = clean_demo
    y1, y2 = (_rows(out, "outcomes", y) for y in YEARS[:2])
    before = {r["upn"]: r for r in y1}
    after = {r["upn"]: r for r in y2}
    stayed = [u for u, r in before.items() if r["left_roll"].lower() not in TRUE]
    assert stayed and all(u in after for u in stayed)
    order = ["N1", "N2", "R", *map(str, range(1, 15))]
    for u in stayed:
        assert after[u]["urn"] == before[u]["urn"]
        assert order.index(after[u]["year_group"]) == order.index(before[u]["year_group"]) + 1
        if before[u]["sen_provision"] == "E":
            assert after[u]["sen_provision"] == "E"
        if before[u]["first_identified_year_group"] and after[u]["first_identified_year_group"]:
            assert before[u]["first_identified_year_group"] == after[u][
                "first_identified_year_group"]
    leavers = [u for u, r in before.items() if r["left_roll"].lower() in TRUE
               and r["leaving_reason"] != "end_of_phase"]
    assert leavers and not any(u in after for u in leavers)
    # Year 6 leavers reappear in year 7 at a secondary school; a new reception intake arrives.
    y6 = {u for u, r in before.items() if r["year_group"] == "6"}
    y7 = {u for u, r in after.items() if r["year_group"] == "7"}
    assert len(y6 & y7) > 0.7 * len(y6)
    new_r = [r for u, r in after.items() if r["year_group"] == "R" and u not in before]
    assert len(new_r) > 1000


def test_year_groups_and_sen_details_are_realistic(clean_demo: Demo) -> None:
    out, _ = clean_demo
    rows = _rows(out, "outcomes", YEARS[2])
    order = ["N1", "N2", "R", *map(str, range(1, 15))]
    phase = {r["urn"]: r["phase"] for r in read_seed("schools.csv") if r["la_code"] == "806"}
    for r in rows:
        yg = order.index(r["year_group"])
        if phase[r["urn"]] == "State-funded secondary":
            assert order.index("7") <= yg <= order.index("13")
        else:
            assert yg <= order.index("6")
        if r["first_identified_year_group"]:
            assert order.index(r["first_identified_year_group"]) <= yg
        if r["met_expected_standard"]:
            assert r["year_group"] in ("6", "11")
    sen = [r for r in rows if r["sen_provision"] != "N"
           and order.index(r["year_group"]) >= order.index("3")]
    early = _rate(sen, lambda r: r["first_identified_year_group"] in order[:5])
    assert 0.2 < early < 0.8
    users = [r for r in rows if int(r["base_sessions"]) > 0]
    majority = _rate(users, lambda r: int(r["base_sessions"]) > int(r["sessions_attended"]) / 2)
    assert users and 0 < majority < 0.5
    eop = [r for r in rows if r["leaving_reason"] == "end_of_phase" and r["year_group"] == "11"]
    assert eop and _rate(eop, lambda r: r["destination"] != "") > 0.9
    assert {r["leaving_reason"] for r in rows} >= {"", "end_of_phase", "transfer",
                                                   "elective_home_education"}


def test_the_improving_group_improves(clean_demo: Demo) -> None:
    out, manifest = clean_demo
    groups = manifest["model"]["groups"]
    assert {g["trajectory"] for g in groups.values()} == {"improving", "steady"}
    member = {r["urn"]: r["group_id"] for r in read_seed("group_membership.csv")}
    improving = next(g for g, m in groups.items() if m["trajectory"] == "improving")

    def sen_figures(year: str) -> tuple[float, float]:
        rows = [r for r in _rows(out, "outcomes", year)
                if member[r["urn"]] == improving and r["sen_provision"] != "N"
                and int(r["sessions_possible"]) > 0]
        pa = _rate(rows, lambda r: int(r["sessions_attended"]) < 0.9 * int(
            r["sessions_possible"]))
        voice = [r for r in _rows(out, "voice", year) if member[r["urn"]] == improving]
        scores = [s for (_, sen), s in _domain_scores(voice, "belonging").items() if sen != "N"]
        return pa, _rate(scores, lambda s: s >= 4)

    pa_first, belonging_first = sen_figures(YEARS[0])
    pa_last, belonging_last = sen_figures(YEARS[-1])
    assert pa_last < pa_first - 0.03
    assert belonging_last > belonging_first + 0.05


def test_spend_is_about_the_allocation_and_profiles_differ(clean_demo: Demo) -> None:
    out, _ = clean_demo
    layer = {c["code"]: c["layer"] for c in read_seed("spend_categories.csv")}
    alloc = {r["urn"]: float(r["allocation_gbp"]) for r in _rows(out, "allocations", YEARS[0])}
    spent: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    terms: dict[str, set[str]] = defaultdict(set)
    for r in _rows(out, "spend", YEARS[0]):
        amount = float(r["amount_gbp"].replace("£", "").replace(",", ""))
        spent[r["urn"]][layer[r["category"]]] += amount
        terms[r["urn"]].add(r["term"])
    assert set(spent) == set(alloc)
    for urn, by_layer in spent.items():
        assert 0.75 <= sum(by_layer.values()) / alloc[urn] <= 1.1
        assert terms[urn] == {"autumn", "spring", "summer"}
    shares = [{k: v / sum(s.values()) for k, v in s.items()} for s in spent.values()]
    assert any(s.get("individual", 0) > 0.5 for s in shares)
    assert any(s.get("systemic", 0) > 0.5 for s in shares)
