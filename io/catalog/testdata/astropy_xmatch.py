"""The independent check of io/catalog: astropy's nearest-neighbour match.

Usage: astropy_xmatch.py CATALOG.csv QUERIES.csv OUT.csv [CATALOG.fits]

CATALOG.csv has columns HIP, RArad, DErad (radians, as in Hipparcos-2
hip2.dat); QUERIES.csv has idx, ra, dec (degrees). For every query, OUT.csv
gets idx, the HIP id of the nearest catalog star by
SkyCoord.match_to_catalog_sky, and its separation in arcsec (repr, full
precision). With a fourth argument, also writes the catalog as a FITS
binary table (astropy's writer) for the Go FITS reader to load.
"""
import csv
import sys

import numpy as np
from astropy import units as u
from astropy.coordinates import SkyCoord
from astropy.table import Table

cat_path, q_path, out_path = sys.argv[1:4]
with open(cat_path) as f:
    rows = list(csv.DictReader(f))
hip = np.array([int(r["HIP"]) for r in rows])
ra = np.array([float(r["RArad"]) for r in rows])
dec = np.array([float(r["DErad"]) for r in rows])
hpmag = np.array([float(r["Hpmag"]) for r in rows])
cat = SkyCoord(ra=ra * u.rad, dec=dec * u.rad, frame="icrs")

with open(q_path) as f:
    qs = list(csv.DictReader(f))
qidx = [int(q["idx"]) for q in qs]
q = SkyCoord(ra=np.array([float(x["ra"]) for x in qs]) * u.deg,
             dec=np.array([float(x["dec"]) for x in qs]) * u.deg, frame="icrs")
i, sep, _ = q.match_to_catalog_sky(cat)
with open(out_path, "w") as f:
    f.write("idx,hip,sep\n")
    for k, j, s in zip(qidx, i, sep.to_value(u.arcsec)):
        f.write(f"{k},{hip[j]},{float(s)!r}\n")

if len(sys.argv) > 4:
    t = Table([hip, ra, dec, hpmag], names=["HIP", "RArad", "DErad", "Hpmag"])
    t["RArad"].unit = u.rad
    t["DErad"].unit = u.rad
    t.write(sys.argv[4], format="fits", overwrite=True)
