package pipelines_test

import (
	"bytes"
	"context"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
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
	in := ingestNight(t, 2)
	w := kafkaio.WriteConfig{Config: in.conn, Partitions: 2}
	root := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:  kafkaio.ReadConfig{Config: in.conn, Topics: []string{"ingest"}, Group: "d", StopAtEnd: true},
		Write: w, Survey: "ztf", Archive: &archive.Config{Root: root},
	})
	runPipeline(t, p)
	in.checkDistributed(t, root, "d")

	// Replay straight into the filters, on a fresh output prefix.
	p, s = beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Archive: &archive.ReadConfig{Survey: "ztf", Root: root, Night: "20261124"},
		Write:   w, Survey: "ztf", Filters: []string{"purity", "bright:max=19"}, TopicPrefix: "replay.",
	})
	runPipeline(t, p)
	checkSelected(t, in.addr, selectedBy(t, in.spec, "replay.", "purity", "bright:max=19"), in.want)
}

// ingested is a simulated night (the 24th) on the topic "ingest" of a
// fresh broker, followed by corrupt records.
type ingested struct {
	addr     string
	conn     kafkaio.Config
	spec     pipelines.NightSpec
	want     map[int64][]byte // the alerts' bytes by id
	perTopic map[string]int   // alerts per night topic
	corrupt  int
}

func ingestNight(t *testing.T, partitions int32) ingested {
	t.Helper()
	b := kafkatest.Start(t, broker.Options{Partitions: partitions})
	in := ingested{addr: b.Addr(), conn: kafkaio.Config{Brokers: []string{b.Addr()}}, spec: night(24),
		want: map[int64][]byte{}, perTopic: map[string]int{}}
	expected(t, in.spec, in.want, in.perTopic)
	produceNight(t, in.spec, "ingest", kafkaio.WriteConfig{Config: in.conn, Partitions: partitions})
	corrupt := [][]byte{[]byte("not an alert"), in.want[firstKey(in.want)][:700]}
	sendRaw(t, b.Addr(), "ingest", corrupt)
	in.corrupt = len(corrupt)
	return in
}

// checkDistributed asserts what Distribute with the archive under root
// did: every alert in its night topic and, once, in the archive; each
// corrupt record dead-lettered once, by the router (not once per sink);
// group's offsets committed to the end of the ingest topic.
func (in ingested) checkDistributed(t *testing.T, root, group string) {
	t.Helper()
	total := 0
	for topic, n := range in.perTopic {
		if got := kafkatest.ReadTopic(t, in.addr, topic); len(got) != n {
			t.Fatalf("%s: %d alerts, want %d", topic, len(got), n)
		}
		total += n
	}
	rep, err := archive.Verify(context.Background(), root, "ztf", "20261124")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != int64(len(in.want)) || total != len(in.want) {
		t.Fatalf("archive: %d records (%d duplicates, %d unreadable), topics %d; want %d once each", rep.Records, len(rep.Duplicates), len(rep.Unreadable), total, len(in.want))
	}
	dead := kafkatest.ReadTopic(t, in.addr, deadletter.DefaultTopic)
	if len(dead) != in.corrupt {
		t.Fatalf("%d dead letters, want one per corrupt message (%d)", len(dead), in.corrupt)
	}
	for _, m := range dead {
		if h := headers(m); h[deadletter.HeaderStage] != fanout.Stage {
			t.Fatalf("dead letter from stage %q, want %q", h[deadletter.HeaderStage], fanout.Stage)
		}
	}
	if lag := kafkatest.Lag(t, in.addr, group, "ingest"); lag != 0 {
		t.Fatalf("group %s is %d records behind the end of ingest after a bounded run", group, lag)
	}
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
	g := simtest.New(t, spec.Config())
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
