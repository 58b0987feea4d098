package fits

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
)

type sampleCutout struct {
	FileName  string `avro:"fileName"`
	StampData []byte `avro:"stampData"`
}

type sampleAlert struct {
	Candid           int64         `avro:"candid"`
	CutoutScience    *sampleCutout `avro:"cutoutScience"`
	CutoutTemplate   *sampleCutout `avro:"cutoutTemplate"`
	CutoutDifference *sampleCutout `avro:"cutoutDifference"`
}

// readZTFSample decodes the single record of a real ZTF container file. The
// writer schema is parsed only after schemas.StripInvalidDefaults, because
// ZTF's schemas carry defaults hamba/avro rejects.
func readZTFSample(t *testing.T, name string) sampleAlert {
	t.Helper()
	b := samples.Read(t, "data", "ztf", name)
	r := avro.NewReader(bytes.NewReader(b), 4096)
	var h ocf.Header
	r.ReadVal(ocf.HeaderSchema, &h)
	if r.Error != nil {
		t.Fatalf("%s: header: %v", name, r.Error)
	}
	if c := string(h.Meta["avro.codec"]); c != "" && c != "null" {
		t.Fatalf("%s: codec %q; the test reads only uncompressed blocks", name, c)
	}
	raw, err := schemas.StripInvalidDefaults(h.Meta["avro.schema"])
	if err != nil {
		t.Fatal(err)
	}
	schema, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{})
	if err != nil {
		t.Fatalf("%s: writer schema: %v", name, err)
	}
	count, size := r.ReadLong(), r.ReadLong()
	if count != 1 || r.Error != nil {
		t.Fatalf("%s: block of %d records (%v)", name, count, r.Error)
	}
	data := make([]byte, size)
	r.Read(data)
	var a sampleAlert
	if err := avro.Unmarshal(schema, data, &a); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return a
}

// The expected values were read from the packets with fastavro and astropy,
// not with this package: pixel bit patterns at (x,y) = (0,0), (31,31),
// (62,0), the float64 sum of all pixels, and the brightest pixel.
func TestRealZTFStamps(t *testing.T) {
	type want struct {
		file             string
		gzLen            int
		p00, p3131, p620 uint32
		sum              float64
		maxX, maxY       int
	}
	cases := []struct {
		packet string
		candid int64
		stamps [3]want // science, template, difference
	}{
		{"472263571115115000.avro", 472263571115115000, [3]want{
			{"candid472263571115115000_pid472263571115_targ_sci.fits.gz", 13083, 0x43355659, 0x45054bb2, 0x4334ee75, 736079.2131347656, 48, 43},
			{"candid472263571115115000_ref.fits.gz", 12432, 0x4331d521, 0x448aac9a, 0x43310a34, 733950.568649292, 48, 43},
			{"candid472263571115115000_pid472263571115_targ_scimref.fits.gz", 14898, 0x40bd03ad, 0x436f8c46, 0x40ad91e5, 2150.4118550912244, 31, 31},
		}},
		{"2019_01_10_739260766315010006.avro", 739260766315010006, [3]want{
			{"candid739260766315010006_pid739260766315_targ_sci.fits.gz", 13131, 0x436a2aca, 0x459e7701, 0x436aced2, 1012364.915725708, 31, 31},
			{"candid739260766315010006_ref.fits.gz", 12625, 0x4374fa56, 0x45d475c8, 0x43747787, 1034844.7661743164, 31, 31},
			{"candid739260766315010006_pid739260766315_targ_refmsci.fits.gz", 14907, 0x4107f9d1, 0x45098bd2, 0x410cceb2, 22484.77479754045, 31, 32},
		}},
	}
	for _, c := range cases {
		a := readZTFSample(t, c.packet)
		if a.Candid != c.candid {
			t.Fatalf("%s: candid %d", c.packet, a.Candid)
		}
		for i, co := range []*sampleCutout{a.CutoutScience, a.CutoutTemplate, a.CutoutDifference} {
			w := c.stamps[i]
			name := fmt.Sprintf("%s/%s", c.packet, w.file)
			if co == nil || co.FileName != w.file || len(co.StampData) != w.gzLen {
				t.Fatalf("%s: cutout %d is not the expected stamp", name, i)
			}
			img, err := DecodeGzip(co.StampData)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if img.Width != 63 || img.Height != 63 {
				t.Fatalf("%s: %dx%d, want 63x63", name, img.Width, img.Height)
			}
			if len(img.Header) != 1 || img.Header[0] != (Card{Key: "BUNIT", Value: "DN"}) {
				t.Errorf("%s: header %#v, want just BUNIT = 'DN'", name, img.Header)
			}
			bits := func(x, y int) uint32 { return math.Float32bits(img.At(x, y)) }
			if bits(0, 0) != w.p00 || bits(31, 31) != w.p3131 || bits(62, 0) != w.p620 {
				t.Errorf("%s: pixels %#x %#x %#x, want %#x %#x %#x", name,
					bits(0, 0), bits(31, 31), bits(62, 0), w.p00, w.p3131, w.p620)
			}
			sum, mx, mi := 0.0, float32(math.Inf(-1)), -1
			for j, p := range img.Pix {
				sum += float64(p)
				if p > mx {
					mx, mi = p, j
				}
			}
			if math.Abs(sum-w.sum) > 1e-6*math.Abs(w.sum) {
				t.Errorf("%s: sum %v, want %v", name, sum, w.sum)
			}
			if mi%63 != w.maxX || mi/63 != w.maxY {
				t.Errorf("%s: brightest pixel at (%d,%d), want (%d,%d)", name, mi%63, mi/63, w.maxX, w.maxY)
			}
		}
	}
}
