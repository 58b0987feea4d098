package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/alertbeam/alertbeam/cmd/alertbeam/internal/bench"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

func init() {
	register(&command{
		name:         "bench",
		summary:      "measure alertbeam against a raw sarama + hamba/avro loop on the same broker",
		beam:         true,
		orchestrates: true,
		usage: `

Loads --alerts generated alerts (ZTF ~60 KB each with cutouts; --survey lsst
for Rubin's) into a topic, then times, in the same run and each in its own
process (so peak RSS is the phase's own), on the direct runner:
  raw               sarama consume + full hamba/avro decode of every alert
  distribute-floor  distribute's work as a plain Go loop (sarama + hamba/avro, no
                    Beam): consume, routing decode, produce each alert to its
                    per-night topic with the pipeline's producer settings, commit
  distribute        alertbeam Distribute (per-night topics)
  full-floor        full's work as a plain Go loop: distribute-floor plus the same
                    filters, each kept alert produced, and the same archive files
                    (same codec, temporary files, commit and fsync steps)
  full              Distribute + archive + --filters (ten built-ins by default) in
                    one pipeline, each filter's output to its own topic
  qa                full with aggregate QA (rate,spatial) before the filters
  live              the full pipeline running while --visits visits of --burst
                    alerts arrive every --cadence: p50/p99 latency from the
                    producer to the alert's copy in its per-night topic, and to
                    its copies in the filter topics
Prints alerts/s, MB/s, the ratio to the raw loop and to the phase's own floor
(distribute to distribute-floor, full and qa to full-floor), peak RSS and
latency; --json writes the report, --profile DIR each phase's CPU and
allocation profiles and a heap profile at the peak of its live heap
(go tool pprof DIR/full.cpu.pprof, DIR/qa.heap.pprof).

By default it starts an embedded broker in a child process; benchmarks that
count are run against real Kafka (--brokers host:port). Use a broker of its
own: the phases write several times the loaded bytes, so each phase's output
topics (bench.*, bench-*, and the night topics of the benchmark's nights,
2026-11-19 to 21, when the run created them) are deleted once it is
measured, and the ingest topics at the end unless --topic named them.

Examples:
  alertbeam bench --alerts 20000
  alertbeam bench --survey lsst --alerts 50000 --burst 10000 --cadence 39s
  alertbeam bench --brokers localhost:9092 --alerts 50000 --json bench.json
  alertbeam bench --phases full-floor,full --profile /tmp/prof`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			var brokers multiFlag
			fs.Var(&brokers, "brokers", "Kafka broker host:port (repeatable; default: an embedded broker in a child process)")
			alerts := fs.Int("alerts", 50000, "alerts to load and process")
			partitions := fs.Int("partitions", 4, "partitions of the ingest topic")
			topic := fs.String("topic", "", "ingest topic (default: a new bench_ingest_<time> topic)")
			jsonOut := fs.String("json", "", "also write the report as JSON to this file")
			mdOut := fs.String("markdown", "", "also write the report as a Markdown table (with the machine it ran on) to this file")
			baseline := fs.String("baseline", "", "a report (--json) of a smaller run: report each phase's peak RSS as a multiple of its\n"+
				"peak there, to see how memory grows with the backlog (make bench-memory)")
			phase := fs.String("phase", "", "run only this phase in this process ("+strings.Join(bench.Phases, ", ")+"); used by the child processes")
			archiveRoot := fs.String("archive-root", "", "where the full phases archive (default: a temporary directory, removed at the end)")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL for LSST (default: one started in this process)")
			filters := fs.String("filters", "", "filter specs of the full phases, separated by ';' (default: ten built-ins, see the report)")
			visits := fs.Int("visits", 10, "live phase: visits measured (after one warm-up visit)")
			burst := fs.Int("burst", 1000, "live phase: alerts per visit, published as one burst")
			cadence := fs.Duration("cadence", 5*time.Second, "live phase: time between visits")
			phases := fs.String("phases", "", "comma-separated phases to run (default all: "+strings.Join(bench.Phases, ",")+")")
			compression := fs.String("compression", "none", "producer compression of the phases' output topics: none, gzip, snappy, lz4 or zstd\n"+
				"(the report gives what the outputs hold on the brokers' disks)")
			profile := fs.String("profile", "", "write each phase's CPU, allocation and peak-heap profiles to this directory")
			shards := addShardsFlag(fs)
			oneRead := fs.Bool("one-read", false, "live phase: one read of the ingest stream feeds the router, the filters and the archive\n"+
				"(default: the router reads it on its own, so night copies never wait for the others; the\n"+
				"backlog phases are batch jobs and always read once)")
			return func(ctx context.Context, e *env) error {
				opts := bench.Options{OneRead: *oneRead, Brokers: brokers, Topic: *topic, Survey: *survey, Registry: *reg, Alerts: *alerts,
					Partitions: int32(*partitions), Seed: 1, Visits: *visits, Burst: *burst, Cadence: *cadence,
					Compression: *compression, Shards: shardsFor(*shards, false), ArchiveRoot: *archiveRoot}
				if err := kafkaio.CheckCompression(*compression); err != nil {
					return err
				}
				if *filters != "" {
					opts.Filters = strings.Split(*filters, ";")
				}
				if *survey != schemas.ZTF && *survey != schemas.LSST {
					return fmt.Errorf("unknown survey %q (want ztf or lsst)", *survey)
				}
				if *phases != "" {
					opts.Phases = strings.Split(*phases, ",")
					if err := bench.CheckPhases(opts.Phases); err != nil {
						return err
					}
				}
				if *profile != "" {
					if err := os.MkdirAll(*profile, 0o755); err != nil {
						return err
					}
					opts.ProfileDir = *profile
				}
				if *phase != "" {
					err := profiled(opts.ProfileDir, *phase, func() error { return bench.RunPhase(ctx, *phase, opts) })
					if err != nil && ctx.Err() != nil {
						return errStopped
					}
					return err
				}
				exe, err := os.Executable()
				if err != nil {
					return err
				}
				if len(opts.Brokers) == 0 {
					stop, addr, err := startBrokerChild(exe)
					if err != nil {
						return err
					}
					defer stop()
					opts.Brokers = []string{addr}
				}
				if *survey == schemas.LSST && opts.Registry == "" {
					srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
					if err != nil {
						return err
					}
					defer srv.Close()
					opts.Registry = srv.URL()
				}
				if opts.Topic == "" {
					opts.Topic = fmt.Sprintf("bench_ingest_%d", os.Getpid())
					opts.DropIngest = true
				}
				opts.Exe, opts.Progress = exe, e.stderr
				fmt.Fprintf(e.stderr, "loading %d alerts into %s on %v\n", opts.Alerts, opts.Topic, opts.Brokers)
				size, err := bench.Load(ctx, opts)
				if err != nil {
					if ctx.Err() != nil {
						return errStopped
					}
					return err
				}
				rep, err := bench.Run(ctx, opts, size)
				if err != nil && ctx.Err() != nil {
					// Stopped by a signal: the phases that finished are
					// still worth reporting.
					if len(rep.Results) > 0 {
						bench.Print(e.stdout, rep)
					}
					return errStopped
				}
				if err != nil {
					return err
				}
				if *baseline != "" {
					if _, err := bench.CompareRSS(&rep, *baseline); err != nil {
						return err
					}
				}
				bench.Print(e.stdout, rep)
				if *mdOut != "" {
					if err := bench.WriteMarkdown(*mdOut, rep); err != nil {
						return err
					}
				}
				if *jsonOut != "" {
					return bench.WriteJSON(*jsonOut, rep)
				}
				return nil
			}
		},
	})
}

// profiled runs a phase, writing its CPU profile and, at its end, its
// allocation profile into dir (when set).
func profiled(dir, phase string, run func() error) error {
	if dir == "" {
		return run()
	}
	cpu, err := os.Create(filepath.Join(dir, phase+".cpu.pprof"))
	if err != nil {
		return err
	}
	defer cpu.Close()
	if err := pprof.StartCPUProfile(cpu); err != nil {
		return err
	}
	stop := make(chan struct{})
	peak := make(chan []byte)
	go func() { peak <- peakHeap(stop) }()
	runErr := run()
	close(stop)
	pprof.StopCPUProfile()
	heap := <-peak
	allocs, err := os.Create(filepath.Join(dir, phase+".allocs.pprof"))
	if err != nil {
		return errors.Join(runErr, err)
	}
	defer allocs.Close()
	runErr = errors.Join(runErr, pprof.Lookup("allocs").WriteTo(allocs, 0))
	return errors.Join(runErr, os.WriteFile(filepath.Join(dir, phase+".heap.pprof"), heap, 0o644))
}

// peakHeap returns a heap profile taken when the live heap was at its
// largest, checked every 250 ms until stop closes: the allocation profile
// written at the end says what was allocated, not what was held at the
// peak, and peak RSS is what the memory criteria are about.
func peakHeap(stop <-chan struct{}) []byte {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var best uint64
	var prof bytes.Buffer
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return prof.Bytes()
		case <-tick.C:
		}
		metrics.Read(sample)
		if v := sample[0].Value.Uint64(); v > best+best/20 {
			best = v
			prof.Reset()
			// The profile reflects the heap as of the last GC; good
			// enough to name what holds the memory.
			_ = pprof.Lookup("heap").WriteTo(&prof, 0)
		}
	}
}

// multiFlag collects a repeatable string flag (also comma-separated).
type multiFlag []string

func (m *multiFlag) String() string { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*m = append(*m, s)
		}
	}
	return nil
}

// startBrokerChild runs `alertbeam broker` in a child process so the
// broker's memory is not counted as the benchmark's.
func startBrokerChild(exe string) (func(), string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(exe, "broker", "--addr", addr, "--partitions", "4")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = childAttr()
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return stop, addr, nil
		}
		if time.Now().After(deadline) {
			stop()
			return nil, "", fmt.Errorf("the embedded broker did not listen on %s", addr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
