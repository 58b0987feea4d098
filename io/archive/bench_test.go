package archive

import (
	"bytes"
	"compress/flate"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/klauspost/compress/zstd"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	alertmodel "github.com/alertbeam/alertbeam/schemas/alert" // the tests have a type named alert
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

// realDatums are the Avro datums of the shared real ZTF packets (66 and
// 74 KB, mostly gzip'd FITS cutouts).
func realDatums(b testing.TB) [][]byte {
	var out [][]byte
	for _, f := range []string{"2019_01_10_739260766315010006.avro", "472263571115115000.avro"} {
		c, err := framing.ParseContainer(samples.Read(b, "data", "ztf", f))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, c.Datum)
	}
	return out
}

// BenchmarkCodec measures the per-alert cost of each block codec on real
// alerts. The archive must keep up with 2,600 alerts/s on 2 cores, which
// leaves it well under a core: ~0.38 ms per alert for everything.
//
//	go test ./io/archive -run '^$' -bench Codec -benchtime 2s
func BenchmarkCodec(b *testing.B) {
	datums := realDatums(b)
	total := 0
	for _, d := range datums {
		total += len(d)
	}
	for _, name := range []string{"null", "snappy", "zstd", "deflate"} {
		c, err := newCompressor(name)
		if err != nil {
			b.Fatal(err)
		}
		var out []byte
		b.Run("compress/"+name, func(b *testing.B) {
			b.SetBytes(int64(total / len(datums)))
			compressed := 0
			for i := 0; b.Loop(); i++ {
				d := datums[i%len(datums)]
				if out, err = c.compress(out[:0], d); err != nil {
					b.Fatal(err)
				}
				compressed += len(out)
			}
			b.ReportMetric(float64(compressed)/float64(b.N)/float64(total/len(datums)), "ratio")
		})
		blocks := make([][]byte, len(datums))
		for i, d := range datums {
			blocks[i], _ = c.compress(nil, d)
		}
		b.Run("decompress/"+name, func(b *testing.B) {
			b.SetBytes(int64(total / len(datums)))
			for i := 0; b.Loop(); i++ {
				if _, err := decompress(c.name, blocks[i%len(blocks)]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	// References, not options: deflate as usually written (a new writer
	// per block, level 6), which is what the ~1 ms per alert in
	// docs/design.md ("Archive") measured, and zstd's default level.
	b.Run("compress/deflate-6-new-writer", func(b *testing.B) {
		b.SetBytes(int64(total / len(datums)))
		compressed := 0
		for i := 0; b.Loop(); i++ {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, 6)
			_, _ = w.Write(datums[i%len(datums)])
			_ = w.Close()
			compressed += buf.Len()
		}
		b.ReportMetric(float64(compressed)/float64(b.N)/float64(total/len(datums)), "ratio")
	})
	b.Run("compress/zstd-default-level", func(b *testing.B) {
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
		b.SetBytes(int64(total / len(datums)))
		var out []byte
		compressed := 0
		for i := 0; b.Loop(); i++ {
			out = enc.EncodeAll(datums[i%len(datums)], out[:0])
			compressed += len(out)
		}
		b.ReportMetric(float64(compressed)/float64(b.N)/float64(total/len(datums)), "ratio")
	})
}

func init() {
	register.DoFn3x1[context.Context, int, func(beam.EventTime, kafkaio.Record), error](&nightSourceFn{})
}

// nightSourceFn emits a synthetic ZTF night of realistic packets (~50 KB,
// with cutouts) without holding the night in memory: a pool of generated
// alerts, each re-keyed into Copies distinct alerts. Element v is visit v.
type nightSourceFn struct {
	Night    int64 // Unix seconds
	Visits   int
	PerVisit int
	Copies   int

	pool [][]alert
}

func (fn *nightSourceFn) Setup() error {
	c, err := framing.NewZTF()
	if err != nil {
		return err
	}
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Seed, cfg.Night, cfg.Visits, cfg.AlertsPerVisit = 11, time.Unix(fn.Night, 0).UTC(), fn.Visits, fn.PerVisit
	g, err := sim.New(cfg)
	if err != nil {
		return err
	}
	fn.pool = make([][]alert, fn.Visits)
	for v := range fn.Visits {
		for _, a := range g.Visit(v) {
			msg, err := c.Encode(a.ZTF)
			if err != nil {
				return err
			}
			ct, err := framing.ParseContainer(msg)
			if err != nil {
				return err
			}
			fn.pool[v] = append(fn.pool[v], alert{ID: a.ZTF.Candid, Datum: ct.Datum, Value: ct.Schema, Time: fanoutJD(a.ZTF.Candidate.Jd)})
		}
	}
	return nil
}

func (fn *nightSourceFn) ProcessElement(_ context.Context, visit int, emit func(beam.EventTime, kafkaio.Record)) error {
	for k := range fn.Copies {
		for i, a := range fn.pool[visit] {
			// The copy number goes high in candid, far above the spread of
			// one night's candids, so copies never collide.
			candid := a.ID + int64(k)<<50
			datum, err := rekeyZTF(a.Datum, candid)
			if err != nil {
				return err
			}
			v, err := framing.AppendContainer(nil, framing.Container{Schema: a.Value, Datum: datum})
			if err != nil {
				return err
			}
			emit(beam.EventTime(a.Time.UnixMilli()), kafkaio.Record{
				Source: kafkaio.Source{Topic: "ingest", Partition: int32(visit % 4), Offset: int64(k*len(fn.pool[visit]) + i)},
				Key:    []byte(strconv.FormatInt(candid, 10)), Value: v, Timestamp: a.Time,
			})
		}
	}
	return nil
}

func fanoutJD(jd float64) time.Time { return alertmodel.JDTime(jd) }

// BenchmarkNight20k archives a 20,000-alert ZTF night (~1 GB of packets)
// to a local directory on the direct runner and reports the rate and the
// peak RSS of the whole test process (runner, SDK and archive together).
// Run it alone, so that the peak is its own:
//
//	go test ./io/archive -run '^$' -bench Night20k -benchtime 1x
func BenchmarkNight20k(b *testing.B) {
	const visits, perVisit, copies = 20, 25, 40
	night := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		root := b.TempDir()
		p, s := beam.NewPipelineWithRoot()
		vs := make([]int, visits)
		for i := range vs {
			vs[i] = i
		}
		recs := beam.ParDo(s, &nightSourceFn{Night: night.Unix(), Visits: visits, PerVisit: perVisit, Copies: copies},
			beam.Reshuffle(s, beam.CreateList(s, vs)))
		out := Write(s, Config{Root: root, Survey: schemas.ZTF}, recs)
		passert.Count(s, out.Acks, "acks", visits*perVisit*copies)
		start := time.Now()
		if _, err := runners.Run(context.Background(), p); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		rep, err := Verify(context.Background(), root, schemas.ZTF, night.Format(nightLayout))
		if err != nil || !rep.OK() {
			b.Fatalf("%v %v", rep, err)
		}
		var bytes int64
		_ = filepath.WalkDir(root, func(_ string, d os.DirEntry, _ error) error {
			if d != nil && !d.IsDir() {
				if fi, err := d.Info(); err == nil {
					bytes += fi.Size()
				}
			}
			return nil
		})
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		b.ReportMetric(float64(rep.Records)/elapsed.Seconds(), "alerts/s")
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MB")
		b.ReportMetric(float64(bytes)/(1<<20), "archive-MB")
		b.ReportMetric(float64(rep.Files), "files")
		b.Logf("%d alerts in %d files (%.0f MB) in %v; peak RSS %d MB", rep.Records, rep.Files, float64(bytes)/(1<<20), elapsed.Round(time.Millisecond), ru.Maxrss/1024)
	}
}
