// Package fits reads and writes the small FITS images that alert packets carry
// as cutouts ("postage stamps"): one 2-D image of IEEE float32 pixels
// (BITPIX = -32), as ZTF and Rubin write them, optionally gzip'd as in ZTF's
// *.fits.gz stamps.
//
// The writer follows the FITS 4.0 standard: 2880-byte blocks, 80-character
// ASCII header cards in fixed format, an END card, big-endian data padded
// with zeros to a whole block. The reader is deliberately more forgiving,
// because real stamps are: ZTF's write "SIMPLE  =  T" in free format, and a
// final data block is sometimes left unpadded. It reads the primary HDU, or
// the first image extension when the primary HDU holds no data (as Rubin's
// afw-style files do), and ignores anything after the image.
package fits
