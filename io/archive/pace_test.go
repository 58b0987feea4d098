package archive

import (
	"context"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
)

func init() {
	register.DoFn1x0[kafkaio.Record](&noteFn{})
}

// emitted collects what noteFn saw, per test: prism runs the workers in
// this process, so the test reads the records in the order and at the
// moment the replay emitted them.
var emitted = struct {
	sync.Mutex
	byTest map[string][]noted
}{byTest: map[string][]noted{}}

type noted struct {
	id   int64
	obs  time.Time
	wall time.Time
}

type noteFn struct{ Test string }

func (fn *noteFn) ProcessElement(r kafkaio.Record) {
	id, _ := strconv.ParseInt(string(r.Key), 10, 64)
	emitted.Lock()
	defer emitted.Unlock()
	emitted.byTest[fn.Test] = append(emitted.byTest[fn.Test], noted{id: id, obs: r.Timestamp, wall: time.Now()})
}

// A paced replay emits every alert of the night once, in observation-time
// order across the night's files and programs, and never before its due
// moment: its distance from the night's first alert divided by Speed.
func TestPacedReplay(t *testing.T) {
	all := ztfAlerts(t, 0, 4, 15) // 4 visits 45 s apart, two nights
	night := nights(all)[0]
	var want []alert
	for _, a := range all {
		if a.Night == night {
			want = append(want, a)
		}
	}
	root := t.TempDir()
	// Small files: the night is spread over several files per program.
	if err := run(t, writePipeline(Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 5}, all, nil, nil)); err != nil {
		t.Fatal(err)
	}
	const speed = 300 // 135 s of night in 0.45 s
	p, s := beam.NewPipelineWithRoot()
	beam.ParDo0(s, &noteFn{Test: t.Name()}, Read(s, ReadConfig{Survey: schemas.ZTF, Root: root, Night: night, Speed: speed}))
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	got := emitted.byTest[t.Name()]

	var gotIDs, wantIDs []int64
	for _, n := range got {
		gotIDs = append(gotIDs, n.id)
	}
	for _, a := range want {
		wantIDs = append(wantIDs, a.ID)
	}
	sort.Slice(gotIDs, func(i, j int) bool { return gotIDs[i] < gotIDs[j] })
	sort.Slice(wantIDs, func(i, j int) bool { return wantIDs[i] < wantIDs[j] })
	if !reflect.DeepEqual(gotIDs, wantIDs) {
		t.Fatalf("replayed %d alerts %v, want the night's %d %v", len(gotIDs), gotIDs, len(wantIDs), wantIDs)
	}
	first := got[0]
	for i, n := range got {
		if i > 0 && n.obs.Before(got[i-1].obs) {
			t.Errorf("alert %d (observed %v) emitted after %d (observed %v)", n.id, n.obs, got[i-1].id, got[i-1].obs)
		}
		due := time.Duration(float64(n.obs.Sub(first.obs)) / speed)
		// Readings are taken downstream, so the first alert's own delay in
		// reaching this sink shifts every one of them (3.6 ms seen on a
		// loaded machine). 20 ms is far below the 150 ms between visits
		// that pacing keeps: a replay that does not pace still fails.
		if early := due - n.wall.Sub(first.wall); early > 20*time.Millisecond {
			t.Errorf("alert %d emitted %v before it was due", n.id, early)
		}
	}
	if span := got[len(got)-1].obs.Sub(first.obs); span < 2*time.Minute {
		t.Errorf("the night spans only %v; the test needs visits minutes apart to show pacing", span)
	}
}

func TestPacer(t *testing.T) {
	p := pacer{speed: 1000}
	t0 := time.Date(2026, 11, 24, 3, 0, 0, 0, time.UTC)
	ctx := context.Background()
	if behind, err := p.wait(ctx, t0); err != nil || behind != 0 {
		t.Fatalf("first record: behind %v, %v; want due at once", behind, err)
	}
	start := p.wall
	if _, err := p.wait(ctx, t0.Add(50*time.Second)); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 50*time.Millisecond {
		t.Errorf("a record 50 s into the night at speed 1000 came after %v, want at least 50ms", waited)
	}
	// Earlier than the first: due at once, and reported as behind.
	if behind, err := p.wait(ctx, t0.Add(-time.Hour)); err != nil || behind <= 0 {
		t.Errorf("a record before the first: behind %v, %v; want emitted at once, behind", behind, err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := p.wait(cctx, t0.Add(time.Hour)); err != context.Canceled {
		t.Errorf("a cancelled wait returned %v, want context.Canceled", err)
	}
	if err := (ReadConfig{Survey: schemas.ZTF, Root: "/x", Night: "20261124", Speed: -1}).Validate(); err == nil {
		t.Error("a negative speed validated")
	}
}
