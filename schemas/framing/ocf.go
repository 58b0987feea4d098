package framing

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"sort"

	"github.com/alertbeam/alertbeam/schemas/blockcodec"
)

// ocfMagic opens every Avro object container file.
var ocfMagic = []byte{'O', 'b', 'j', 1}

// Container codecs alertbeam reads and writes (package blockcodec).
const (
	CodecNull    = blockcodec.Null
	CodecDeflate = blockcodec.Deflate
	CodecSnappy  = blockcodec.Snappy
	CodecZstd    = blockcodec.Zstd
)

// Container is a one-record Avro object container file taken apart: the writer
// schema exactly as it appears in the header, the codec, and the record's
// Avro binary encoding (decompressed). Keeping the raw pieces lets fan-out and
// the archive forward bytes without re-encoding them.
type Container struct {
	Schema []byte
	Codec  string
	Datum  []byte
	// Meta holds header metadata other than avro.schema and avro.codec.
	Meta map[string][]byte
}

// ParseContainer splits a message value that must be an Avro object container
// file holding exactly one record. It does not parse the schema or decode the
// datum; the returned slices may alias msg when the codec is null.
func ParseContainer(msg []byte) (Container, error) {
	var c Container
	r := reader{buf: msg, format: "ocf"}
	if len(msg) < len(ocfMagic) {
		return c, newErr("ocf", ErrTruncated, nil, "%d bytes", len(msg))
	}
	if !bytes.Equal(msg[:4], ocfMagic) {
		return c, newErr("ocf", ErrBadMagic, nil, "got % x, want % x", msg[:4], ocfMagic)
	}
	r.pos = 4
	for {
		n, err := r.long()
		if err != nil {
			return c, err
		}
		if n == 0 {
			break
		}
		if n < 0 {
			n = -n
			if _, err := r.long(); err != nil { // block size in bytes, unused
				return c, err
			}
		}
		for ; n > 0; n-- {
			k, err := r.bytes()
			if err != nil {
				return c, err
			}
			v, err := r.bytes()
			if err != nil {
				return c, err
			}
			switch string(k) {
			case "avro.schema":
				c.Schema = v
			case "avro.codec":
				c.Codec = string(v)
			default:
				if c.Meta == nil {
					c.Meta = map[string][]byte{}
				}
				c.Meta[string(k)] = v
			}
		}
	}
	if c.Schema == nil {
		return c, newErr("ocf", ErrBadSchema, nil, "header has no avro.schema")
	}
	if c.Codec == "" {
		c.Codec = CodecNull
	}
	sync, err := r.take(16)
	if err != nil {
		return c, err
	}
	records := int64(0)
	var block []byte
	for r.pos < len(msg) {
		count, err := r.long()
		if err != nil {
			return c, err
		}
		data, err := r.bytes()
		if err != nil {
			return c, err
		}
		marker, err := r.take(16)
		if err != nil {
			return c, err
		}
		if !bytes.Equal(marker, sync) {
			return c, newErr("ocf", ErrCorrupt, nil, "block sync marker does not match the header's")
		}
		if count < 0 {
			return c, newErr("ocf", ErrCorrupt, nil, "negative block count %d", count)
		}
		records += count
		if count > 0 {
			block = data
		}
	}
	if records != 1 {
		return c, newErr("ocf", ErrRecordCount, nil, "found %d records", records)
	}
	c.Datum, err = decompress(c.Codec, block)
	return c, err
}

// AppendContainer appends a one-record object container file to dst. The
// sync marker is derived from the datum, so the same record always frames to
// the same bytes (archives and tests compare bytes).
func AppendContainer(dst []byte, c Container) ([]byte, error) {
	codec := c.Codec
	if codec == "" {
		codec = CodecNull
	}
	data, err := blockcodec.Append(nil, codec, c.Datum)
	if err != nil {
		return dst, newErr("ocf", ErrBadCodec, err, "")
	}
	sum := sha256.Sum256(c.Datum)
	dst = append(dst, ocfMagic...)
	dst = binary.AppendVarint(dst, int64(2+len(c.Meta)))
	dst = appendBytes(dst, []byte("avro.schema"))
	dst = appendBytes(dst, c.Schema)
	dst = appendBytes(dst, []byte("avro.codec"))
	dst = appendBytes(dst, []byte(codec))
	for _, k := range sortedKeys(c.Meta) {
		dst = appendBytes(dst, []byte(k))
		dst = appendBytes(dst, c.Meta[k])
	}
	dst = binary.AppendVarint(dst, 0)
	dst = append(dst, sum[:16]...)
	dst = binary.AppendVarint(dst, 1)
	dst = appendBytes(dst, data)
	dst = append(dst, sum[:16]...)
	return dst, nil
}

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// reader walks Avro's zig-zag varints with bounds checks, so a truncated or
// garbage message yields ErrTruncated or ErrCorrupt instead of a panic.
type reader struct {
	buf    []byte
	pos    int
	format string
}

func (r *reader) long() (int64, error) {
	v, n := binary.Varint(r.buf[r.pos:])
	if n == 0 {
		return 0, newErr(r.format, ErrTruncated, nil, "varint at byte %d", r.pos)
	}
	if n < 0 {
		return 0, newErr(r.format, ErrCorrupt, nil, "varint overflow at byte %d", r.pos)
	}
	r.pos += n
	return v, nil
}

func (r *reader) bytes() ([]byte, error) {
	n, err := r.long()
	if err != nil {
		return nil, err
	}
	if n < 0 {
		return nil, newErr(r.format, ErrCorrupt, nil, "negative length %d at byte %d", n, r.pos)
	}
	return r.take(n)
}

func (r *reader) take(n int64) ([]byte, error) {
	if n > int64(len(r.buf)-r.pos) {
		return nil, newErr(r.format, ErrTruncated, nil, "need %d bytes at byte %d, have %d", n, r.pos, len(r.buf)-r.pos)
	}
	b := r.buf[r.pos : r.pos+int(n)]
	r.pos += int(n)
	return b, nil
}

// decompress returns a container's block uncompressed.
func decompress(codec string, b []byte) ([]byte, error) {
	out, err := blockcodec.Decode(codec, b)
	if err != nil {
		return nil, newErr("ocf", ErrBadCodec, err, "")
	}
	return out, nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
