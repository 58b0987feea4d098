package blockcodec_test

import (
	"bytes"
	"compress/flate"
	"errors"
	"strings"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/blockcodec"
)

func TestRoundTrip(t *testing.T) {
	datum := bytes.Repeat([]byte("candid 1234567890 magpsf 18.5 "), 2000)
	for _, codec := range []string{blockcodec.Null, blockcodec.Deflate, blockcodec.Snappy, blockcodec.Zstd} {
		t.Run(codec, func(t *testing.T) {
			if !blockcodec.Known(codec) {
				t.Fatalf("Known(%q) = false", codec)
			}
			prefix := []byte("kept")
			block, err := blockcodec.Append(append([]byte(nil), prefix...), codec, datum)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(block, prefix) {
				t.Fatalf("Append did not append: block starts %q", block[:4])
			}
			block = block[len(prefix):]
			if codec != blockcodec.Null && len(block) >= len(datum)/10 {
				t.Errorf("%d bytes compress to %d: a repetitive datum should shrink over tenfold", len(datum), len(block))
			}
			got, err := blockcodec.Decode(codec, block)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, datum) {
				t.Fatalf("round trip changed the datum (%d bytes back, want %d)", len(got), len(datum))
			}
		})
	}
}

// TestHostileBlocks checks that corrupt blocks, and blocks that would
// decompress past MaxBlock, are refused with an error naming the codec.
func TestHostileBlocks(t *testing.T) {
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range blockcodec.MaxBlock>>20 + 1 {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	snappyBlock, _ := blockcodec.Append(nil, blockcodec.Snappy, []byte("a real datum"))
	snappyBlock[len(snappyBlock)-1] ^= 1
	for _, c := range []struct {
		name, codec string
		block       []byte
		want        string
	}{
		{"deflate bomb", blockcodec.Deflate, bomb.Bytes(), "deflate: block decompresses to more than"},
		{"deflate garbage", blockcodec.Deflate, []byte{0xff, 0xff, 0xff}, "deflate:"},
		{"snappy short", blockcodec.Snappy, []byte{1, 2}, "snappy block shorter than its checksum"},
		{"snappy checksum", blockcodec.Snappy, snappyBlock, "snappy checksum mismatch"},
		{"snappy huge length", blockcodec.Snappy, []byte{0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0, 0}, "snappy:"},
		{"zstd garbage", blockcodec.Zstd, []byte("not zstd at all"), "zstandard:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := blockcodec.Decode(c.codec, c.block)
			if err == nil {
				t.Fatalf("decoded %d bytes, want an error", len(out))
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q, want it to contain %q", err, c.want)
			}
		})
	}
	if _, err := blockcodec.Decode("lz5", []byte{1}); !errors.Is(err, blockcodec.ErrUnknown) || !strings.Contains(err.Error(), `"lz5"`) {
		t.Fatalf("unknown codec: error %v, want ErrUnknown naming it", err)
	}
	if _, err := blockcodec.Append(nil, "lz5", []byte{1}); !errors.Is(err, blockcodec.ErrUnknown) {
		t.Fatalf("unknown codec: error %v, want ErrUnknown", err)
	}
	if blockcodec.Known("lz5") {
		t.Fatal(`Known("lz5") = true`)
	}
}
