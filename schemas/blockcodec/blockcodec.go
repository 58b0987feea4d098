package blockcodec

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"sync"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// The codec names of the Avro specification (the avro.codec metadata).
const (
	Null    = "null"
	Deflate = "deflate"
	Snappy  = "snappy"
	Zstd    = "zstandard"
)

// MaxBlock bounds what a block may decompress to. Real alerts are below
// 1 MB; a ZTF file of a night's alerts is written one record per block.
const MaxBlock = 64 << 20

// ErrUnknown is the error for a codec this package does not know.
var ErrUnknown = errors.New("unknown Avro codec")

// Known says whether codec is one of the codecs above.
func Known(codec string) bool {
	switch codec {
	case Null, Deflate, Snappy, Zstd:
		return true
	}
	return false
}

var (
	zstdOnce sync.Once
	zstdEnc  *zstd.Encoder
	zstdDec  *zstd.Decoder
	flateW   = sync.Pool{New: func() any { w, _ := flate.NewWriter(nil, flate.BestSpeed); return w }}
)

// zstdCoders builds the shared zstd coders on first use: EncodeAll and
// DecodeAll are safe for concurrent use, and building them costs
// megabytes, which a process that never meets zstd should not pay.
func zstdCoders() (*zstd.Encoder, *zstd.Decoder) {
	zstdOnce.Do(func() {
		zstdEnc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
		zstdDec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(MaxBlock))
	})
	return zstdEnc, zstdDec
}

// Append appends b compressed with codec to dst. Deflate and zstandard
// use their fastest levels: archives are written at stream rate.
func Append(dst []byte, codec string, b []byte) ([]byte, error) {
	switch codec {
	case Null:
		return append(dst, b...), nil
	case Deflate:
		buf := bytes.NewBuffer(dst)
		w := flateW.Get().(*flate.Writer)
		defer flateW.Put(w)
		w.Reset(buf)
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	case Snappy:
		// Avro's snappy blocks end with the CRC32 of the uncompressed data.
		dst = append(dst, snappy.Encode(nil, b)...)
		return binary.BigEndian.AppendUint32(dst, crc32.ChecksumIEEE(b)), nil
	case Zstd:
		enc, _ := zstdCoders()
		return enc.EncodeAll(b, dst), nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknown, codec)
}

// Decode returns block b, written with codec, uncompressed (b itself for
// null). It fails on a block that is corrupt, or that would decompress to
// more than MaxBlock.
func Decode(codec string, b []byte) ([]byte, error) {
	switch codec {
	case Null:
		return b, nil
	case Deflate:
		out, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), MaxBlock+1))
		if err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
		if len(out) > MaxBlock {
			return nil, fmt.Errorf("deflate: block decompresses to more than %d bytes", MaxBlock)
		}
		return out, nil
	case Snappy:
		if len(b) < 4 {
			return nil, errors.New("snappy block shorter than its checksum")
		}
		n, err := snappy.DecodedLen(b[:len(b)-4])
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		if n > MaxBlock {
			return nil, fmt.Errorf("snappy: block decompresses to %d bytes, more than %d", n, MaxBlock)
		}
		out, err := snappy.Decode(nil, b[:len(b)-4])
		if err != nil {
			return nil, fmt.Errorf("snappy: %w", err)
		}
		if crc32.ChecksumIEEE(out) != binary.BigEndian.Uint32(b[len(b)-4:]) {
			return nil, errors.New("snappy checksum mismatch")
		}
		return out, nil
	case Zstd:
		_, dec := zstdCoders()
		out, err := dec.DecodeAll(b, nil)
		if err != nil {
			return nil, fmt.Errorf("zstandard: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknown, codec)
}
