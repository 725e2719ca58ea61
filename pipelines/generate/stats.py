"""Small vectorised statistics helpers (numpy has no normal quantile function, and scipy is
not a dependency of the project)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]

# Acklam's rational approximation to the inverse standard normal CDF (|relative error|
# < 1.2e-9): plenty for turning prevalences into latent thresholds.
_A = (-3.969683028665376e01, 2.209460984245205e02, -2.759285104469687e02,
      1.383577518672690e02, -3.066479806614716e01, 2.506628277459239e00)
_B = (-5.447609879822406e01, 1.615858368580409e02, -1.556989798598866e02,
      6.680131188771972e01, -1.328068155288572e01)
_C = (-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e00,
      -2.549732539343734e00, 4.374664141464968e00, 2.938163982698783e00)
_D = (7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e00,
      3.754408661907416e00)
_P_LOW = 0.02425


def ndtri(p: NDArray[np.floating] | float) -> FloatArray:
    """Standard normal quantile, elementwise; p is clipped into (0, 1)."""
    q_in = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    out = np.empty_like(q_in)
    low = q_in < _P_LOW
    high = q_in > 1 - _P_LOW
    mid = ~(low | high)

    def tail(pp: FloatArray) -> FloatArray:
        q = np.sqrt(-2 * np.log(pp))
        num = ((((_C[0] * q + _C[1]) * q + _C[2]) * q + _C[3]) * q + _C[4]) * q + _C[5]
        den = (((_D[0] * q + _D[1]) * q + _D[2]) * q + _D[3]) * q + 1
        return np.asarray(num / den, dtype=np.float64)

    out[low] = tail(q_in[low])
    out[high] = -tail(1 - q_in[high])
    q = q_in[mid] - 0.5
    r = q * q
    num = (((((_A[0] * r + _A[1]) * r + _A[2]) * r + _A[3]) * r + _A[4]) * r + _A[5]) * q
    den = ((((_B[0] * r + _B[1]) * r + _B[2]) * r + _B[3]) * r + _B[4]) * r + 1
    out[mid] = num / den
    return out


def logistic(x: NDArray[np.floating] | float) -> FloatArray:
    """1 / (1 + e^-x), elementwise."""
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64))), dtype=np.float64)


def logit(p: NDArray[np.floating] | float) -> FloatArray:
    """log(p / (1 - p)), elementwise, p clipped away from 0 and 1."""
    pp = np.clip(np.asarray(p, dtype=np.float64), 1e-9, 1 - 1e-9)
    return np.asarray(np.log(pp / (1 - pp)), dtype=np.float64)


def choose(rng: np.random.Generator, weights: NDArray[np.floating]) -> NDArray[np.int64]:
    """One categorical draw per row of an (n, k) weight matrix (rows need not sum to 1)."""
    w = np.asarray(weights, dtype=np.float64)
    cum = np.cumsum(w, axis=1)
    u = rng.random(w.shape[0]) * cum[:, -1]
    return np.asarray((cum <= u[:, None]).sum(axis=1).clip(0, w.shape[1] - 1), dtype=np.int64)
