package pipelines_test

import (
	"bytes"
	"sort"
	"strconv"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Filter publishes each filter's output to its own topic with the original
// bytes, and a second filter chained on the first one's topic keeps the
// subset both select. Both read in shards (two over two partitions, then
// three, one of them without a partition) and commit to the end.
func TestFilterTopicsAndChaining(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	w := kafkaio.WriteConfig{Config: conn, Partitions: 2}

	spec := night(22)
	produceNight(t, spec, "night", w)

	// The truth, from the filters applied directly to the generated alerts.
	purity, _ := filter.Build("purity", "ztf")
	bright, _ := filter.Build("bright:max=19", "ztf")
	g := simtest.New(t, spec.Config())
	codec, _ := framing.NewZTF()
	want := map[string][]string{}
	msgs := map[string][]byte{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		id := strconv.FormatInt(a.ZTF.Candid, 10)
		msgs[id], _ = codec.Encode(a.ZTF)
		fa := filter.OfZTF(a.ZTF)
		kp, _ := purity.Keep(fa)
		kb, _ := bright.Keep(fa)
		if kp {
			want["purity"] = append(want["purity"], id)
		}
		if kb {
			want["bright19"] = append(want["bright19"], id)
		}
		if kp && kb {
			want["pure.bright"] = append(want["pure.bright"], id)
		}
	}

	p, s := beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"night"}, Group: "f1", StopAtEnd: true},
		Write: w, Survey: "ztf", Filters: []string{"purity", "bright19=bright:max=19"}, Shards: 2,
	})
	runPipeline(t, p)
	// Chain: a CEL filter reading the purity filter's topic.
	p, s = beam.NewPipelineWithRoot()
	pipelines.Filter(s, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"purity"}, Group: "f2", StopAtEnd: true},
		Write: w, Survey: "ztf", Filters: []string{"bright=candidate.magpsf <= 19.0"}, TopicPrefix: "pure.", Shards: 3,
	})
	runPipeline(t, p)
	for group, topic := range map[string]string{"f1": "night", "f2": "purity"} {
		if lag := kafkatest.Lag(t, b.Addr(), group, topic); lag != 0 {
			t.Fatalf("group %s is %d records behind the end of %s", group, lag, topic)
		}
	}

	for topic, ids := range want {
		got := kafkatest.ReadTopic(t, b.Addr(), topic)
		var keys []string
		for _, m := range got {
			keys = append(keys, string(m.Key))
			if !bytes.Equal(m.Value, msgs[string(m.Key)]) {
				t.Fatalf("%s: %s is not byte-identical to what was produced", topic, m.Key)
			}
		}
		sort.Strings(keys)
		sort.Strings(ids)
		if len(keys) != len(ids) || (len(ids) > 0 && keys[0] != ids[0]) || !equal(keys, ids) {
			t.Fatalf("%s: %d alerts, want exactly the %d selected", topic, len(keys), len(ids))
		}
		if len(ids) == 0 {
			t.Fatalf("%s: the test night selects nothing; choose other cuts", topic)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
