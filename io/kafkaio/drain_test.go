package kafkaio_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func init() {
	register.Function1x1(countedChain)
	register.Function1x1(slowChain)
}

// How far the drain test's readers got: the DoFns run in this process.
var fastRead, slowRead atomic.Int64

func countedChain(r kafkaio.Record) string {
	fastRead.Add(1)
	return recordChain(r)
}

// slowChain stands for a costly sink (the filters and the archive behind
// Distribute's second reader): its reader falls behind the other.
func slowChain(r kafkaio.Record) string {
	time.Sleep(5 * time.Millisecond)
	slowRead.Add(1)
	return recordChain(r)
}

// A drain stops the readers of one Reads at the same records, however far
// one ran ahead of the other: each record one reader's sink got, the
// other's got too, so no record is delivered by one sink and left
// uncommitted by the other (and delivered again after a restart).
func TestReadsDrainTogether(t *testing.T) {
	addr := kafkatest.Start(t, broker.Options{Partitions: 2}).Addr()
	const n = 400
	produce(t, addr, "in", 2, 0, n, func(i int) []byte { return []byte(fmt.Sprintf("v%d", i)) })
	fastRead.Store(0)
	slowRead.Store(0)

	p, s := beam.NewPipelineWithRoot()
	rs := kafkaio.Reads(s, kafkaio.ReadConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Topics: []string{"in"}}, 2)
	passert.Equals(s, beam.ParDo(s, countedChain, rs[0]), beam.ParDo(s, slowChain, rs[1]))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a guard against a hang
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- run(t, ctx, p) }()
	// Drain once the slow reader is well started, far behind the other.
	for slowRead.Load() < 50 {
		select {
		case err := <-done:
			t.Fatalf("the unbounded read ended before the drain: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	kafkaio.Drain()
	defer kafkaio.Undrain()
	ahead := fastRead.Load() - slowRead.Load()
	if err := <-done; err != nil {
		t.Fatalf("after the drain: %v (the readers' records differ, or the run did not end)", err)
	}
	if ahead <= 0 || slowRead.Load() == 0 {
		t.Fatalf("at the drain the fast reader was %d records ahead; the test needs it ahead", ahead)
	}
	t.Logf("at the drain the fast reader was %d records ahead; both stopped after %d of %d", ahead, fastRead.Load(), n)
}
