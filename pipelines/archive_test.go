package pipelines_test

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"testing"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/fanout"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Distribute with the archive: every alert is in its night topic and, once,
// in the archive; each corrupt message is dead-lettered once (not once per
// sink); offsets are committed to the end. The archived night, replayed
// straight into filters, gives exactly the alerts the filters select, with
// the archived bytes.
func TestDistributeWithArchiveThenReplayIntoFilters(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}
	root := t.TempDir()

	spec := night(24)
	want, perTopic := map[int64][]byte{}, map[string]int{}
	expected(t, spec, want, perTopic)
	produceNight(t, spec, "ingest", w)
	corrupt := [][]byte{[]byte("not an alert"), want[firstKey(want)][:700]}
	sendRaw(t, b.Addr(), "ingest", corrupt)

	p, s := beam.NewPipelineWithRoot()
	if _, err := pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
		Write: w, Survey: "ztf", Archive: &archive.Config{Root: root},
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)

	total := 0
	for topic, n := range perTopic {
		if got := kafkatest.ReadTopic(t, b.Addr(), topic); len(got) != n {
			t.Fatalf("%s: %d alerts, want %d", topic, len(got), n)
		}
		total += n
	}
	rep, err := archive.Verify(context.Background(), root, "ztf", "20261124")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != int64(len(want)) || total != len(want) {
		t.Fatalf("archive: %d records (%d duplicates, %d unreadable), topics %d; want %d once each", rep.Records, len(rep.Duplicates), len(rep.Unreadable), total, len(want))
	}
	dead := kafkatest.ReadTopic(t, b.Addr(), deadletter.DefaultTopic)
	if len(dead) != len(corrupt) {
		t.Fatalf("%d dead letters, want one per corrupt message (%d)", len(dead), len(corrupt))
	}
	for _, m := range dead {
		if h := headers(m); h[deadletter.HeaderStage] != fanout.Stage {
			t.Fatalf("dead letter from stage %q, want %q", h[deadletter.HeaderStage], fanout.Stage)
		}
	}
	if lag := groupLag(t, b.Addr(), "d", "ingest"); lag != 0 {
		t.Fatalf("group d is %d records behind the end of ingest after a bounded run", lag)
	}

	// Replay straight into the filters, on a fresh output prefix.
	p, s = beam.NewPipelineWithRoot()
	if _, err := pipelines.Filter(s, pipelines.FilterConfig{
		Archive: &archive.ReadConfig{Survey: "ztf", Root: root, Night: "20261124"},
		Write:   w, Survey: "ztf", Filters: []string{"purity", "bright:max=19"}, TopicPrefix: "replay.",
	}); err != nil {
		t.Fatal(err)
	}
	runPipeline(t, p)
	checkSelected(t, b.Addr(), selectedBy(t, spec, "replay.", "purity", "bright:max=19"), want)
}

// selectedBy works out, by the filters themselves on the generated
// packets, which alert ids each filter's topic (prefix + its name) gets.
func selectedBy(t *testing.T, spec pipelines.NightSpec, prefix string, specs ...string) map[string][]string {
	t.Helper()
	var fs []*filter.Filter
	for _, sp := range specs {
		f, err := filter.Build(sp, "ztf")
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	g, err := sim.New(spec.Config())
	if err != nil {
		t.Fatal(err)
	}
	selected := map[string][]string{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		id := strconv.FormatInt(a.ZTF.Candid, 10)
		for _, f := range fs {
			if k, _ := f.Keep(filter.OfZTF(a.ZTF)); k {
				selected[prefix+f.Name()] = append(selected[prefix+f.Name()], id)
			}
		}
	}
	return selected
}

// checkSelected asserts that each topic holds exactly the selected ids,
// each with the bytes produced for it.
func checkSelected(t *testing.T, addr string, selected map[string][]string, want map[int64][]byte) {
	t.Helper()
	for topic, ids := range selected {
		got := kafkatest.ReadTopic(t, addr, topic)
		var keys []string
		for _, m := range got {
			keys = append(keys, string(m.Key))
			id, _ := strconv.ParseInt(string(m.Key), 10, 64)
			if !bytes.Equal(m.Value, want[id]) {
				t.Fatalf("%s: %s differs from the produced bytes", topic, m.Key)
			}
		}
		sort.Strings(keys)
		sort.Strings(ids)
		if len(ids) == 0 || !equal(keys, ids) {
			t.Fatalf("%s: %d alerts, want exactly the %d selected", topic, len(keys), len(ids))
		}
	}
}

// groupLag is how many records of a topic lie beyond the group's committed
// offsets (everything, for a partition without a commit).
func groupLag(t *testing.T, addr, group, topic string) int64 {
	t.Helper()
	sc := sarama.NewConfig()
	sc.Version = kafkaio.KafkaVersion
	cl, err := sarama.NewClient([]string{addr}, sc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	admin, err := sarama.NewClusterAdminFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	parts, err := cl.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		t.Fatal(err)
	}
	var lag int64
	for _, p := range parts {
		end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		done := int64(0)
		if blk := resp.GetBlock(topic, p); blk != nil && blk.Offset > 0 {
			done = blk.Offset
		}
		lag += end - done
	}
	return lag
}
