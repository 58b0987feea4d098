package archive

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
)

// writePipeline archives alerts and asserts that every record is acked
// once and nothing is dead-lettered. Between the records and the archive
// sits inject (nil for none), e.g. a failure.
func writePipeline(cfg Config, alerts []alert, inject func(s beam.Scope, recs beam.PCollection) beam.PCollection, injectAcks func(s beam.Scope, acks beam.PCollection) beam.PCollection) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	recs := beam.ParDo(s, withEventTime, beam.CreateList(s, records(alerts)))
	if inject != nil {
		recs = inject(s, recs)
	}
	out := Write(s, cfg, recs)
	acks := out.Acks
	if injectAcks != nil {
		acks = injectAcks(s, acks)
	}
	want := make([]any, len(alerts))
	for i := range alerts {
		want[i] = int64(i)*10 + 1
	}
	passert.Equals(s, beam.ParDo(s, ackOffset, acks), want...)
	passert.Empty(s, beam.WindowInto(s, window.NewGlobalWindows(), out.Dead))
	return p
}

func run(t *testing.T, p *beam.Pipeline) error {
	t.Helper()
	_, err := runners.Run(context.Background(), p)
	return err
}

// checkNights verifies every night of alerts: exactly its ids, once, all
// files readable, no temporary file left.
func checkNights(t *testing.T, root, survey string, alerts []alert) {
	t.Helper()
	checkNightsPending(t, root, survey, alerts, false)
}

// checkNightsPending is checkNights, allowing temporary files when a
// failed run left some, which Sweep then removes.
func checkNightsPending(t *testing.T, root, survey string, alerts []alert, pendingOK bool) {
	t.Helper()
	var got []int64
	for _, night := range nights(alerts) {
		rep, err := Verify(context.Background(), root, survey, night)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() || (len(rep.Pending) != 0 && !pendingOK) {
			t.Errorf("night %s: %v; problems %v; pending %v", night, rep, rep.Problems, rep.Pending)
		}
		if pendingOK {
			swept, err := Sweep(context.Background(), root, survey, night)
			if err != nil {
				t.Fatal(err)
			}
			if len(swept) != len(rep.Pending) {
				t.Errorf("night %s: swept %d temporary files, Verify listed %d", night, len(swept), len(rep.Pending))
			}
		}
		var want int64
		for _, a := range alerts {
			if a.Night == night {
				want++
			}
		}
		if rep.Records != want {
			t.Errorf("night %s: %d records archived, want %d", night, rep.Records, want)
		}
		got = append(got, archivedIDs(t, root, survey, night)...)
	}
	slices.Sort(got)
	if !slices.Equal(got, ids(alerts)) {
		t.Errorf("archived ids differ from the input's: %d archived, %d sent", len(got), len(alerts))
	}
}

// archivedIDs lists the ids in a night's file headers.
func archivedIDs(t *testing.T, root, survey, night string) []int64 {
	t.Helper()
	ctx := context.Background()
	st := testStore(t, root)
	c, err := newCommitter(ctx, Config{Root: root, Survey: survey})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := st.list(ctx, survey+"/"+night+"/")
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, o := range objs {
		ids, err := fileIDs(ctx, st, c.codec, o.Name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ids...)
	}
	return out
}

// readBack replays every night of alerts and asserts the replay has
// exactly their ids, datum bytes and writer schemas.
func readBack(t *testing.T, root, survey string, alerts []alert) {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	var cols []beam.PCollection
	for _, night := range nights(alerts) {
		cols = append(cols, Read(s, ReadConfig{Survey: survey, Root: root, Night: night}))
	}
	recs := beam.Flatten(s, cols...)
	passert.Equals(s, beam.ParDo(s, &digestFn{Survey: survey}, recs), digests(alerts)...)
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
}

func TestWriteReadZTF(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		alerts := ztfAlerts(t, 8, 2, 15)
		checkMix(t, alerts)
		// Small files, so that rolling by count shows.
		cfg := Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 7}
		if err := run(t, writePipeline(cfg, alerts, nil, nil)); err != nil {
			t.Fatal(err)
		}
		checkNights(t, root, schemas.ZTF, alerts)
		readBack(t, root, schemas.ZTF, alerts)
		checkLayout(t, root, alerts)
	})
}

// With a pending bound of one byte, each record is handed to the bundle's
// writing goroutine as it comes: the archive is the same.
func TestWriteReadZTFHandingOff(t *testing.T) {
	defer func(n int) { pendingMax = n }(pendingMax)
	pendingMax = 1
	TestWriteReadZTF(t)
}

// checkMix makes sure the test input has what the archive must cope with.
func checkMix(t *testing.T, alerts []alert) {
	t.Helper()
	fps := map[string]bool{}
	for _, a := range alerts {
		fps[a.FP] = true
	}
	if len(nights(alerts)) < 3 || len(fps) < 3 {
		t.Fatalf("test input has %d nights and %d writer schemas, want at least 3 of each", len(nights(alerts)), len(fps))
	}
}

// checkLayout checks directory and file names on a local root.
func checkLayout(t *testing.T, root string, alerts []alert) {
	t.Helper()
	if strings.HasPrefix(root, "gs://") {
		return
	}
	programs := map[string]bool{}
	err := filepath.WalkDir(filepath.Join(root, "ztf"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 4 || !strings.HasPrefix(parts[2], "programid") {
			t.Errorf("unexpected file %s", rel)
			return nil
		}
		if !strings.HasPrefix(parts[3], "ztf_"+parts[1]+"_"+parts[2]+"_") {
			t.Errorf("file %s is not named after its directory", rel)
		}
		if _, _, ok := parseFinal(parts[3]); !ok {
			t.Errorf("file %s is not a final file name", rel)
		}
		programs[parts[1]+"/"+parts[2]] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(programs) < 4 {
		t.Errorf("only %d night/program directories: %v", len(programs), programs)
	}
}

// TestWriteShards archives records that arrive in three collections (the
// shards of a sharded read) through one commit: every alert once, every
// record acknowledged, the same files a single collection makes.
func TestWriteShards(t *testing.T) {
	alerts := ztfAlerts(t, 8, 2, 15)
	root := t.TempDir()
	cfg := Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 7}
	p, s := beam.NewPipelineWithRoot()
	recs := records(alerts)
	shards := make([][]kafkaio.Record, 3)
	for i, r := range recs {
		shards[i%3] = append(shards[i%3], r)
	}
	var cols []beam.PCollection
	for _, sh := range shards {
		cols = append(cols, beam.ParDo(s, withEventTime, beam.CreateList(s, sh)))
	}
	out := Write(s, cfg, cols...)
	want := make([]any, len(alerts))
	for i := range alerts {
		want[i] = int64(i)*10 + 1
	}
	passert.Equals(s, beam.ParDo(s, ackOffset, out.Acks), want...)
	passert.Empty(s, beam.WindowInto(s, window.NewGlobalWindows(), out.Dead))
	if err := run(t, p); err != nil {
		t.Fatal(err)
	}
	checkNights(t, root, schemas.ZTF, alerts)
	readBack(t, root, schemas.ZTF, alerts)
}

func TestWriteReadLSST(t *testing.T) {
	alerts, reg := lsstAlerts(t, 5, 2, 10)
	root := t.TempDir()
	cfg := Config{Root: root, Survey: schemas.LSST, Registry: reg, Codec: "snappy"}
	if err := run(t, writePipeline(cfg, alerts, nil, nil)); err != nil {
		t.Fatal(err)
	}
	checkNights(t, root, schemas.LSST, alerts)
	readBack(t, root, schemas.LSST, alerts)
}

// TestWriteTwice replays the same input into the same archive: still one
// copy of each alert, and every record acknowledged again.
func TestWriteTwice(t *testing.T) {
	eachBackend(t, func(t *testing.T, root string) {
		alerts := ztfAlerts(t, 4, 2, 8)
		cfg := Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 5}
		for range 2 {
			if err := run(t, writePipeline(cfg, alerts, nil, nil)); err != nil {
				t.Fatal(err)
			}
		}
		checkNights(t, root, schemas.ZTF, alerts)
		// A third run with half the input overlapping and a different
		// file size still adds nothing.
		cfg.MaxFileRecords = 3
		if err := run(t, writePipeline(cfg, alerts[len(alerts)/2:], nil, nil)); err != nil {
			t.Fatal(err)
		}
		checkNights(t, root, schemas.ZTF, alerts)
	})
}

// TestRestartAfterFailure crashes a job mid-write, checks that nothing
// partial is visible, restarts it, and checks that nothing is lost or
// doubled: once while bundles write temporary files, once after some
// commits succeeded.
func TestRestartAfterFailure(t *testing.T) {
	for name, root := range backends(t) {
		t.Run(name, func(t *testing.T) {
			alerts := ztfAlerts(t, 4, 2, 10)
			t.Run("InBundleWrite", func(t *testing.T) {
				root := root(t)
				marker := filepath.Join(t.TempDir(), "failed")
				inject := func(s beam.Scope, recs beam.PCollection) beam.PCollection {
					return beam.ParDo(s, &failOnceFn{Marker: marker, Offset: int64(len(alerts) * 2 / 3)}, recs)
				}
				cfg := Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 6}
				if err := run(t, writePipeline(cfg, alerts, inject, nil)); err == nil || !strings.Contains(err.Error(), "injected failure") {
					t.Fatalf("first run: err = %v, want the injected failure", err)
				}
				checkNoPartial(t, root, alerts)
				if err := run(t, writePipeline(cfg, alerts, inject, nil)); err != nil {
					t.Fatalf("restart: %v", err)
				}
				checkNightsPending(t, root, schemas.ZTF, alerts, true)
				checkNights(t, root, schemas.ZTF, alerts)
			})
			t.Run("AfterSomeCommits", func(t *testing.T) {
				root := root(t)
				marker := filepath.Join(t.TempDir(), "failed")
				injectAcks := func(s beam.Scope, acks beam.PCollection) beam.PCollection {
					return beam.ParDo(s, &failAckOnceFn{Marker: marker, Offset: int64(len(alerts) / 2)}, acks)
				}
				cfg := Config{Root: root, Survey: schemas.ZTF, MaxFileRecords: 6}
				if err := run(t, writePipeline(cfg, alerts, nil, injectAcks)); err == nil || !strings.Contains(err.Error(), "injected failure") {
					t.Fatalf("first run: err = %v, want the injected failure", err)
				}
				partial := checkNoPartial(t, root, alerts)
				if partial == 0 {
					t.Error("the failure came before any commit; the test wants one after")
				}
				if err := run(t, writePipeline(cfg, alerts, nil, injectAcks)); err != nil {
					t.Fatalf("restart: %v", err)
				}
				checkNightsPending(t, root, schemas.ZTF, alerts, true)
				checkNights(t, root, schemas.ZTF, alerts)
			})
		})
	}
}

// checkNoPartial checks that what a failed job left visible is whole files
// without duplicates, and returns how many records they hold.
func checkNoPartial(t *testing.T, root string, alerts []alert) int64 {
	t.Helper()
	var n int64
	for _, night := range nights(alerts) {
		rep, err := Verify(context.Background(), root, schemas.ZTF, night)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Errorf("after the failure, night %s: %v %v", night, rep, rep.Problems)
		}
		n += rep.Records
	}
	t.Logf("after the failure: %d of %d records in final files", n, len(alerts))
	return n
}
