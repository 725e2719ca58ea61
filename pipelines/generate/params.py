"""Per-LA school parameters: calibration targets turned into model parameters, plus the
seeded school-level choices (school effect, inclusion base, spending profile)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from pipelines.generate import absence
from pipelines.generate.academic import N_YG
from pipelines.generate.model import SCHOOL_SD, GroupModel
from pipelines.generate.structure import Structure

# How SEN prevalence varies with age (relative to a school's overall rate): SEN support
# peaks in upper primary / lower secondary, identification is low in the early years. The
# multipliers are renormalised per school so the school's overall rate stays the real one.
K_AGE = np.array([0.3, 0.45, 0.6, 0.85, 1.0, 1.1, 1.15, 1.2, 1.2, 1.15, 1.1, 1.05, 1.0,
                  0.95, 0.6, 0.55, 0.5])
E_AGE = np.array([0.4, 0.6, 0.7, 0.85, 0.95, 1.0, 1.05, 1.05, 1.05, 1.1, 1.1, 1.1, 1.1,
                  1.1, 0.8, 0.8, 0.8])
# Relative risk of a suspension / permanent exclusion by provision (N, K, E): pupils with
# SEN are suspended about three times as often as pupils without (DfE exclusion statistics).
SUSPENSION_RR = np.array([1.0, 3.5, 3.0])
EXCLUSION_RR = np.array([1.0, 4.0, 2.5])
INCLUSION_BASE_SHARE = (0.0, 0.2, 0.5)  # nursery, primary, secondary
SPEND_PROFILES = ("individual", "systemic", "mixed")


@dataclass(frozen=True)
class LaParams:
    structure: Structure
    p_k: NDArray[np.float64]  # SEN support prevalence (real, per school)
    p_e: NDArray[np.float64]  # EHC plan prevalence
    k_norm: NDArray[np.float64]  # mean of K_AGE over the school's year groups
    e_norm: NDArray[np.float64]
    abs_mu: NDArray[np.float64]
    abs_sigma: NDArray[np.float64]
    suspended_rate: NDArray[np.float64]
    suspensions_per: NDArray[np.float64]
    exclusion_rate: NDArray[np.float64]
    susp_norm: NDArray[np.float64]  # E[SUSPENSION_RR] over the school's SEN mix
    excl_norm: NDArray[np.float64]
    school_effect: NDArray[np.float64]
    has_base: NDArray[np.bool_]
    spend_profile: NDArray[np.int64]  # index into SPEND_PROFILES


def build(schools: pl.DataFrame, structure: Structure, rng: np.random.Generator) -> LaParams:
    n = schools.height
    col = {c: schools[c].to_numpy().astype(np.float64) for c in (
        "p_sen_support", "p_ehc", "absence", "persistent_absence", "suspended_rate",
        "suspensions_per_suspended", "exclusion_rate")}
    p_k, p_e = col["p_sen_support"], col["p_ehc"]
    weights = structure.target / np.maximum(structure.target.sum(axis=1, keepdims=True), 1)
    k_norm = np.where(weights.sum(axis=1) > 0, weights @ K_AGE, 1.0)
    e_norm = np.where(weights.sum(axis=1) > 0, weights @ E_AGE, 1.0)
    mix = np.stack([1 - p_k - p_e, p_k, p_e], axis=1)
    mu, sigma = absence.fit(col["absence"], col["persistent_absence"], mix)
    return LaParams(
        structure=structure,
        p_k=p_k,
        p_e=p_e,
        k_norm=k_norm,
        e_norm=e_norm,
        abs_mu=mu,
        abs_sigma=sigma,
        suspended_rate=col["suspended_rate"],
        suspensions_per=col["suspensions_per_suspended"],
        exclusion_rate=col["exclusion_rate"],
        susp_norm=mix @ SUSPENSION_RR,
        excl_norm=mix @ EXCLUSION_RR,
        school_effect=rng.normal(0, SCHOOL_SD, n),
        has_base=rng.random(n) < np.array(INCLUSION_BASE_SHARE)[structure.phase],
        spend_profile=rng.choice(len(SPEND_PROFILES), size=n, p=[0.35, 0.3, 0.35]),
    )


@dataclass(frozen=True)
class YearParams:
    """What changes from year to year for each school."""

    start: int
    index: int  # 0 for the first generated year
    quality: NDArray[np.float64]  # inclusion quality Q (see model.py)
    improvement: NDArray[np.float64]  # the improvement part of Q
    sessions: NDArray[np.int64]  # possible sessions for a full year on roll
    group_ids: list[str | None]


def year(la: LaParams, groups: list[GroupModel], group_ids: list[str | None], start: int,
         index: int, rng: np.random.Generator) -> YearParams:
    improvement = np.array([g.improvement(index) for g in groups])
    effect = np.array([g.effect for g in groups])
    return YearParams(
        start=start,
        index=index,
        quality=la.school_effect + effect + improvement,
        improvement=improvement,
        # Schools open for 187-193 days (two sessions a day) depending on INSET days.
        sessions=2 * rng.integers(187, 194, la.structure.n),
        group_ids=group_ids,
    )


def age_scaled(base: NDArray[np.float64], age: NDArray[np.float64], norm: NDArray[np.float64],
               school: NDArray[np.int64], year_group: NDArray[np.int64]) -> NDArray[np.float64]:
    """A per-pupil prevalence: the school's rate shaped by age, keeping the school mean."""
    return np.asarray(base[school] * age[year_group] / norm[school], dtype=np.float64)


assert K_AGE.size == N_YG and E_AGE.size == N_YG
