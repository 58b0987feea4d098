// Package picture draws an alert as one PNG for a person to look at
// (alertbeam show --png): its three cutouts side by side (science,
// template, difference) and the light curve from its history.
//
// Cutouts are drawn with an asinh stretch between the 0.5th and 99.5th
// percentiles of the stamp's finite pixels, grey from black to white, and
// NaN pixels in magenta. Pixel (0,0) is at the bottom left, as FITS
// viewers draw it; the caption says how the sky is oriented only when the
// stamp's WCS says so (ZTF's stamps carry none).
//
// The light curve plots AB magnitudes against days since the alert, the
// magnitude axis inverted (brighter up), one colour per band: detections
// as filled discs with 1σ error bars (squares for detections whose
// difference flux is negative), upper limits of non-detections as open
// downward triangles, and LSST forced photometry of S/N ≥ 5 as open
// squares. Plotted returns where each point is drawn.
//
// Only the standard library and golang.org/x/image/font/basicfont (for
// labels) are used: a picture of fixed size, Width × Height.
package picture
