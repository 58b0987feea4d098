"""Independent light curves and Bazin fits of a real ZTF packet, the check of
alertbeam's lcfit filter.

Usage: lcfit_ztf.py PACKET.avro < starts.json, where starts.json maps each
band to its starting point [A, t0, rise, fall]. Reads the packet with
fastavro; takes the candidate and every prv_candidates entry with a candid
(a detection) with magpsf and sigmapsf; flux = 10**(-0.4*(magpsf - 23.9)) uJy,
negative when isdiffpos is "f" or "0", error = flux*0.4*ln(10)*sigmapsf; time =
jd - candidate.jd. Fits each band with scipy's curve_fit. Writes JSON: band ->
{"points": [[t, flux, err], ...] in time order, "fit": [A, t0, rise, fall,
chi2] or null}.
"""
import json
import math
import sys
import warnings

import fastavro
import numpy as np
from scipy.optimize import curve_fit
from scipy.special import expit

BANDS = {1: "g", 2: "r", 3: "i"}


def bazin(t, a, t0, rise, fall):
    u = t - t0
    return a * np.exp(-u / fall) * expit(u / rise)


with open(sys.argv[1], "rb") as f:
    alert = next(iter(fastavro.reader(f)))
starts = json.load(sys.stdin)
cand = alert["candidate"]
rows = [cand] + [p for p in (alert["prv_candidates"] or []) if p.get("candid")]
curves = {}
for r in rows:
    if r.get("magpsf") is None or r.get("sigmapsf") is None or r["fid"] not in BANDS:
        continue
    flux = 10 ** (-0.4 * (r["magpsf"] - 23.9))
    err = flux * 0.4 * math.log(10) * r["sigmapsf"]
    if r.get("isdiffpos") in ("f", "0"):
        flux = -flux
    curves.setdefault(BANDS[r["fid"]], []).append([r["jd"] - cand["jd"], flux, err])
out = {}
for band, pts in curves.items():
    pts.sort()
    fit = None
    if band in starts:
        t, fl, e = (np.array(c) for c in zip(*pts))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                p, _ = curve_fit(bazin, t, fl, p0=starts[band], sigma=e, absolute_sigma=True,
                                 method="lm", maxfev=20000, xtol=1e-14, ftol=1e-14)
            fit = [float(x) for x in p] + [float(np.sum(((fl - bazin(t, *p)) / e) ** 2))]
        except (RuntimeError, ValueError):
            pass
    out[band] = {"points": pts, "fit": fit}
json.dump(out, sys.stdout)
