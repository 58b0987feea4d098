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
func BenchmarkZTFDecodeStruct(b *testing.B) { benchDecode[ztf.Alert](b) }

// What fan-out decodes: the id, time and program.
func BenchmarkZTFDecodeRouting(b *testing.B) { benchDecode[routingFields](b) }

// benchDecode decodes the real 3.3 packet into a fresh T each time.
func benchDecode[T any](b *testing.B) {
	msg := samples.Read(b, "data", "ztf", ztfSample33)
	c := ztfCodec(b)
	ctx := context.Background()
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		var v T
		if err := c.Decode(ctx, msg, &v); err != nil {
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
