"""One academic year of pupil outcomes for everyone on an LA's roll (vectorised).

Effects follow the real data in direction and rough size: pupils with SEN miss more
sessions, are suspended and excluded more, meet the expected standard far less often and
leave for home education or alternative provision more often. School/group inclusion
quality Q (model.py) moves plan reviews, targets met, inclusion-base time, early
identification, unexplained leaving and sustained destinations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from pipelines.generate import absence
from pipelines.generate.academic import (
    Y2,
    Y3,
    Y6,
    Y11,
    Y_R,
    day_number,
    first_day,
    yg,
)
from pipelines.generate.params import (
    E_AGE,
    EXCLUSION_RR,
    K_AGE,
    SUSPENSION_RR,
    LaParams,
    YearParams,
    age_scaled,
)
from pipelines.generate.population import Roll
from pipelines.generate.stats import choose, logistic, logit, ndtri
from pipelines.generate.structure import SIXTH_FORM_STAY

NEEDS = ("SPLD", "MLD", "SLD", "PMLD", "SEMH", "SLCN", "HI", "VI", "MSI", "PD", "ASD", "OTH", "NSA")
NSA = NEEDS.index("NSA")
# Primary need mix by (phase, provision), shaped on the DfE "Special educational needs in
# England" tables: speech and language dominates primary SEN support, SEMH and SpLD
# secondary, autism EHC plans.
NEED_MIX = {
    ("primary", 1): [9, 17, 0.3, 0.1, 19, 35, 1.5, 0.8, 0.2, 2, 8, 4, 3],
    ("secondary", 1): [21, 17, 0.3, 0.1, 24, 13, 2, 1, 0.2, 2.2, 11, 5, 3],
    ("primary", 2): [2, 8, 3, 0.5, 14, 27, 2, 1, 0.3, 5, 35, 2, 0],
    ("secondary", 2): [6, 10, 2, 0.3, 19, 12, 3, 1.5, 0.3, 5, 39, 2, 0],
}
REASONS = ("transfer", "moved_away", "elective_home_education", "alternative_provision",
           "end_of_phase", "other", "unknown")
_R = {r: i for i, r in enumerate(REASONS)}
# Mid-year leaving reasons (end_of_phase is decided separately) for a pupil without SEN.
_MID_REASON_W = np.array([0.42, 0.30, 0.08, 0.03, 0.0, 0.05, 0.12])
_UNEXPLAINED = np.array([r in ("elective_home_education", "alternative_provision", "other",
                               "unknown") for r in REASONS])
DESTINATIONS = ("education", "apprenticeship", "employment", "training", "neet", "unknown")
_DEST_W = {  # (year 11 | year 12+) x (N | SEN)
    (11, 0): [0.87, 0.04, 0.02, 0.02, 0.02, 0.03],
    (11, 1): [0.80, 0.03, 0.02, 0.04, 0.06, 0.05],
    (13, 0): [0.62, 0.09, 0.17, 0.01, 0.04, 0.07],
    (13, 1): [0.50, 0.07, 0.17, 0.04, 0.10, 0.12],
}
# Share meeting the expected standard (KS2 reading, writing and maths; KS4 grade 4+ in
# English and maths) by provision N, K, E.
_EXPECTED = {Y6: np.array([0.70, 0.24, 0.09]), Y11: np.array([0.72, 0.36, 0.15])}
_ATTAIN_SD = 0.8
_MID_LEAVE_RATE = 0.025
_SEN_PERSISTENCE = 0.85  # correlation of the need latent from one year to the next


@dataclass
class Outcomes:
    """Arrays parallel to the roll; -1 marks an empty (null) value in integer columns."""

    sen: NDArray[np.int64]
    need: NDArray[np.int64]
    first_id: NDArray[np.int64]
    possible: NDArray[np.int64]
    attended: NDArray[np.int64]
    base: NDArray[np.int64]
    suspensions: NDArray[np.int64]
    excluded: NDArray[np.bool_]
    targets_set: NDArray[np.int64]
    targets_met: NDArray[np.int64]
    reviewed_on: NDArray[np.int64]  # day number
    left: NDArray[np.bool_]
    reason: NDArray[np.int64]
    destination: NDArray[np.int64]
    sustained: NDArray[np.int64]  # -1 null, 0 false, 1 true
    met_expected: NDArray[np.int64]
    in_year_leaver: NDArray[np.bool_]  # left before the end of the year

    @property
    def end_of_phase(self) -> NDArray[np.bool_]:
        return np.asarray(self.reason == _R["end_of_phase"])


def _sen(rng: np.random.Generator, roll: Roll, la: LaParams) -> NDArray[np.int64]:
    """Provision this year: a latent need, persistent but noisy, against the school's
    thresholds; EHC plans are kept once made (they move with the child)."""
    s, g = roll["school"], roll["yg"]
    p_e = np.clip(age_scaled(la.p_e, E_AGE, la.e_norm, s, g), 0, 0.5)
    p_k = np.clip(age_scaled(la.p_k, K_AGE, la.k_norm, s, g), 0, 0.9 - p_e)
    z = roll["z_need"]
    ehc = (z > ndtri(1 - p_e)) | (roll["sen_prev"] == 2)
    latent = np.sqrt(_SEN_PERSISTENCE) * z + np.sqrt(1 - _SEN_PERSISTENCE) * rng.standard_normal(
        z.size)
    support = ~ehc & (latent > ndtri(1 - p_e - p_k))
    return np.where(ehc, 2, np.where(support, 1, 0)).astype(np.int64)


def _identify(rng: np.random.Generator, roll: Roll, sen: NDArray[np.int64],
              quality: NDArray[np.float64]) -> None:
    """Fill first_id and need for pupils with SEN who have none yet (updates the roll)."""
    g = roll["yg"]
    first_id, need = roll["first_id"], roll["need"]
    newly = (sen > 0) & (first_id < 0)
    now = newly & roll["history"]
    first_id[now] = g[now]
    # Pupils the simulation meets for the first time bring a history: their SEN was
    # identified some time up to now; better schools/groups identify more of it early.
    hist = np.flatnonzero(newly & ~roll["history"])
    gh = g[hist]
    early_p = logistic(-0.2 + 0.8 * quality[hist] + 0.5 * (sen[hist] == 2))
    early_yg = choose(rng, np.tile([0.05, 0.15, 0.3, 0.25, 0.25], (hist.size, 1)))
    later_yg = Y3 + np.floor(rng.random(hist.size) * np.maximum(gh - Y3 + 1, 1)).astype(np.int64)
    young_yg = np.floor(rng.random(hist.size) * (gh + 1)).astype(np.int64)
    pick = np.where(gh <= Y2, young_yg, np.where(rng.random(hist.size) < early_p, early_yg,
                                                 later_yg))
    first_id[hist] = np.minimum(pick, gh)
    redraw = np.flatnonzero(((sen > 0) & (need < 0)) | ((sen == 2) & (need == NSA)))
    for (phase, level), mix in NEED_MIX.items():
        in_phase = (g[redraw] <= Y6) if phase == "primary" else (g[redraw] > Y6)
        idx = redraw[in_phase & (sen[redraw] == level)]
        w = np.asarray(mix, dtype=np.float64)
        need[idx] = rng.choice(len(NEEDS), size=idx.size, p=w / w.sum())


def simulate(rng: np.random.Generator, roll: Roll, la: LaParams, yr: YearParams) -> Outcomes:
    """Outcomes for the year; also updates the roll's SEN history in place."""
    n = len(roll)
    s, g = roll["school"], roll["yg"]
    q = yr.quality[s]
    sen = _sen(rng, roll, la)
    _identify(rng, roll, sen, q)
    is_sen = sen > 0
    schoolage = g >= Y_R

    # Suspensions and permanent exclusions, calibrated per school with SEN relative risks;
    # an improving group's SEN pupils are suspended less each year.
    trend = np.exp(-0.6 * yr.improvement[s] * is_sen)
    p_susp = (la.suspended_rate[s] * SUSPENSION_RR[sen] / la.susp_norm[s]
              * np.exp(0.9 * roll["z_behav"] - 0.405) * trend)
    suspended = schoolage & (rng.random(n) < np.minimum(p_susp, 0.9))
    per = np.maximum(la.suspensions_per[s] - 1, 0)
    suspensions = np.where(suspended, np.minimum(1 + rng.poisson(per), 50), 0)
    p_excl = la.exclusion_rate[s] * EXCLUSION_RR[sen] / la.excl_norm[s] * trend
    excluded = schoolage & (rng.random(n) < p_excl)
    suspensions = np.where(excluded, np.maximum(suspensions, 1), suspensions)

    # Leaving the roll: in year (any reason but end_of_phase) or at the end of the phase.
    final = g == la.structure.final[s]
    p_mid = _MID_LEAVE_RATE * np.where(is_sen, 1.6, 1.0) * np.exp(0.25 * roll["z_abs"])
    in_year = excluded | (rng.random(n) < p_mid)
    weights = np.tile(_MID_REASON_W, (n, 1))
    weights[:, _R["elective_home_education"]] *= np.where(is_sen, 1.8, 1.0)
    weights[:, _R["alternative_provision"]] *= np.where(is_sen, 2.5, 1.0)
    weights[:, _UNEXPLAINED] *= np.exp(-0.6 * q)[:, None]
    reason = np.where(in_year, choose(rng, weights), -1)
    reason[excluded] = _R["alternative_provision"]
    stays_on = la.structure.sixth_form[s] & (g == Y11) & (rng.random(n) < SIXTH_FORM_STAY)
    eop = ~in_year & (final | ((g == Y11) & la.structure.sixth_form[s] & ~stays_on))
    nursery_move = ~in_year & ~final & (g == yg("N2")) & (rng.random(n) < 0.15)
    reason[eop] = _R["end_of_phase"]
    reason[nursery_move] = _R["transfer"]
    left = in_year | eop | nursery_move
    leave_frac = np.where(in_year, rng.uniform(0.05, 0.95, n), 1.0)

    # Sessions: part-time in nursery, pro rata for joiners and leavers; absence rates from
    # the school's fitted distribution, with an improving group's SEN pupils missing less.
    full = np.where(g < Y_R, yr.sessions[s] // 2, yr.sessions[s])
    possible = np.round(full * np.maximum(roll["join_frac"] * leave_frac, 0.03)).astype(np.int64)
    z_abs = np.sqrt(0.55) * roll["z_abs"] + np.sqrt(0.45) * rng.standard_normal(n)
    uplift = absence.SEN_UPLIFT[sen] - yr.improvement[s] * np.where(is_sen, 0.25, 0.08)
    rate = np.minimum(absence.CAP, np.exp(la.abs_mu[s] + uplift + la.abs_sigma[s] * z_abs))
    attended = possible - rng.binomial(possible, rate)

    # Inclusion bases: used mostly by pupils with SEN; most users spend most time in
    # mainstream lessons, fewer where inclusion quality is higher.
    base_user = la.has_base[s] & schoolage & (rng.random(n) < np.array([0.01, 0.12, 0.35])[sen])
    share = logistic(rng.normal(-1.4 - 0.5 * q + 0.4 * (sen == 2), 1.0))
    base = np.where(base_user, np.floor(attended * share), 0).astype(np.int64)

    targets_set, targets_met, reviewed = _plans(rng, roll, sen, q, leave_frac, yr.start)
    met = _expected(rng, roll, sen, q, in_year)
    destination, sustained = _destinations(rng, g, is_sen, q, eop)
    roll.cols["sen_prev"] = sen
    return Outcomes(sen=sen, need=np.where(is_sen, roll["need"], -1),
                    first_id=np.where(is_sen, roll["first_id"], -1), possible=possible,
                    attended=attended, base=base, suspensions=suspensions, excluded=excluded,
                    targets_set=targets_set, targets_met=targets_met, reviewed_on=reviewed,
                    left=left, reason=reason, destination=destination, sustained=sustained,
                    met_expected=met, in_year_leaver=in_year)


def _plans(rng: np.random.Generator, roll: Roll, sen: NDArray[np.int64], q: NDArray[np.float64],
           leave_frac: NDArray[np.float64], start: int
           ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Support-plan targets and the latest review date for pupils with SEN."""
    n = sen.size
    ehc = sen == 2
    has_plan = (sen > 0) & (rng.random(n) > np.where(ehc, 0.03, 0.1))
    set_ = np.where(ehc, 3 + rng.poisson(2.0, n), 2 + rng.poisson(1.5, n))
    p_met = logistic(0.2 + 0.6 * q + 0.4 * roll["z_attain"] - 0.3 * ehc)
    met = rng.binomial(set_, p_met)
    targets_set = np.where(has_plan, set_, -1)
    targets_met = np.where(has_plan, met, -1)
    day0 = day_number(first_day(start))
    # Reviews fall between late September and late July, and before a leaver left.
    span = (day_number(dt.date(start + 1, 7, 20)) - day0 - 19) * leave_frac
    this_year = day0 + 19 + np.floor(rng.random(n) * span).astype(np.int64)
    last_year = day0 - 365 + 19 + rng.integers(0, 300, n)
    p_review = logistic(0.9 + 0.9 * q + 0.7 * ehc)
    reviewed_now = (sen > 0) & (rng.random(n) < p_review)
    stale = (sen > 0) & ~reviewed_now & (roll["first_id"] < roll["yg"]) & (rng.random(n) < 0.7)
    reviewed = np.where(reviewed_now, this_year, np.where(stale, last_year, -1))
    return targets_set, targets_met, reviewed


def _expected(rng: np.random.Generator, roll: Roll, sen: NDArray[np.int64],
              q: NDArray[np.float64], in_year: NDArray[np.bool_]) -> NDArray[np.int64]:
    """met_expected_standard for years 6 and 11 (empty elsewhere and for in-year leavers)."""
    g = roll["yg"]
    out = np.full(sen.size, -1, dtype=np.int64)
    # Inflate the logit so that, averaged over the pupil attainment trait, each group's
    # share lands on the target (the probit-logit approximation for a normal mixture).
    scale = np.sqrt(1 + 0.346 * _ATTAIN_SD**2)
    for year, target in _EXPECTED.items():
        idx = np.flatnonzero((g == year) & ~in_year & (rng.random(sen.size) > 0.02))
        x = logit(target[sen[idx]]) * scale + _ATTAIN_SD * roll["z_attain"][idx] + 0.25 * q[idx]
        out[idx] = (rng.random(idx.size) < logistic(x)).astype(np.int64)
    return out


def _destinations(rng: np.random.Generator, g: NDArray[np.int64], is_sen: NDArray[np.bool_],
                  q: NDArray[np.float64], eop: NDArray[np.bool_]
                  ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Destinations of end-of-phase leavers in year 11 and above (a few not yet known)."""
    n = g.size
    dest = np.full(n, -1, dtype=np.int64)
    sustained = np.full(n, -1, dtype=np.int64)
    for (year, sen_flag), w in _DEST_W.items():
        in_year = (g == Y11) if year == 11 else (g > Y11)
        idx = np.flatnonzero(eop & in_year & (is_sen == bool(sen_flag)) & (rng.random(n) > 0.04))
        dest[idx] = rng.choice(len(DESTINATIONS), size=idx.size, p=np.array(w) / sum(w))
    p_sus = logistic(2.0 + 0.4 * q - 0.6 * is_sen)
    given = dest >= 0
    sustained[given] = (rng.random(n)[given] < p_sus[given]).astype(np.int64)
    sustained[dest == DESTINATIONS.index("neet")] = 0
    sustained[dest == DESTINATIONS.index("unknown")] = -1
    return dest, sustained
