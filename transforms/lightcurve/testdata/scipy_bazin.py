"""Fit the Bazin profile with scipy.optimize.curve_fit, the independent check
of alertbeam's transforms/lightcurve.

Reads a JSON list of light curves from stdin, each {"t": [...], "flux": [...],
"err": [...], "p0": [A, t0, rise, fall]}, and writes a JSON list with, for
each, [A, t0, rise, fall, chi2] or null if curve_fit failed.
"""
import json
import sys
import warnings

import numpy as np
from scipy.optimize import curve_fit
from scipy.special import expit


def bazin(t, a, t0, rise, fall):
    u = t - t0
    return a * np.exp(-u / fall) * expit(u / rise)


out = []
for lc in json.load(sys.stdin):
    t, f, e = (np.asarray(lc[k], dtype=float) for k in ("t", "flux", "err"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, _ = curve_fit(bazin, t, f, p0=lc["p0"], sigma=e, absolute_sigma=True,
                             method="lm", maxfev=20000, xtol=1e-14, ftol=1e-14)
        chi2 = float(np.sum(((f - bazin(t, *p)) / e) ** 2))
        out.append([float(x) for x in p] + [chi2])
    except (RuntimeError, ValueError):
        out.append(None)
json.dump(out, sys.stdout)
