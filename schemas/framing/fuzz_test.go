package framing_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// seedShared adds every shared sample file to the corpus (when present).
func seedShared(f *testing.F, sub string, wrap func([]byte) []byte) {
	root, err := samples.Root()
	if err != nil {
		return
	}
	files, _ := filepath.Glob(filepath.Join(root, "data", sub, "*.avro"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(wrap(b))
		}
	}
}

// Any input either decodes or returns a *framing.Error; none panics.
func FuzzZTFDecode(f *testing.F) {
	seedShared(f, "ztf", func(b []byte) []byte { return b })
	f.Add([]byte("Obj\x01"))
	c := ztfCodec(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var a ztf.Alert
		err := c.Decode(context.Background(), msg, &a)
		var fe *framing.Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
	})
}

func FuzzLSSTDecode(f *testing.F) {
	seedShared(f, "lsst", func(b []byte) []byte {
		ct, err := framing.ParseContainer(b)
		if err != nil {
			return b
		}
		return framing.AppendWire(nil, 1000, ct.Datum)
	})
	f.Add([]byte{0, 0, 0, 3, 232})
	c := lsstRig(f)
	f.Fuzz(func(t *testing.T, msg []byte) {
		var a lsst.Alert
		err := c.Decode(context.Background(), msg, &a)
		var fe *framing.Error
		if err != nil && !errors.As(err, &fe) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
	})
}

func FuzzParseContainer(f *testing.F) {
	seedShared(f, "ztf", func(b []byte) []byte { return b })
	f.Fuzz(func(t *testing.T, msg []byte) {
		ct, err := framing.ParseContainer(msg)
		if err != nil {
			var fe *framing.Error
			if !errors.As(err, &fe) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		// Whatever parses re-frames to something that parses to the same.
		again, err := framing.AppendContainer(nil, ct)
		if err != nil {
			t.Fatal(err)
		}
		ct2, err := framing.ParseContainer(again)
		if err != nil || string(ct2.Datum) != string(ct.Datum) || string(ct2.Schema) != string(ct.Schema) {
			t.Fatalf("re-framed container differs: %v", err)
		}
	})
}
