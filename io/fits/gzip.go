package fits

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	// klauspost's gzip is format-identical to compress/gzip and about twice
	// as fast on noise-dominated stamps, which is what bounds how fast the
	// simulator writes alerts and how fast cutout filters read them.
	"github.com/klauspost/compress/gzip"
)

// EncodeGzip returns img as a gzip'd FITS file, the form of ZTF's
// *.fits.gz cutouts.
func EncodeGzip(img Image) ([]byte, error) {
	e, err := NewGzipEncoder(gzip.DefaultCompression)
	if err != nil {
		return nil, err
	}
	return e.Encode(img)
}

// GzipEncoder encodes many images with one reusable compressor and buffers,
// which matters when a generator writes thousands of stamps a second. It is
// not safe for concurrent use.
type GzipEncoder struct {
	raw []byte
	out bytes.Buffer
	zw  *gzip.Writer
}

// NewGzipEncoder returns an encoder at a gzip level, as in compress/gzip:
// -2 (Huffman only) through 9 (best compression). Level 1 gives ZTF-like
// stamp sizes (about 13-15 KB for a 63x63 stamp) fastest.
func NewGzipEncoder(level int) (*GzipEncoder, error) {
	e := &GzipEncoder{}
	zw, err := gzip.NewWriterLevel(&e.out, level)
	if err != nil {
		return nil, fmt.Errorf("fits: %w", err)
	}
	e.zw = zw
	return e, nil
}

// Encode returns a freshly allocated gzip'd FITS file for img.
func (e *GzipEncoder) Encode(img Image) ([]byte, error) {
	raw, err := Append(e.raw[:0], img)
	if err != nil {
		return nil, err
	}
	e.raw = raw
	e.out.Reset()
	e.zw.Reset(&e.out)
	if _, err := e.zw.Write(raw); err != nil {
		return nil, fmt.Errorf("fits: gzip: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return nil, fmt.Errorf("fits: gzip: %w", err)
	}
	return bytes.Clone(e.out.Bytes()), nil
}

// DecodeGzip reads a gzip'd FITS file.
func DecodeGzip(b []byte) (Image, error) {
	if !IsGzip(b) {
		return Image{}, ErrNotGzip
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return Image{}, fmt.Errorf("%w: %v", ErrNotGzip, err)
	}
	raw, err := io.ReadAll(io.LimitReader(zr, MaxInflatedSize+1))
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return Image{}, fmt.Errorf("%w: gzip stream: %v", ErrTruncated, err)
		}
		return Image{}, fmt.Errorf("%w: gzip stream: %v", ErrNotGzip, err)
	}
	if len(raw) > MaxInflatedSize {
		return Image{}, fmt.Errorf("%w: inflates past %d bytes", ErrTooLarge, MaxInflatedSize)
	}
	return Decode(raw)
}

// DecodeAuto reads a FITS file that may or may not be gzip'd, as alert
// consumers meet both: ZTF cutouts are gzip'd, Rubin's are plain.
func DecodeAuto(b []byte) (Image, error) {
	if IsGzip(b) {
		return DecodeGzip(b)
	}
	return Decode(b)
}

// IsGzip reports whether b starts with the gzip magic number.
func IsGzip(b []byte) bool {
	return len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b
}
