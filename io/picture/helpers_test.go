package picture

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/internal/venv"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

// samplePackets are the shared sample packets (ZTF and LSST), by path.
func samplePackets(t *testing.T) []string {
	t.Helper()
	var paths []string
	for _, survey := range []string{"ztf", "lsst"} {
		found, err := filepath.Glob(filepath.Join(samples.Dir(t), "data", survey, "*.avro"))
		if err != nil {
			t.Fatal(err)
		}
		if len(found) == 0 {
			t.Fatalf("no %s samples in the shared data", survey)
		}
		paths = append(paths, found...)
	}
	return paths
}

// generic decodes a container-file packet with its writer schema into
// hamba's generic values: the test's own reading of the packet, apart
// from the structs the picture is drawn from.
func generic(t *testing.T, msg []byte) map[string]any {
	t.Helper()
	ct, err := framing.ParseContainer(msg)
	if err != nil {
		t.Fatal(err)
	}
	schema, err := framing.ParseWriterSchema(ct.Schema)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := avro.Unmarshal(schema, ct.Datum, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// unwrap returns the value inside hamba's {"type": value} union wrapper,
// whose key is a primitive type, "array", or a record's full name.
func unwrap(v any) any {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		for k, inner := range m {
			switch k {
			case "null", "boolean", "int", "long", "float", "double", "bytes", "string", "array":
				return inner
			}
			if strings.Contains(k, ".") {
				return inner
			}
		}
	}
	return v
}

// list is an array field, nil when null.
func list(v any) []any {
	l, _ := unwrap(v).([]any)
	return l
}

// record is a record-valued field.
func record(v any) map[string]any {
	m, _ := unwrap(v).(map[string]any)
	return m
}

// render draws the picture, encodes it as PNG and decodes it back.
func render(t *testing.T, a Alert) (image.Image, []Marker) {
	t.Helper()
	var buf bytes.Buffer
	markers, err := Encode(&buf, a)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatalf("the PNG does not decode: %v", err)
	}
	if b := img.Bounds(); b.Dx() != Width || b.Dy() != Height {
		t.Fatalf("picture is %dx%d, want the layout's %dx%d", b.Dx(), b.Dy(), Width, Height)
	}
	return img, markers
}

// venvPython is the project's cached virtualenv's Python with astropy.
func venvPython(t *testing.T) string { return venv.Python(t, "astropy", "numpy") }

// astropyLimits has astropy compute the 0.5/99.5 percentile interval of
// pix (finite values only, in float64 as the stretch does).
func astropyLimits(t *testing.T, py string, pix []float32, out *[2]float64) {
	t.Helper()
	vals := make([]float64, 0, len(pix))
	for _, v := range pix {
		if finite(float64(v)) {
			vals = append(vals, float64(v))
		}
	}
	const script = `
import json, sys
import numpy as np
from astropy.visualization import AsymmetricPercentileInterval
v = np.array(json.load(sys.stdin), dtype=np.float64)
print(json.dumps(list(AsymmetricPercentileInterval(0.5, 99.5).get_limits(v))))
`
	f := filepath.Join(t.TempDir(), "limits.py")
	if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []float64
	venv.RunJSON(t, py, f, vals, &got)
	if len(got) != 2 {
		t.Fatalf("astropy gave %v", got)
	}
	out[0], out[1] = got[0], got[1]
}
