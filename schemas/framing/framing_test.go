package framing_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hamba/avro/v2/ocf"

	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

const (
	ztfSample32 = "2019_01_10_739260766315010006.avro" // schema 3.2
	ztfSample33 = "472263571115115000.avro"            // schema 3.3
)

func ztfCodec(t testing.TB) *framing.Codec {
	t.Helper()
	c, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// lsstRig starts an in-process registry seeded with the shipped LSST versions.
func lsstRig(t testing.TB) *framing.Codec {
	t.Helper()
	c, _ := registrytest.LSST(t)
	return c
}

// Expected values were read from the packets with fastavro, independently of
// this code.
func TestZTFSamplesDecodeInto402(t *testing.T) {
	c := ztfCodec(t)
	cases := []struct {
		file, objectID, schemavsn, isdiffpos, diffName string
		candid                                         int64
		jd                                             float64
		rb                                             float32
		drb                                            *float32
		programid, field, ndethist, prv, nbad          int
		magpsf                                         float32
		stampLens                                      [3]int
	}{
		{ztfSample32, "ZTF17aaacxxf", "3.2", "f", "candid739260766315010006_pid739260766315_targ_refmsci.fits.gz",
			739260766315010006, 2458493.7607639, 0.4471428692340851, nil, 1, 658, 110, 28, 0, 15.371133804321289,
			[3]int{13131, 12625, 14907}},
		{ztfSample33, "ZTF17aaajnnn", "3.3", "t", "candid472263571115115000_pid472263571115_targ_scimref.fits.gz",
			472263571115115000, 2458226.7635764, 0.8433333039283752, ptr(float32(0.9876449704170227)), 3, 789, 146, 11, 0, 18.36185646057129,
			[3]int{13083, 12432, 14898}},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			var a ztf.Alert
			if err := c.Decode(context.Background(), samples.Read(t, "data", "ztf", tc.file), &a); err != nil {
				t.Fatal(err)
			}
			cd := a.Candidate
			if a.ObjectID != tc.objectID || a.Candid != tc.candid || a.Schemavsn != tc.schemavsn {
				t.Errorf("ids: got %s %d %s", a.ObjectID, a.Candid, a.Schemavsn)
			}
			if cd.Jd != tc.jd || cd.Rb == nil || *cd.Rb != tc.rb || cd.Magpsf != tc.magpsf || cd.Isdiffpos != tc.isdiffpos {
				t.Errorf("candidate: jd %v rb %v magpsf %v isdiffpos %s", cd.Jd, cd.Rb, cd.Magpsf, cd.Isdiffpos)
			}
			if (tc.drb == nil) != (cd.Drb == nil) || (tc.drb != nil && *tc.drb != *cd.Drb) {
				t.Errorf("drb: got %v want %v", cd.Drb, tc.drb)
			}
			if cd.Programid != tc.programid || cd.Field == nil || *cd.Field != tc.field || cd.Ndethist != tc.ndethist {
				t.Errorf("programid %d field %v ndethist %v", cd.Programid, cd.Field, cd.Ndethist)
			}
			if cd.Nbad == nil || *cd.Nbad != tc.nbad || cd.Ssnamenr == nil || *cd.Ssnamenr != "null" {
				t.Errorf("nbad %v ssnamenr %v", cd.Nbad, cd.Ssnamenr)
			}
			if a.PrvCandidates == nil || len(*a.PrvCandidates) != tc.prv {
				t.Errorf("prv_candidates: got %v want %d", a.PrvCandidates, tc.prv)
			}
			got := [3]int{len(stamp(a.CutoutScience)), len(stamp(a.CutoutTemplate)), len(stamp(a.CutoutDifference))}
			if got != tc.stampLens || a.CutoutDifference.FileName != tc.diffName {
				t.Errorf("cutouts: %v %s", got, a.CutoutDifference.FileName)
			}
			// fp_hists is new in 4.x: absent from the 3.x writer, so the reader default (null).
			if a.FpHists != nil {
				t.Errorf("fp_hists should default to null, got %d entries", len(*a.FpHists))
			}
		})
	}
}

func stamp(c *ztf.Cutout) []byte {
	if c == nil {
		return nil
	}
	return c.StampData
}

func ptr[T any](v T) *T { return &v }

// routingFields are the few fields routing decodes.
type routingFields struct {
	Candid    int64 `avro:"candid"`
	Candidate struct {
		Jd        float64 `avro:"jd"`
		Programid int     `avro:"programid"`
	} `avro:"candidate"`
}

// Routing decodes only the few fields it needs; the rest are skipped.
func TestZTFPartialDecode(t *testing.T) {
	var r routingFields
	if err := ztfCodec(t).Decode(context.Background(), samples.Read(t, "data", "ztf", ztfSample32), &r); err != nil {
		t.Fatal(err)
	}
	if r.Candid != 739260766315010006 || r.Candidate.Jd != 2458493.7607639 || r.Candidate.Programid != 1 {
		t.Fatalf("got %+v", r)
	}
}

// lsstSampleDatum unpacks Rubin's sample (a container file) into its datum.
func lsstSampleDatum(t *testing.T, file string) []byte {
	ct, err := framing.ParseContainer(samples.Read(t, "data", "lsst", file))
	if err != nil {
		t.Fatal(err)
	}
	return ct.Datum
}

func TestLSSTSamplesDecodeThroughRegistry(t *testing.T) {
	c := lsstRig(t)
	for _, tc := range []struct {
		file string
		id   int
	}{{"fakeAlert-v10_0.avro", 1000}, {"fakeAlert-v11_1.avro", 1101}} {
		t.Run(tc.file, func(t *testing.T) {
			msg := framing.AppendWire(nil, tc.id, lsstSampleDatum(t, tc.file))
			var a lsst.Alert
			if err := c.Decode(context.Background(), msg, &a); err != nil {
				t.Fatal(err)
			}
			ds := a.DiaSource
			if a.DiaSourceID != 1231321321 || ds.Visit != 1 || ds.Detector != 42 || ds.MidpointMjdTai != 60902.993305483615 || ds.RA != 351.570546978 {
				t.Errorf("diaSource: %d %d %d %v %v", a.DiaSourceID, ds.Visit, ds.Detector, ds.MidpointMjdTai, ds.RA)
			}
			if ds.PsfFlux == nil || *ds.PsfFlux != 1241 || ds.PsfFluxErr == nil || *ds.PsfFluxErr != 12 || ds.Band == nil || *ds.Band != "r" {
				t.Errorf("photometry: %v %v %v", ds.PsfFlux, ds.PsfFluxErr, ds.Band)
			}
			if a.PrvDiaSources == nil || len(*a.PrvDiaSources) != 2 || a.DiaObject == nil || a.DiaObject.DiaObjectID != 281323062375219201 || a.SsSource != nil {
				t.Errorf("history/object: %v %v %v", a.PrvDiaSources, a.DiaObject, a.SsSource)
			}
		})
	}
}

// Decoding then encoding a real packet, then decoding and encoding again,
// reproduces the same bytes: the struct captures every field of the reader.
func TestRoundTripByteIdentical(t *testing.T) {
	ctx := context.Background()
	zc := ztfCodec(t)
	for _, f := range []string{ztfSample32, ztfSample33} {
		var a, b ztf.Alert
		if err := zc.Decode(ctx, samples.Read(t, "data", "ztf", f), &a); err != nil {
			t.Fatal(err)
		}
		m1, err := zc.Encode(&a)
		if err != nil {
			t.Fatal(err)
		}
		if err := zc.Decode(ctx, m1, &b); err != nil {
			t.Fatal(err)
		}
		m2, err := zc.Encode(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(m1, m2) {
			t.Fatalf("%s: re-encoding changed %d bytes to %d", f, len(m1), len(m2))
		}
		// Any Avro reader must accept what we frame.
		dec, err := ocf.NewDecoder(bytes.NewReader(m1))
		if err != nil {
			t.Fatalf("hamba ocf rejects our container: %v", err)
		}
		n := 0
		for dec.HasNext() {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if m["candid"].(int64) != a.Candid {
				t.Fatalf("candid %v", m["candid"])
			}
			n++
		}
		if n != 1 {
			t.Fatalf("%d records", n)
		}
	}

	lc := lsstRig(t)
	var a, b lsst.Alert
	if err := lc.Decode(ctx, framing.AppendWire(nil, 1101, lsstSampleDatum(t, "fakeAlert-v11_1.avro")), &a); err != nil {
		t.Fatal(err)
	}
	m1, err := lc.Encode(&a)
	if err != nil {
		t.Fatal(err)
	}
	if id, _, _ := framing.ParseWire(m1); id != 1000 {
		t.Fatalf("encoded with schema id %d, want the reader's 1000", id)
	}
	if err := lc.Decode(ctx, m1, &b); err != nil {
		t.Fatal(err)
	}
	m2, err := lc.Encode(&b)
	if err != nil || !bytes.Equal(m1, m2) {
		t.Fatalf("LSST re-encode differs (err %v)", err)
	}
}

func TestContainerCodecsRoundTrip(t *testing.T) {
	datum := bytes.Repeat([]byte("alert datum "), 1000)
	for _, codec := range []string{framing.CodecNull, framing.CodecDeflate, framing.CodecSnappy, framing.CodecZstd} {
		msg, err := framing.AppendContainer(nil, framing.Container{Schema: []byte(`"bytes"`), Codec: codec, Datum: datum})
		if err != nil {
			t.Fatal(err)
		}
		ct, err := framing.ParseContainer(msg)
		if err != nil {
			t.Fatalf("%s: %v", codec, err)
		}
		if ct.Codec != codec || !bytes.Equal(ct.Datum, datum) || string(ct.Schema) != `"bytes"` {
			t.Fatalf("%s: got codec %s, %d bytes", codec, ct.Codec, len(ct.Datum))
		}
	}
}

// Every class of bad input yields a *framing.Error of the right kind.
func TestBadInputIsTyped(t *testing.T) {
	ctx := context.Background()
	zc := ztfCodec(t)
	lc := lsstRig(t)
	good := samples.Read(t, "data", "ztf", ztfSample33)

	twoRecords, zeroRecords := hambaContainer(t, 2), hambaContainer(t, 0)
	badSync := bytes.Clone(good)
	badSync[len(badSync)-1] ^= 0xff
	corruptDatum := bytes.Clone(good)
	// Overwrite the start of the datum (right after the header) with bytes
	// that make the first string length absurd.
	ct, _ := framing.ParseContainer(good)
	off := bytes.Index(corruptDatum, ct.Datum[:64])
	copy(corruptDatum[off:], bytes.Repeat([]byte{0xfe}, 16))

	cases := []struct {
		name  string
		codec *framing.Codec
		msg   []byte
		kind  error
	}{
		{"ocf empty", zc, nil, framing.ErrTruncated},
		{"ocf truncated header", zc, good[:100], framing.ErrTruncated},
		{"ocf truncated block", zc, good[:len(good)-20], framing.ErrTruncated},
		{"ocf wrong magic", zc, append([]byte("Obj\x02"), good[4:]...), framing.ErrBadMagic},
		{"ocf garbage", zc, []byte("this is not an avro container file at all"), framing.ErrBadMagic},
		{"ocf wire message given to ztf", zc, framing.AppendWire(nil, 1000, []byte{1, 2, 3}), framing.ErrBadMagic},
		{"ocf zero records", zc, zeroRecords, framing.ErrRecordCount},
		{"ocf two records", zc, twoRecords, framing.ErrRecordCount},
		{"ocf sync mismatch", zc, badSync, framing.ErrCorrupt},
		{"ocf corrupt datum", zc, corruptDatum, framing.ErrCorrupt},
		{"ocf bad codec", zc, mustContainer(t, framing.Container{Schema: []byte(`"int"`), Codec: framing.CodecNull, Datum: []byte{2}}, "lz5"), framing.ErrBadCodec},
		{"ocf bad schema", zc, mustContainer(t, framing.Container{Schema: []byte(`{"type":`), Datum: []byte{2}}, ""), framing.ErrBadSchema},
		{"ocf incompatible writer", zc, mustContainer(t, framing.Container{Schema: []byte(`"int"`), Datum: []byte{2}}, ""), framing.ErrIncompatible},
		{"wire empty", lc, nil, framing.ErrTruncated},
		{"wire truncated header", lc, []byte{0, 0, 0}, framing.ErrTruncated},
		{"wire wrong magic", lc, []byte{1, 0, 0, 3, 232, 2}, framing.ErrBadMagic},
		{"wire unknown id", lc, framing.AppendWire(nil, 4242, []byte{2}), framing.ErrUnknownSchema},
		{"wire truncated datum", lc, framing.AppendWire(nil, 1000, []byte{0x80}), framing.ErrCorrupt},
		{"wire garbage datum", lc, framing.AppendWire(nil, 1000, bytes.Repeat([]byte{0xff}, 40)), framing.ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var a any = &ztf.Alert{}
			if tc.codec == lc {
				a = &lsst.Alert{}
			}
			err := tc.codec.Decode(ctx, tc.msg, a)
			var fe *framing.Error
			if !errors.As(err, &fe) {
				t.Fatalf("want *framing.Error, got %T %v", err, err)
			}
			if !errors.Is(err, tc.kind) {
				t.Fatalf("want kind %v, got %v", tc.kind, err)
			}
		})
	}
}

func mustContainer(t *testing.T, c framing.Container, codecOverride string) []byte {
	t.Helper()
	msg, err := framing.AppendContainer(nil, c)
	if err != nil {
		t.Fatal(err)
	}
	if codecOverride != "" {
		msg = bytes.Replace(msg, []byte("\x08null"), append([]byte{byte(len(codecOverride) * 2)}, codecOverride...), 1)
	}
	return msg
}

// hambaContainer writes n int records with hamba's own OCF encoder.
func hambaContainer(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(`"int"`, &buf)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if err := enc.Encode(i); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
