package pipelines_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// A streaming filter run with filter a from flags takes filter definitions
// from a topic while alerts keep arriving: b is added, a is redefined, two
// bad definitions are published, and b is removed. Each output holds
// exactly the alerts its definitions kept, by header and by source offset;
// the bad definitions change nothing and their errors are on the status
// topic.
func TestFilterLiveDefinitions(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	liveDefinitionsFlow(t, b.Addr(), "")
}

// liveFlow names the topics and group of one run of liveDefinitionsFlow.
type liveFlow struct {
	alerts, defs, status, prefix, group, dlq string
}

// liveDefinitionsFlow runs the live-definitions scenario against the
// brokers at addr, every topic and group name starting with prefix (so
// that runs on a long-lived cluster do not meet).
func liveDefinitionsFlow(t *testing.T, addr, prefix string) {
	n := liveFlow{alerts: prefix + "livealerts", defs: prefix + "filterdefs", status: prefix + "filterstatus",
		prefix: prefix + "live.", group: prefix + "livetest", dlq: prefix + "live.dead"}
	conn := kafkaio.Config{Brokers: []string{addr}}
	createTopics(t, addr, map[string]int32{n.alerts: 2}, nil)
	createTopics(t, addr, map[string]int32{n.defs: 1}, map[string]*string{"cleanup.policy": ptr("compact")})

	prod := kafkatest.Producer(t, addr)
	defer prod.Close()
	// Definitions go out as 'alertbeam filters add' and 'rm' publish them.
	define := func(name string, d *filter.Definition) {
		t.Helper()
		if _, _, err := filter.PublishDefinition(context.Background(), conn, n.defs, name, d); err != nil {
			t.Fatal(err)
		}
	}

	// Five kinds of alert (rb, magpsf): a (magpsf < 18) keeps the first
	// three, its redefinition a' (magpsf < 16) the first and third, b
	// (rb > 0.7) those with rb 0.9.
	kinds := [][2]float32{{0.9, 15}, {0.9, 17}, {0.3, 15}, {0.3, 19}, {0.9, 19}}
	base, codec := simtest.ZTF(t, time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 7)
	type sent struct {
		batch  int
		kind   [2]float32
		part   int32
		offset int64
	}
	alerts := map[string]sent{} // by candid
	next := int64(1)
	batch := func(no int) {
		t.Helper()
		for range 2 {
			for _, k := range kinds {
				z := base
				rb := k[0]
				z.Candidate.Candid, z.Candidate.Rb, z.Candidate.Magpsf = next, &rb, k[1]
				z.Candid = next
				next++
				v, err := codec.Encode(&z)
				if err != nil {
					t.Fatal(err)
				}
				key := strconv.FormatInt(z.Candid, 10)
				part, off, err := prod.SendMessage(&sarama.ProducerMessage{Topic: n.alerts, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(v)})
				if err != nil {
					t.Fatal(err)
				}
				alerts[key] = sent{batch: no, kind: k, part: part, offset: off}
			}
		}
	}

	run := startFilter(t, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{n.alerts}, Group: n.group, Start: kafkaio.StartCommitted, IdleAdvance: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "ztf", TopicPrefix: n.prefix, DeadLetterTopic: n.dlq,
		Filters: []string{"a=candidate.magpsf < 18.0"}, Definitions: n.defs, StatusTopic: n.status,
	})
	// The test shares the process's definitions reader with the
	// pipeline's DoFns (the direct runner runs them here), so it sees
	// what they see.
	live, err := filter.FollowDefinitions(filter.Definitions{Conn: conn, Topic: n.defs}, filter.DefinitionEnv{Survey: "ztf"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	processed := func() bool { return kafkatest.Lag(t, addr, n.group, n.alerts) == 0 }
	version := func(name string) int64 {
		lf, ok := live.Get(name)
		if !ok {
			return -1
		}
		return lf.Definition.Version
	}
	at := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)

	batch(1) // a from flags only
	run.until("batch 1 processed", processed)

	define("b", &filter.Definition{Spec: "candidate.rb > 0.7", Owner: "bob", Version: 1, Created: at})
	run.until("b v1 read", func() bool { return version("b") == 1 })
	batch(2)
	run.until("batch 2 processed", processed)

	define("a", &filter.Definition{Spec: "candidate.magpsf < 16.0", Owner: "alice", Version: 1, Created: at})
	run.until("a v1 read", func() bool { return version("a") == 1 })
	batch(3)
	// A record that is no alert: dead-lettered once, for every output,
	// live ones included, so that offsets still commit past it.
	if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: n.alerts, Value: sarama.StringEncoder("not an alert")}); err != nil {
		t.Fatal(err)
	}
	run.until("batch 3 processed", processed)

	// A CEL expression that does not type-check, as b's next version,
	// an unknown built-in, and a filter that would publish to the run's
	// dead-letter topic: none changes anything.
	define("b", &filter.Definition{Spec: "candidate.rbb > 0.5", Owner: "bob", Version: 2, Created: at})
	define("c", &filter.Definition{Spec: "nosuch:x=1", Owner: "carol", Version: 1, Created: at})
	define("dead", &filter.Definition{Spec: "purity", Owner: "dave", Version: 1, Created: at})
	run.until("the bad definitions read", func() bool { return live.Records() == 5 })
	if version("b") != 1 || version("c") != -1 {
		t.Fatalf("after the bad definitions: b at version %d, c at %d; want 1 and none", version("b"), version("c"))
	}
	batch(4)
	run.until("batch 4 processed", processed)

	define("b", nil)
	run.until("b removed", func() bool { return version("b") == -1 })
	batch(5)
	run.until("batch 5 processed", processed)
	run.until("every definition reported", func() bool { return kafkatest.Lag(t, addr, n.group+".definitions", n.defs) == 0 })
	run.Stop()

	// The truth, from what was sent.
	wantA, wantB := map[string]string{}, map[string]string{}
	for id, a := range alerts {
		rb, mag := a.kind[0], a.kind[1]
		switch {
		case a.batch <= 2 && mag < 18:
			wantA[id] = "0"
		case a.batch >= 3 && mag < 16:
			wantA[id] = "1"
		}
		if a.batch >= 2 && a.batch <= 4 && rb > 0.7 {
			wantB[id] = "1"
		}
	}
	check := func(out string, want map[string]string, name string) []*sarama.ConsumerMessage {
		t.Helper()
		msgs := kafkatest.ReadTopic(t, addr, n.prefix+out)
		got := map[string]string{}
		for _, m := range msgs {
			h := headers(m)
			if h[filter.HeaderName] != name {
				t.Fatalf("%s: alert %s names filter %q, want %q", out, m.Key, h[filter.HeaderName], name)
			}
			if _, dup := got[string(m.Key)]; dup {
				t.Fatalf("%s: alert %s twice", out, m.Key)
			}
			got[string(m.Key)] = h[filter.HeaderVersion]
		}
		if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
			t.Fatalf("%s (id=version): %v, want %v", out, sorted(got), sorted(want))
		}
		return msgs
	}
	if len(wantA) != 24 || len(wantB) != 18 {
		t.Fatalf("the scenario should keep 24 alerts in a and 18 in b, not %d and %d", len(wantA), len(wantB))
	}
	outA := check("a", wantA, "a")
	check("b", wantB, "b")

	// By offsets: b holds, in each partition of the input, exactly the
	// rb 0.9 alerts of the stretch from the first alert sent after its
	// definition was read to the last sent before its removal.
	for part := range int32(2) {
		var lo, hi int64 = -1, -1
		for _, a := range alerts {
			if a.part != part || a.batch < 2 || a.batch > 4 {
				continue
			}
			if lo < 0 || a.offset < lo {
				lo = a.offset
			}
			hi = max(hi, a.offset)
		}
		for id, a := range alerts {
			in := a.part == part && a.offset >= lo && a.offset <= hi
			if _, kept := wantB[id]; a.part == part && kept != (in && a.kind[0] > 0.7) {
				t.Fatalf("partition %d offset %d (batch %d): in b %v, want it there only inside [%d, %d] with rb 0.9", part, a.offset, a.batch, kept, lo, hi)
			}
		}
	}
	// a's topic switches from its flag definition (0) to version 1 at one
	// point in each partition.
	byPart := map[int32][]*sarama.ConsumerMessage{}
	for _, m := range outA {
		byPart[m.Partition] = append(byPart[m.Partition], m)
	}
	for part, ms := range byPart {
		sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
		var seq []string
		for _, m := range ms {
			if v := headers(m)[filter.HeaderVersion]; len(seq) == 0 || seq[len(seq)-1] != v {
				seq = append(seq, v)
			}
		}
		if !slices.Equal(seq, []string{"0", "1"}) {
			t.Fatalf("a's output, partition %d: versions in order %v, want one switch from 0 to 1", part, seq)
		}
	}
	dead := kafkatest.ReadTopic(t, addr, n.dlq)
	if len(dead) != 1 || headers(dead[0])[deadletter.HeaderStage] != filter.Stage || string(dead[0].Value) != "not an alert" {
		t.Fatalf("%d messages on the dead-letter topic %s, want the one that is no alert (and no refused filter's alerts)", len(dead), n.dlq)
	}

	// The status topic: what the run made of each definition, once.
	var got []string
	errs := map[string]string{}
	for _, m := range kafkatest.ReadTopic(t, addr, n.status) {
		var st filter.DefinitionStatus
		if err := json.Unmarshal(m.Value, &st); err != nil {
			t.Fatalf("status %s: %v", m.Value, err)
		}
		got = append(got, fmt.Sprintf("%s v%d %s", st.Name, st.Version, st.Status))
		if st.Error != "" {
			errs[st.Name] = st.Error
		}
	}
	sort.Strings(got)
	want := []string{"a v1 accepted", "b v0 removed", "b v1 accepted", "b v2 rejected", "c v1 rejected", "dead v1 rejected"}
	if !slices.Equal(got, want) {
		t.Fatalf("status records %q, want %q", got, want)
	}
	if !strings.Contains(errs["b"], "rbb") || !strings.Contains(errs["c"], `"nosuch"`) || !strings.Contains(errs["dead"], "a topic the run reads or reports on") {
		t.Fatalf("the rejections should say what is wrong: %q", errs)
	}
	t.Logf("a kept %d, b kept %d of %d alerts; rejected: b: %s; c: %s", len(wantA), len(wantB), len(alerts), errs["b"], errs["c"])
}

func ptr[T any](v T) *T { return &v }

// createTopics creates topics (those that exist are left as they are).
func createTopics(t *testing.T, addr string, topics map[string]int32, config map[string]*string) {
	t.Helper()
	admin := kafkatest.Admin(t, addr)
	for name, parts := range topics {
		err := admin.CreateTopic(name, &sarama.TopicDetail{NumPartitions: parts, ReplicationFactor: -1, ConfigEntries: config}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			t.Fatalf("creating %s: %v", name, err)
		}
	}
}

// A live definition with cap_per_visit keeps, on a live stream, exactly the
// N alerts of highest S/N of each visit once a later visit shows it is
// complete, stamped with its version; a flag filter beside it publishes at
// once, uncapped.
func TestFilterLiveDefinitionWithCap(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"capalerts": 2}})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	if _, _, err := filter.PublishDefinition(context.Background(), conn, "capdefs", "top",
		&filter.Definition{Spec: "candidate.jd > 0.0", Owner: "rubin", Version: 3, CapPerVisit: 20}); err != nil {
		t.Fatal(err)
	}

	const n, maxDelay = 20, 5 * time.Second
	c := simtest.Night(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC), 8, 6, 100)
	spec := pipelines.SpecOf(c)
	want, _, visits := capped(t, spec, n, decidedLive(t, spec, maxDelay, filter.DefaultCapWindow, 0))
	few, err := filter.Build("candidate.magpsf < 17.0", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	all, err := sim.Generate(spec.Config())
	if err != nil {
		t.Fatal(err)
	}
	wantFew := map[string]bool{}
	for _, a := range all {
		if k, _ := few.Keep(filter.OfZTF(a.ZTF)); k {
			wantFew[strconv.FormatInt(a.ZTF.Candid, 10)] = true
		}
	}

	run := startFilter(t, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"capalerts"}, Group: "cap-defs", MaxDelay: maxDelay},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "ztf", Filters: []string{"few=candidate.magpsf < 17.0"},
		Definitions: "capdefs", StatusTopic: "capstatus", TopicPrefix: "cap.",
	})
	sendNight(t, b.Addr(), "capalerts", spec)
	run.until("the decided visits' capped alerts published", func() bool { return kafkatest.Messages(t, b.Addr(), "cap.top") >= int64(len(want)) })
	run.until("the flag filter's alerts published", func() bool { return kafkatest.Messages(t, b.Addr(), "cap.few") >= int64(len(wantFew)) })
	run.Stop()

	for _, out := range []struct {
		topic, name, version string
		want                 map[string]bool
	}{{"cap.top", "top", "3", want}, {"cap.few", "few", "0", wantFew}} {
		seen := readKeys(t, b.Addr(), out.topic, func(m *sarama.ConsumerMessage) string {
			k, h := string(m.Key), headers(m)
			if !out.want[k] || h[filter.HeaderName] != out.name || h[filter.HeaderVersion] != out.version {
				return fmt.Sprintf("alert %s (headers %v) is not one of the %d wanted", k, h, len(out.want))
			}
			return ""
		})
		if len(seen) != len(out.want) {
			t.Fatalf("%s holds %d alerts, want exactly %d", out.topic, len(seen), len(out.want))
		}
	}
	t.Logf("top kept %d alerts (%d per decided visit, %d visits); few %d", len(want), n, visits, len(wantFew))
}
