"""Per-school absence model fitted to the real overall and persistent absence rates.

A pupil's absence rate is r = min(CAP, exp(mu + b_sen + sigma * Z)), Z ~ N(0, 1), with
b_sen the SEN uplift. For each school we choose (mu, sigma) so that, over the school's
SEN mix, the expected share of sessions missed equals the real overall absence rate and
the share of pupils missing 10% or more equals the real persistent absence rate. The
expectations are taken on a fixed grid of normal quantiles, so the fit is deterministic.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from pipelines.generate.stats import ndtri

CAP = 0.95
PA_LINE = np.log(0.10)
# Real data: pupils with SEN support miss ~1.45x, with an EHC plan ~1.75x the sessions of
# pupils without SEN (DfE pupil absence statistics, recent years).
SEN_UPLIFT = np.log(np.array([1.0, 1.45, 1.75]))

_NODES = ndtri((np.arange(48) + 0.5) / 48)  # midpoint rule for E[f(Z)]
_SIGMAS = np.linspace(0.25, 2.0, 26)


def fit(absence: NDArray[np.float64], persistent: NDArray[np.float64],
        mix: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(mu, sigma) per school; mix is the (schools, 3) share of N, K and E pupils."""
    n = absence.shape[0]
    # For each candidate sigma, find mu matching the mean by bisection (mean is monotone in mu).
    lo = np.full((n, _SIGMAS.size), -12.0)
    hi = np.full((n, _SIGMAS.size), 0.0)
    shift = SEN_UPLIFT[None, None, :, None]
    sig = _SIGMAS[None, :, None, None]
    w = mix[:, None, :]
    for _ in range(26):  # brackets mu to within 12 / 2**26
        mid = (lo + hi) / 2
        rate = np.minimum(CAP, np.exp(mid[:, :, None, None] + shift + sig * _NODES))
        mean = (rate.mean(axis=3) * w).sum(axis=2)
        too_high = mean > absence[:, None]
        hi = np.where(too_high, mid, hi)
        lo = np.where(too_high, lo, mid)
    mu = (lo + hi) / 2
    z_line = (PA_LINE - mu[:, :, None] - SEN_UPLIFT[None, None, :]) / _SIGMAS[None, :, None]
    pa = ((_NODES[None, None, None, :] >= z_line[..., None]).mean(axis=3) * w).sum(axis=2)
    best = np.abs(pa - persistent[:, None]).argmin(axis=1)
    rows = np.arange(n)
    return mu[rows, best], _SIGMAS[best]
