package fits

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// BlockSize is the FITS logical record length; headers and data both occupy a
// whole number of blocks.
const BlockSize = 2880

// CardSize is the length of one header card.
const CardSize = 80

// Limits that keep a hostile or corrupt input from asking for huge
// allocations: a cutout is tens of pixels on a side, a full CCD a few
// thousand.
const (
	MaxAxis        = 1 << 16
	MaxHeaderCards = 1 << 14
	// MaxInflatedSize caps what DecodeGzip will inflate, so a gzip bomb
	// fails with ErrTooLarge instead of exhausting memory.
	MaxInflatedSize = 64 << 20
)

// Errors are sentinels so callers can tell bad input apart with errors.Is;
// the returned errors wrap them with detail.
var (
	// ErrNotFITS: the bytes do not start with a FITS primary header.
	ErrNotFITS = errors.New("fits: not a FITS file")
	// ErrTruncated: the input ends inside the header or the image data.
	ErrTruncated = errors.New("fits: truncated")
	// ErrBadHeader: a header card is malformed or a mandatory keyword is
	// missing or out of range.
	ErrBadHeader = errors.New("fits: malformed header")
	// ErrUnsupported: valid FITS this package does not read (not a 2-D
	// BITPIX=-32 image).
	ErrUnsupported = errors.New("fits: unsupported FITS content")
	// ErrTooLarge: the image or the inflated stream exceeds this package's
	// limits.
	ErrTooLarge = errors.New("fits: too large")
	// ErrNotGzip: DecodeGzip was given bytes without the gzip magic number.
	ErrNotGzip = errors.New("fits: not gzip data")
	// ErrBadImage: Encode was given an image whose size and pixels disagree.
	ErrBadImage = errors.New("fits: invalid image")
	// ErrBadCard: Encode was given a card it cannot write as a valid FITS
	// card.
	ErrBadCard = errors.New("fits: invalid header card")
)

// Image is one 2-D float32 image and its non-structural header cards.
//
// Pix is row-major in file order: Pix[y*Width+x], where x runs along NAXIS1
// and y along NAXIS2. FITS viewers draw row y=0 at the bottom.
type Image struct {
	Width, Height int
	Pix           []float32
	// Header holds the caller's cards in order. The structural keywords
	// (SIMPLE, BITPIX, NAXIS, NAXISn, EXTEND, XTENSION, PCOUNT, GCOUNT, END)
	// are written by Encode and dropped by Decode; BSCALE and BZERO are
	// applied to Pix by Decode and refused by Encode.
	Header []Card
}

// At returns the pixel at column x, row y.
func (im Image) At(x, y int) float32 { return im.Pix[y*im.Width+x] }

// Card returns the first card with the given keyword.
func (im Image) Card(key string) (Card, bool) {
	for _, c := range im.Header {
		if c.Key == key {
			return c, true
		}
	}
	return Card{}, false
}

// FloatValue returns a numeric card's value; integer cards convert.
func (im Image) FloatValue(key string) (float64, bool) {
	c, ok := im.Card(key)
	if !ok {
		return 0, false
	}
	switch v := c.Value.(type) {
	case float64:
		return v, true
	case int64:
		return float64(v), true
	}
	return 0, false
}

// IntValue returns an integer card's value.
func (im Image) IntValue(key string) (int64, bool) {
	c, ok := im.Card(key)
	if !ok {
		return 0, false
	}
	v, ok := c.Value.(int64)
	return v, ok
}

// StringValue returns a string card's value.
func (im Image) StringValue(key string) (string, bool) {
	c, ok := im.Card(key)
	if !ok {
		return "", false
	}
	v, ok := c.Value.(string)
	return v, ok
}

// Encode returns img as a FITS file: one primary HDU.
func Encode(img Image) ([]byte, error) {
	return Append(nil, img)
}

// Append appends the FITS encoding of img to dst, so hot loops can reuse a
// buffer. On error dst is returned unchanged.
func Append(dst []byte, img Image) ([]byte, error) {
	if img.Width <= 0 || img.Height <= 0 || img.Width > MaxAxis || img.Height > MaxAxis {
		return dst, fmt.Errorf("%w: size %dx%d", ErrBadImage, img.Width, img.Height)
	}
	if len(img.Pix) != img.Width*img.Height {
		return dst, fmt.Errorf("%w: %d pixels for %dx%d", ErrBadImage, len(img.Pix), img.Width, img.Height)
	}
	start := len(dst)
	nData := 4 * len(img.Pix)
	out := grow(dst, (len(img.Header)+6+CardSize-1)/CardSize*CardSize+nData+2*BlockSize)

	out = appendCard(out, "SIMPLE", "T", "conforms to FITS standard")
	out = appendCard(out, "BITPIX", "-32", "IEEE single precision floating point")
	out = appendCard(out, "NAXIS", "2", "")
	out = appendCard(out, "NAXIS1", fmt.Sprint(img.Width), "")
	out = appendCard(out, "NAXIS2", fmt.Sprint(img.Height), "")
	var err error
	for i, c := range img.Header {
		if out, err = c.appendTo(out); err != nil {
			return dst[:start], fmt.Errorf("card %d (%q): %w", i, c.Key, err)
		}
	}
	out = append(out, "END"...)
	out = padTo(out, start, ' ')

	off := len(out)
	out = out[:off+nData]
	for i, p := range img.Pix {
		binary.BigEndian.PutUint32(out[off+4*i:], math.Float32bits(p))
	}
	return padTo(out, start, 0), nil
}

func grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}

// padTo pads b with fill until its length from start is a whole number of
// blocks.
func padTo(b []byte, start int, fill byte) []byte {
	n := (len(b) - start) % BlockSize
	if n == 0 {
		return b
	}
	for i := n; i < BlockSize; i++ {
		b = append(b, fill)
	}
	return b
}

// Decode reads the first 2-D image in a FITS file.
func Decode(b []byte) (Image, error) {
	if len(b) < CardSize || string(b[:8]) != "SIMPLE  " {
		return Image{}, ErrNotFITS
	}
	off := 0
	primary := true
	for {
		h, next, err := parseHeader(b, off, primary)
		if err != nil {
			return Image{}, err
		}
		dataLen, err := h.dataLen(len(b) - next)
		if err != nil {
			return Image{}, err
		}
		if dataLen == 0 {
			// An empty primary HDU (Rubin/afw style) or empty extension:
			// the image, if any, follows. EXTEND is not required, as some
			// writers leave it out.
			off = next + blocks(dataLen)
			primary = false
			if off >= len(b) {
				return Image{}, fmt.Errorf("%w: no image HDU", ErrUnsupported)
			}
			continue
		}
		if !primary && h.xtension != "IMAGE" {
			return Image{}, fmt.Errorf("%w: first HDU with data is a %q extension", ErrUnsupported, h.xtension)
		}
		return h.image(b[next:])
	}
}

func blocks(n int) int { return (n + BlockSize - 1) / BlockSize * BlockSize }
