package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestUnknownGroupOffsets covers the request shapes sarama does not send
// (and so the sarama tests miss): v10 topic ids, fetch-all, mixed groups.
func TestUnknownGroupOffsets(t *testing.T) {
	known := func(g string) bool { return g == "known" }

	// v7 and below: one group, topics by name; nil topics means all.
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Version = 7
	req.Group = "new"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "a", []int32{0, 3}
	req.Topics = append(req.Topics, rt)
	kresp, ok := unknownGroupOffsets(req, known)
	if !ok {
		t.Fatal("v7 request for an unknown group declined")
	}
	resp := kresp.(*kmsg.OffsetFetchResponse)
	if resp.ErrorCode != 0 || len(resp.Topics) != 1 || resp.Topics[0].Topic != "a" || len(resp.Topics[0].Partitions) != 2 {
		t.Fatalf("v7 response %+v", resp)
	}
	for i, p := range resp.Topics[0].Partitions {
		if p.Partition != req.Topics[0].Partitions[i] || p.Offset != -1 || p.ErrorCode != 0 || p.Metadata != nil {
			t.Fatalf("v7 partition %d: %+v, want offset -1 and no error", i, p)
		}
	}
	req.Topics = nil
	if kresp, ok := unknownGroupOffsets(req, known); !ok || len(kresp.(*kmsg.OffsetFetchResponse).Topics) != 0 {
		t.Fatalf("v7 fetch-all for an unknown group: %v, %+v; want an empty answer", ok, kresp)
	}
	for _, g := range []string{"known", ""} {
		req.Group = g
		if _, ok := unknownGroupOffsets(req, known); ok {
			t.Fatalf("v7 request for group %q handled, want it left to kfake", g)
		}
	}

	// v8 and up: several groups; v10 names topics by id.
	req = kmsg.NewPtrOffsetFetchRequest()
	req.Version = 10
	id := [16]byte{1, 2, 3}
	for _, name := range []string{"x", "y"} {
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group = name
		gt := kmsg.NewOffsetFetchRequestGroupTopic()
		gt.TopicID, gt.Partitions = id, []int32{5}
		rg.Topics = append(rg.Topics, gt)
		req.Groups = append(req.Groups, rg)
	}
	kresp, ok = unknownGroupOffsets(req, known)
	if !ok {
		t.Fatal("v10 request for unknown groups declined")
	}
	resp = kresp.(*kmsg.OffsetFetchResponse)
	if len(resp.Groups) != 2 {
		t.Fatalf("v10 response has %d groups, want 2", len(resp.Groups))
	}
	for i, g := range resp.Groups {
		if g.Group != req.Groups[i].Group || g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].TopicID != id {
			t.Fatalf("v10 group %d: %+v", i, g)
		}
		if p := g.Topics[0].Partitions; len(p) != 1 || p[0].Partition != 5 || p[0].Offset != -1 || p[0].ErrorCode != 0 {
			t.Fatalf("v10 group %d partitions %+v, want partition 5 at offset -1", i, p)
		}
	}
	req.Groups[1].Group = "known"
	if _, ok := unknownGroupOffsets(req, known); ok {
		t.Fatal("v10 request mixing a known group handled, want it left to kfake")
	}
}
