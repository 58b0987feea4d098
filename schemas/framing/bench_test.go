package framing_test

import (
	"context"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// The real 3.3 packet (~67 KB) is decoded into 4.02 structs through schema
// resolution, the common case for a consumer.
func BenchmarkZTFDecodeStruct(b *testing.B) {
	msg := samples.Read(b, "data", "ztf", ztfSample33)
	c := ztfCodec(b)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		var a ztf.Alert
		if err := c.Decode(ctx, msg, &a); err != nil {
			b.Fatal(err)
		}
	}
}

// What fan-out decodes: the id, time and program.
func BenchmarkZTFDecodeRouting(b *testing.B) {
	msg := samples.Read(b, "data", "ztf", ztfSample33)
	c := ztfCodec(b)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		var r struct {
			Candid    int64 `avro:"candid"`
			Candidate struct {
				Jd        float64 `avro:"jd"`
				Programid int     `avro:"programid"`
			} `avro:"candidate"`
		}
		if err := c.Decode(ctx, msg, &r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZTFParseContainer(b *testing.B) {
	msg := samples.Read(b, "data", "ztf", ztfSample33)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := framing.ParseContainer(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkZTFEncode(b *testing.B) {
	c := ztfCodec(b)
	var a ztf.Alert
	if err := c.Decode(context.Background(), samples.Read(b, "data", "ztf", ztfSample33), &a); err != nil {
		b.Fatal(err)
	}
	msg, _ := c.Encode(&a)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encode(&a); err != nil {
			b.Fatal(err)
		}
	}
}
