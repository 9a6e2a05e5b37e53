"""Coefficients of ffi/vecmath.h's dbk_vgelu_rational: erf(x / sqrt(2)) ~ x P(x^2) / Q(x^2) on |x| <= XMAX.

A rational least-squares fit in x^2 (Sanathanan-Koerner iterations, then Lawson reweighting towards the
minimax error), printed as C float literals for P (degree 5 in x^2) and Q (degree 5, Q(0) = 1). Beyond XMAX
erf(x / sqrt(2)) is 1 to within float rounding (1 - erf(3.92) = 5.4e-8). The float evaluation is what
ffi/test/test_kernels.c measures; this script reports the fit's own error in double precision.

Usage: python3 scripts/fit_gelu_rational.py   (numpy and scipy; paste its output into ffi/vecmath.h)
"""

import numpy as np
from scipy.special import erf

XMAX = 5.5437  # 3.92 * sqrt(2)
NP, NQ = 6, 5  # P's coefficients; Q's beyond its constant 1


def fit():
    # Chebyshev-clustered and uniform points on [0, XMAX]; the function is odd, so the half suffices.
    x = np.sort(np.concatenate([
        (np.cos(np.linspace(0, np.pi, 20000)) + 1) * XMAX / 2,
        np.linspace(0, XMAX, 20000),
    ]))
    s = XMAX * XMAX
    u = x * x / s  # scaled to [0, 1] for a well-conditioned basis
    f = erf(x / np.sqrt(2))
    w = np.ones_like(x)
    q_prev = np.ones_like(x)
    best = None
    for _ in range(80):
        a = np.concatenate([
            np.stack([x * u**k for k in range(NP)], 1),
            np.stack([-f * u**k for k in range(1, NQ + 1)], 1),
        ], 1)
        r = np.sqrt(w) / q_prev
        sol, *_ = np.linalg.lstsq(a * r[:, None], f * r, rcond=None)
        p, q = sol[:NP], np.concatenate([[1.0], sol[NP:]])
        qv = np.polyval(q[::-1], u)
        err = x * np.polyval(p[::-1], u) / qv - f
        m = np.abs(err).max()
        if best is None or m < best[0]:
            best = (m, p.copy(), q.copy())
        q_prev = qv
        w = w * np.abs(err)
        w /= w.sum()
    m, p, q = best
    return m, [c / s**k for k, c in enumerate(p)], [c / s**k for k, c in enumerate(q)]


m, p, q = fit()
print(f"// max |error| of the fit in double precision: {m:.3g}")
print("P (x^0 .. x^10):", ", ".join(f"{float(np.float32(c)):.9e}f" for c in p))
print("Q (x^0 .. x^10):", ", ".join(f"{float(np.float32(c)):.9e}f" for c in q))
