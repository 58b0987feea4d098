// Package skymap reads gravitational-wave sky maps in the multi-order
// HEALPix format that LIGO/Virgo/KAGRA send in their IGWN alerts (a FITS
// binary table of cells, UNIQ and PROBDENSITY columns, ORDERING = NUNIQ)
// and answers, for a sky position, the probability density there and the
// smallest credible region that contains it.
//
// The credible level of a cell is the probability of all cells of at least
// its density, its own included: a position is inside the 90% credible
// region when its level is at most 0.9. This is ligo.skymap's
// postprocess.crossmatch "searched probability", which the tests check
// against on maps that ligo.skymap writes.
package skymap
