package bench

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/alertbeam/alertbeam/io/broker"
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
		Visits: 2, Burst: 150, Cadence: time.Second, ArchiveRoot: t.TempDir(), Progress: os.Stderr}
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
	if len(rep.Results) != len(Phases) {
		t.Fatalf("%d results, want one per phase %v", len(rep.Results), Phases)
	}
	live := rep.Results[len(rep.Results)-1]
	if live.Phase != PhaseLive || live.Alerts != 300 || !(live.P50Ms > 0 && live.P50Ms <= live.P99Ms && live.P99Ms <= live.MaxMs) {
		t.Fatalf("live result %+v: want 300 alerts and ordered, positive latencies", live)
	}
}
