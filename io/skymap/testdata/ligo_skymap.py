"""Write a real multi-order sky map with ligo.skymap and crossmatch positions
against it: the independent check of alertbeam's io/skymap.

Usage: ligo_skymap.py OUT.fits < positions.json, positions being [[ra, dec],
...] in degrees. Writes OUT.fits (ligo.skymap.io.write_sky_map, moc=True) and
prints JSON: {"cells": N, "nest": {order: [ipix, ...]} (healpy's ang2pix,
nested, at orders 0, 1, 5, 10, 20 and 29, of every position),
"searched_prob": [...], "probdensity": [...]} from
ligo.skymap.postprocess.crossmatch.

The map: two Gaussian blobs on an order-8 grid (nside 256), with every
16-cell block of low density merged into its order-6 parent, so cells of two
orders mix as in a real BAYESTAR map.
"""
import json
import sys

import astropy.units as u
import healpy as hp
import numpy as np
from astropy.coordinates import SkyCoord
from astropy.table import Table
from ligo.skymap import moc
from ligo.skymap.io import read_sky_map, write_sky_map
from ligo.skymap.postprocess import crossmatch

positions = np.asarray(json.load(sys.stdin), dtype=float)
order = 8
nside = 2 ** order
ipix = np.arange(hp.nside2npix(nside))
theta, phi = hp.pix2ang(nside, ipix, nest=True)
vec = np.asarray(hp.ang2vec(theta, phi))
density = np.zeros(len(ipix))
for (ra, dec, sigma, weight) in [(150.0, 20.0, 4.0, 0.7), (160.0, 35.0, 2.5, 0.3)]:
    c = hp.ang2vec(np.radians(90 - dec), np.radians(ra))
    ang = np.arccos(np.clip(vec @ c, -1, 1))
    density += weight * np.exp(-0.5 * (ang / np.radians(sigma)) ** 2)
density /= density.sum() * hp.nside2pixarea(nside)

# Merge 16-cell blocks (order 8 -> 6) where every cell is below the cut.
cut = np.percentile(density, 80)
block = ipix >> 4
low = np.bincount(block, weights=(density < cut)) == 16
uniq, dens = [], []
for b in np.nonzero(low)[0]:
    uniq.append(moc.nest2uniq(np.int8(order - 2), np.int64(b)))
    dens.append(density[b * 16:(b + 1) * 16].mean())
keep = ~low[block]
uniq.extend(moc.nest2uniq(np.int8(order), ipix[keep]))
dens.extend(density[keep])
table = Table({"UNIQ": np.asarray(uniq, dtype=np.int64), "PROBDENSITY": np.asarray(dens) / u.sr})
write_sky_map(sys.argv[1], table, moc=True)

back = read_sky_map(sys.argv[1], moc=True)
coords = SkyCoord(positions[:, 0] * u.deg, positions[:, 1] * u.deg)
res = crossmatch(back, coords)
nest = {}
for o in (0, 1, 5, 10, 20, 29):
    nest[str(o)] = [int(x) for x in hp.ang2pix(2 ** o, positions[:, 0], positions[:, 1], nest=True, lonlat=True)]
json.dump({
    "cells": len(back),
    "nest": nest,
    "searched_prob": [float(x) for x in np.atleast_1d(res.searched_prob)],
    "probdensity": [float(x) for x in np.atleast_1d(res.probdensity)],
}, sys.stdout)
