package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/registry"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func TestMain(m *testing.M) { ptest.Main(m) }

// A small run of every phase in this process: each completes, the live
// phase sees every alert of every visit come out of the full pipeline, and
// the report adds up.
func TestRunSmall(t *testing.T) {
	b, err := broker.Start(broker.Options{Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	opts := Options{Brokers: []string{b.Addr()}, Topic: "ingest", Alerts: 300, Partitions: 2, Seed: 1,
		Visits: 2, Burst: 150, Cadence: time.Second, Progress: os.Stderr, Shards: 2}
	// The archives go to a temporary directory of the run's, which it
	// removes, whichever phase's process made what.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	ctx := context.Background()
	size, err := Load(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Run(ctx, opts, size)
	if err != nil {
		t.Fatal(err)
	}
	Print(os.Stderr, rep)
	if left, _ := filepath.Glob(filepath.Join(tmp, "alertbeam-bench-archive-*")); len(left) > 0 {
		t.Errorf("the run left its archives behind: %v", left)
	}
	if len(rep.Results) != len(Phases) {
		t.Fatalf("%d results, want one per phase %v", len(rep.Results), Phases)
	}
	for i, r := range rep.Results {
		if r.Phase != Phases[i] {
			t.Fatalf("result %d is phase %s, want %s", i, r.Phase, Phases[i])
		}
		if _, compared := floorOf[r.Phase]; compared != (r.RatioFloor > 0) {
			t.Errorf("phase %s: ratio to floor %v", r.Phase, r.RatioFloor)
		}
	}
	live := rep.Results[len(rep.Results)-1]
	if live.Phase != PhaseLive || live.Alerts != 300 || !(live.P50Ms > 0 && live.P50Ms <= live.P99Ms && live.P99Ms <= live.MaxMs) {
		t.Fatalf("live result %+v: want 300 alerts and ordered, positive latencies", live)
	}
	// Every filter copy the same filters keep came out (the run waits for
	// each), and there were some.
	_, perVisit, err := expectKept(ctx, opts, "")
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, n := range perVisit[1:] { // visit 0 warms up
		want += n
	}
	if want == 0 || live.FilterCopies != want || !(live.FilterP50Ms > 0 && live.FilterP50Ms <= live.FilterP98Ms && live.FilterP98Ms <= live.FilterP99Ms && live.FilterP99Ms <= live.FilterMaxMs) {
		t.Fatalf("live result %+v: want %d filter copies and ordered, positive latencies", live, want)
	}

}

// The floors do their pipelines' work: on the same loaded alerts, the
// distribute floor puts every alert in its night topic, and the full floor
// puts in each filter topic exactly as many alerts as the full pipeline
// (its read in two shards, as the command runs it on two cores),
// and archives every alert once; offsets are committed to the end. For
// both surveys.
func TestFloorsDoTheSameWork(t *testing.T) {
	for _, survey := range []string{schemas.ZTF, schemas.LSST} {
		t.Run(survey, func(t *testing.T) {
			b, err := broker.Start(broker.Options{Partitions: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			const n = 240
			opts := Options{Brokers: []string{b.Addr()}, Topic: "ingest", Survey: survey, Alerts: n, Partitions: 2, Seed: 1, Shards: 2}
			if survey == schemas.LSST {
				srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
				if err != nil {
					t.Fatal(err)
				}
				defer srv.Close()
				opts.Registry = srv.URL()
			}
			ctx := context.Background()
			if _, err := Load(ctx, opts); err != nil {
				t.Fatal(err)
			}
			cl, err := sarama.NewClient(opts.Brokers, sarama.NewConfig())
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			nights := func() int64 {
				var sum int64
				for topic, c := range topicCounts(t, cl) {
					if strings.HasPrefix(topic, survey+"_") {
						sum += c
					}
				}
				return sum
			}

			if err := RunPhase(ctx, PhaseDistributeFloor, opts); err != nil {
				t.Fatal(err)
			}
			if got := nights(); got != n {
				t.Fatalf("after %s the night topics hold %d alerts, want %d", PhaseDistributeFloor, got, n)
			}
			roots := map[string]string{}
			for _, phase := range []string{PhaseFullFloor, PhaseFull} {
				o := opts
				o.ArchiveRoot = t.TempDir()
				roots[phase] = o.ArchiveRoot
				if err := RunPhase(ctx, phase, o); err != nil {
					t.Fatalf("%s: %v", phase, err)
				}
			}
			if got := nights(); got != 3*n {
				t.Fatalf("after both full phases the night topics hold %d alerts, want %d", got, 3*n)
			}
			counts := topicCounts(t, cl)
			var kept int64
			for _, spec := range opts.filters() {
				f, err := filter.Build(spec, survey)
				if err != nil {
					t.Fatal(err)
				}
				floor, full := counts["bench.full-floor."+f.Name()], counts["bench.full."+f.Name()]
				if floor != full {
					t.Errorf("filter %s: the floor kept %d alerts, the pipeline %d", f.Name(), floor, full)
				}
				kept += full
				t.Logf("filter %s kept %d of %d (floor %d)", f.Name(), full, n, floor)
			}
			if kept == 0 {
				t.Fatal("no filter kept anything: the comparison says nothing")
			}
			for phase, root := range roots {
				if got := archived(t, root, survey); got != n {
					t.Errorf("%s archived %d records, want %d", phase, got, n)
				}
			}
			// The floors commit their groups to the end of the topic.
			admin, err := sarama.NewClusterAdminFromClient(cl)
			if err != nil {
				t.Fatal(err)
			}
			groups, err := admin.ListConsumerGroups()
			if err != nil {
				t.Fatal(err)
			}
			parts, _ := cl.Partitions(opts.Topic)
			floors := 0
			for g := range groups {
				if !strings.Contains(g, "-floor-") {
					continue
				}
				floors++
				resp, err := admin.ListConsumerGroupOffsets(g, map[string][]int32{opts.Topic: parts})
				if err != nil {
					t.Fatal(err)
				}
				var sum int64
				for _, p := range parts {
					sum += resp.GetBlock(opts.Topic, p).Offset
				}
				if sum != n {
					t.Errorf("group %s committed offsets summing to %d, want %d", g, sum, n)
				}
			}
			if floors != 2 {
				t.Errorf("%d floor groups, want 2", floors)
			}
		})
	}
}

// topicCounts is the number of records in every topic.
func topicCounts(t *testing.T, cl sarama.Client) map[string]int64 {
	t.Helper()
	if err := cl.RefreshMetadata(); err != nil {
		t.Fatal(err)
	}
	topics, err := cl.Topics()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, topic := range topics {
		parts, err := cl.Partitions(topic)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range parts {
			end, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil {
				t.Fatal(err)
			}
			out[topic] += end
		}
	}
	return out
}

// archived counts the records of every night under root, checking that
// the archive verifies.
func archived(t *testing.T, root, survey string) int64 {
	t.Helper()
	nights, err := os.ReadDir(filepath.Join(root, survey))
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, d := range nights {
		if !d.IsDir() || strings.HasPrefix(d.Name(), "_") || strings.HasPrefix(d.Name(), ".") {
			continue
		}
		rep, err := archive.Verify(context.Background(), root, survey, d.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("archive %s night %s: %s", root, d.Name(), rep)
		}
		sum += rep.Records
	}
	return sum
}
