"""Allocations and termly spend returns.

Allocation = a base amount + a per-pupil amount + more per pupil with SEN support and
with an EHC plan (with a little local variation). Spend totals 80-105% of the allocation,
split over the terms and over categories by the school's spending profile: "individual"
schools spend mostly on one-to-one support and bought-in specialists, "systemic" schools on
coaching, staff development and collaboration, "mixed" in between. Improving groups move
money from individual to systemic work each year. Only schools with an inclusion base
spend on `inclusion_base`.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate.params import SPEND_PROFILES, LaParams, YearParams

TERMS = ("autumn", "spring", "summer")
LAYERS = ("systemic", "targeted", "individual", "other")
PROFILE_SHARES = {
    "individual": [0.15, 0.18, 0.65, 0.02],
    "systemic": [0.58, 0.22, 0.17, 0.03],
    "mixed": [0.33, 0.28, 0.35, 0.04],
}
SYSTEMIC_SHIFT_PER_YEAR = 0.06
MONEY_VARIANT_SHARE = 0.03  # valid "£1,234.50" amounts, as finance systems export them
DESCRIBED_SHARE = 0.4
DESCRIPTIONS = {
    "coaching_and_modelling": ["Specialist teacher coaching in classrooms",
                               "Autism outreach teacher modelling strategies",
                               "SEMH lead coaching class teachers"],
    "staff_development": ["Whole-staff training on adaptive teaching",
                          "Speech and language training for all teaching assistants",
                          "Trauma-informed practice programme (all staff)"],
    "specialist_collaboration": ["Outreach from the local special school",
                                 "Shared SENCo network across the partnership",
                                 "Joint planning with the specialist resource base"],
    "inclusive_environment": ["Visual timetables for every classroom",
                              "Assistive technology licences for all pupils",
                              "Quiet room furnishing"],
    "early_identification": ["Reception language screening", "Dyslexia screening licences",
                             "SENCo assessment time"],
    "family_partnership": ["Parent carer workshops", "Family support worker (part time)",
                           "Drop-in sessions with the parent carer forum"],
    "small_group_intervention": ["Phonics catch-up groups", "Social communication groups",
                                 "Maths recovery group (6 weeks)"],
    "inclusion_base": ["Inclusion base staffing", "Inclusion base resources"],
    "one_to_one_support": ["Teaching assistant 1:1 support", "Individual support hours"],
    "external_specialist_purchase": ["Educational psychologist assessments",
                                     "Speech and language therapy sessions",
                                     "Occupational therapy assessment"],
    "individual_equipment": ["Writing slope and pencil grips", "Ear defenders",
                             "Laptop with reading software for one pupil"],
    "other": ["Transport for a specialist provision visit", "Sensory room consumables",
              "Exam access arrangements", "Mileage for outreach visits"],
}
SPEND_COLUMNS = ("urn", "academic_year", "term", "category", "amount_gbp", "description")


def allocations_pence(rng: np.random.Generator, pupils: NDArray[np.int64],
                      n_k: NDArray[np.int64], n_e: NDArray[np.int64]) -> NDArray[np.int64]:
    pounds = 8_000 + 25 * pupils + 350 * n_k + 1_200 * n_e
    pence = np.round(pounds * 100 * rng.uniform(0.97, 1.03, pupils.size)).astype(np.int64)
    return np.asarray(np.minimum(pence, 500_000_000), dtype=np.int64)


def money(pence: NDArray[np.int64]) -> pl.Series:
    """Plain 'pounds.pence' text (two decimals always)."""
    p = pl.Series(pence)
    return (p // 100).cast(pl.String) + "." + (p % 100).cast(pl.String).str.zfill(2)


def money_variant(pence: int) -> str:
    """The same amount as Excel's currency format shows it: '£1,234.50'."""
    return f"£{pence // 100:,}.{pence % 100:02d}"


def _layer_shares(profiles: NDArray[np.int64], index: int, improving: NDArray[np.bool_]
                  ) -> NDArray[np.float64]:
    """(schools, layers) share of spend per layer, improving groups shifted to systemic."""
    shares = np.array([PROFILE_SHARES[p] for p in SPEND_PROFILES])[profiles]
    shift = np.where(improving, np.minimum(SYSTEMIC_SHIFT_PER_YEAR * index, shares[:, 2] - 0.05),
                     0.0)
    shares[:, 0] += shift
    shares[:, 2] -= shift
    return np.asarray(shares, dtype=np.float64)


def spend_lines(rng: np.random.Generator, la: LaParams, yr: YearParams, improving: list[bool],
                alloc: NDArray[np.int64], schools: NDArray[np.int64], categories: pl.DataFrame,
                year_label: str) -> pl.DataFrame:
    """Every spend line for the listed schools (indices into the LA) in one year.

    Vectorised over (school, term, category) cells: each cell's amount is split over a
    few lines (more for one-to-one support, which is often itemised per pupil)."""
    codes = categories["code"].to_list()
    layer_idx = np.array([LAYERS.index(layer) for layer in categories["layer"]])
    n, k = schools.size, len(codes)
    allowed = np.ones((n, k), dtype=np.bool_)
    allowed[:, codes.index("inclusion_base")] = la.has_base[schools]
    # Dirichlet(1.5) within each layer, via normalised gamma draws.
    raw = rng.gamma(1.5, size=(n, k)) * allowed
    layer_sum = np.zeros((n, len(LAYERS)))
    for li in range(len(LAYERS)):
        layer_sum[:, li] = raw[:, layer_idx == li].sum(axis=1)
    shares = _layer_shares(la.spend_profile[schools], yr.index, np.array(improving)[schools])
    weights = raw / np.maximum(layer_sum[:, layer_idx], 1e-12) * shares[:, layer_idx]
    total = alloc[schools] * rng.uniform(0.80, 1.05, n)
    terms = rng.dirichlet([30.0, 33.0, 37.0], size=n)
    cell = (total[:, None, None] * terms[:, :, None] * weights[:, None, :]
            * rng.uniform(0.8, 1.2, (n, len(TERMS), k)))
    keep = np.broadcast_to((weights > 0.01)[:, None, :], cell.shape)
    s_i, t_i, c_i = np.nonzero(keep)  # row-major: school, then term, then category
    amount = cell[s_i, t_i, c_i]
    lam = np.where(np.array(codes)[c_i] == "one_to_one_support", 1.2, 0.5)
    lines = 1 + rng.poisson(lam)
    line_cell = np.repeat(np.arange(amount.size), lines)
    g = rng.gamma(4.0, size=line_cell.size)
    cell_sum = np.bincount(line_cell, weights=g, minlength=amount.size)
    pence = np.floor(g / cell_sum[line_cell] * amount[line_cell]).astype(np.int64)
    ok = pence > 0
    line_cell, pence = line_cell[ok], pence[ok]
    cat = c_i[line_cell]
    # Descriptions: always for `other`, sometimes elsewhere, from the category's phrases.
    flat = [d for c in codes for d in DESCRIPTIONS[c]]
    offset = np.cumsum([0, *(len(DESCRIPTIONS[c]) for c in codes)])
    pick = offset[cat] + np.floor(rng.random(cat.size) * np.diff(offset)[cat]).astype(np.int64)
    described = (cat == codes.index("other")) | (rng.random(cat.size) < DESCRIBED_SHARE)
    description = pl.Series([*flat, None], dtype=pl.String).gather(
        np.where(described, pick, len(flat)))
    amounts = money(pence).to_list()
    for i in np.flatnonzero(rng.random(len(amounts)) < MONEY_VARIANT_SHARE).tolist():
        amounts[i] = money_variant(int(pence[i]))
    m = pence.size
    return pl.DataFrame({
        "urn": la.structure.urn[schools][s_i[line_cell]],
        "academic_year": pl.repeat(year_label, m, eager=True),
        "term": pl.Series(TERMS, dtype=pl.String).gather(t_i[line_cell]),
        "category": pl.Series(codes, dtype=pl.String).gather(cat),
        "amount_gbp": pl.Series(amounts, dtype=pl.String),
        "description": description,
    })


def allocation_frame(la: LaParams, schools: NDArray[np.int64], alloc: NDArray[np.int64],
                     year_label: str) -> pl.DataFrame:
    return pl.DataFrame({
        "urn": la.structure.urn[schools],
        "academic_year": pl.repeat(year_label, schools.size, eager=True),
        "allocation_gbp": money(alloc[schools]),
    })
