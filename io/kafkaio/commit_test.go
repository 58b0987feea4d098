package kafkaio

import (
	"math/rand"
	"reflect"
	"testing"
)

// Acks for a partition read with offset gaps (compaction, transactions),
// arriving shuffled from three sinks: the frontier never passes a record
// not acknowledged by all three, reaches the last one at the end, and its
// encoded state reads back equal at every step.
func TestFrontierOutOfOrder(t *testing.T) {
	offsets := []int64{}
	for o := int64(100); len(offsets) < 500; o += 1 + int64(len(offsets)%3) {
		offsets = append(offsets, o)
	}
	var acks []Ack
	for i, o := range offsets {
		prev := int64(99)
		if i > 0 {
			prev = offsets[i-1]
		}
		for range 3 {
			acks = append(acks, Ack{Source: Source{Topic: "t", Partition: 0, Offset: o, Prev: prev, Base: 100}, Units: 1})
		}
	}
	rand.New(rand.NewSource(1)).Shuffle(len(acks), func(i, j int) { acks[i], acks[j] = acks[j], acks[i] })
	units := map[int64]int{}
	var f frontier
	for i, a := range acks {
		units[a.Offset]++
		f.add(a, 3)
		// The frontier is the last offset of the complete prefix.
		want := int64(99)
		for _, o := range offsets {
			if units[o] < 3 {
				break
			}
			want = o
		}
		if f.Done != want {
			t.Fatalf("after ack %d: frontier %d, want %d", i, f.Done, want)
		}
		if i%50 == 0 {
			back, err := decodeFrontier(f.encode())
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Pending) == 0 {
				f.Pending = map[int64]pendingRec{} // decode makes an empty map
			}
			if !reflect.DeepEqual(back, f) {
				t.Fatalf("after ack %d: state reads back as %+v, want %+v", i, back, f)
			}
		}
	}
	if f.Done != offsets[len(offsets)-1] || len(f.Pending) != 0 {
		t.Fatalf("end: frontier %d with %d pending, want %d and none", f.Done, len(f.Pending), offsets[len(offsets)-1])
	}
	// A duplicate of a committed record changes nothing.
	if f.add(acks[0], 3) || f.Done != offsets[len(offsets)-1] {
		t.Fatal("a duplicate ack moved the frontier")
	}
	if _, err := decodeFrontier([]byte{0x02, 0x80}); err == nil {
		t.Fatal("truncated state decoded")
	}
}

func BenchmarkFrontier(b *testing.B) {
	var f frontier
	f.Pending = map[int64]pendingRec{}
	for i := 0; i < 50000; i++ { // a window's worth of records waiting for the archive
		f.add(Ack{Source: Source{Offset: int64(i + 1), Prev: int64(i), Base: 0}, Units: 1}, 2)
	}
	b.ReportAllocs()
	for b.Loop() {
		g, _ := decodeFrontier(f.encode())
		_ = g
	}
}
