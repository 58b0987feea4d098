package kafkaio_test

import (
	"context"
	"encoding/binary"
	"os"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/transforms/stats"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func init() {
	register.Function1x2(idOfRecord)
	register.Function3x0(flattenIDs)
	register.Emitter1[int]()
	register.Iter1[int]()
}

// idOfRecord keys a record's id (its first 4 bytes) into one of 64 groups.
func idOfRecord(r kafkaio.Record) (int, int) {
	id := int(binary.BigEndian.Uint32(r.Value))
	return id % 64, id
}

func flattenIDs(_ int, ids func(*int) bool, emit func(int)) {
	var id int
	for ids(&id) {
		emit(id)
	}
}

// Prism's dynamic splitting of splittable DoFns lost 23–50% of large records
// feeding windows and a GroupByKey. The direct runner disables it; this test
// pushes 20,000 records of 50 KB through Read → fixed windows → GroupByKey
// (of ids, never of the payloads) and demands every id exactly once.
//
// ALERTBEAM_TEST_UNSAFE_PRISM=1 runs the same pipeline on prism's default
// settings instead, to show the loss the setting prevents.
func TestDirectRunnerLosesNoSplitRecords(t *testing.T) {
	const n, size = 20000, 50 << 10
	addr := kafkatest.Start(t, broker.Options{Partitions: 4}).Addr()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	value := func(i int) []byte {
		v := make([]byte, size)
		copy(v, payload)
		binary.BigEndian.PutUint32(v, uint32(i))
		return v
	}
	// The first burst creates the topic; the rest arrive while the pipeline
	// runs, in visit-like bursts, so readers catch up and wait: the moments
	// prism's splitting acts on.
	const burst = 2000
	produce(t, addr, "big", 4, 0, burst, value)
	produced := make(chan error, 1)
	go func() {
		tick := time.NewTicker(300 * time.Millisecond)
		defer tick.Stop()
		for from := burst; from < n; from += burst {
			<-tick.C
			if err := produceErr(addr, "big", 4, from, burst, value); err != nil {
				produced <- err
				return
			}
		}
		produced <- nil
	}()

	p, s := beam.NewPipelineWithRoot()
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: kafkaio.Config{Brokers: []string{addr}}, Topics: []string{"big"}, MaxRecords: n / 4})
	ids := beam.ParDo(s, idOfRecord, recs)
	windowed := beam.WindowInto(s, window.NewFixedWindows(100*time.Millisecond), ids)
	grouped := beam.ParDo(s, flattenIDs, beam.GroupByKey(s, windowed))
	global := beam.WindowInto(s, window.NewGlobalWindows(), grouped)
	passert.Count(s, global, "ids", n)
	passert.Equals(s, stats.Sum(s, global), n*(n-1)/2)
	want := make([]any, n)
	for i := range want {
		want[i] = i
	}
	passert.Equals(s, global, want...)

	var err error
	if os.Getenv("ALERTBEAM_TEST_UNSAFE_PRISM") == "1" {
		_, err = prism.Execute(context.Background(), p)
	} else {
		err = run(t, context.Background(), p)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := <-produced; err != nil {
		t.Fatal(err)
	}
}
