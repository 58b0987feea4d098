// Package sim generates realistic synthetic alert streams for ZTF and Rubin
// (LSST), seeded and reproducible, for tests, demos and load generation.
//
// A run is one night: Visits exposures at a fixed cadence, each pointed at
// one field that is up at that time, each yielding AlertsPerVisit alerts
// spread over the camera's readout quadrants (ZTF) or detectors (Rubin).
// Fields are observed in blocks of two passes, so objects recur within the
// night and later alerts carry the earlier detections as history; a share
// of objects are old variables with history from previous nights. Every
// alert carries three cutouts with real FITS images whose difference image
// holds a PSF at the centre consistent with the alert's flux.
//
// Quality-control artefacts (a rate spike, a bleed trail beside a bright
// star, a satellite streak) can be injected at chosen visits, and every
// alert records what produced it, so tests know the truth.
//
// Everything is a function of Config: the same Config gives byte-identical
// alerts, in any order of Visit calls.
package sim
