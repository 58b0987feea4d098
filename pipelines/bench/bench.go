// Package bench measures alertbeam's pipelines against the floor a user could
// write by hand: a plain sarama consumer decoding every packet with
// hamba/avro, on the same broker, in the same run.
//
// Each phase can run in a child process (the alertbeam binary re-executed
// with --phase), so its peak RSS is the pipeline's own, not the broker's or
// the loader's.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Phases, in the order they run.
const (
	PhaseRaw        = "raw"        // sarama consume + full hamba decode
	PhaseDistribute = "distribute" // alertbeam Distribute on the direct runner
)

// Phases lists every phase.
var Phases = []string{PhaseRaw, PhaseDistribute}

// Options configures a benchmark run.
type Options struct {
	Brokers    []string
	Topic      string // ingest topic to load and read
	Alerts     int
	Partitions int32
	Seed       int64
	// Exe re-executes phases in child processes when set (the alertbeam
	// binary); empty runs them in this process.
	Exe      string
	Progress io.Writer
}

// Result is one phase's measurement.
type Result struct {
	Phase     string  `json:"phase"`
	Alerts    int     `json:"alerts"`
	Bytes     int64   `json:"bytes"`
	Seconds   float64 `json:"seconds"`
	AlertsPS  float64 `json:"alerts_per_s"`
	MBPS      float64 `json:"mb_per_s"`
	RatioRaw  float64 `json:"ratio_to_raw"`
	PeakRSSMB float64 `json:"peak_rss_mb"`
}

// Report is a whole run.
type Report struct {
	Alerts  int      `json:"alerts"`
	Bytes   int64    `json:"bytes"`
	Brokers []string `json:"brokers"`
	Results []Result `json:"results"`
}

// Load publishes opts.Alerts generated ZTF alerts (~60 KB each, with cutouts)
// to opts.Topic and returns their total size.
func Load(ctx context.Context, opts Options) (int64, error) {
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Seed, cfg.Night = opts.Seed, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	cfg.AlertsPerVisit = 1000
	cfg.Visits = (opts.Alerts + cfg.AlertsPerVisit - 1) / cfg.AlertsPerVisit
	g, err := sim.New(cfg)
	if err != nil {
		return 0, err
	}
	codec, err := framing.NewZTF()
	if err != nil {
		return 0, err
	}
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return 0, err
	}
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Flush.Bytes = 1 << 20
	sc.Producer.Flush.Frequency = 5 * time.Millisecond
	admin, err := sarama.NewClusterAdmin(opts.Brokers, sc)
	if err != nil {
		return 0, err
	}
	defer admin.Close()
	if err := admin.CreateTopic(opts.Topic, &sarama.TopicDetail{NumPartitions: opts.Partitions, ReplicationFactor: 1}, false); err != nil {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			return 0, fmt.Errorf("bench: creating %s: %w", opts.Topic, err)
		}
	}
	p, err := sarama.NewAsyncProducer(opts.Brokers, sc)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	var perr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < opts.Alerts; i++ {
			select {
			case <-p.Successes():
			case e := <-p.Errors():
				if perr == nil {
					perr = e.Err
				}
			}
		}
	}()
	var total int64
	start := time.Now()
	for i := 0; i < opts.Alerts; i++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		a, ok := g.Next()
		if !ok {
			return total, errors.New("bench: generator ran out of alerts")
		}
		msg, err := codec.Encode(a.ZTF)
		if err != nil {
			return total, err
		}
		total += int64(len(msg))
		p.Input() <- &sarama.ProducerMessage{Topic: opts.Topic, Key: sarama.StringEncoder(strconv.FormatInt(a.ZTF.Candid, 10)), Value: sarama.ByteEncoder(msg)}
		if opts.Progress != nil && (i+1)%5000 == 0 {
			fmt.Fprintf(opts.Progress, "\r  loaded %d/%d alerts (%.0f/s)", i+1, opts.Alerts, float64(i+1)/time.Since(start).Seconds())
		}
	}
	wg.Wait()
	p.Close()
	if opts.Progress != nil {
		fmt.Fprintln(opts.Progress)
	}
	return total, perr
}

// RunPhase runs one phase in this process and returns what it processed.
func RunPhase(ctx context.Context, phase string, opts Options) (alerts int, bytes int64, err error) {
	switch phase {
	case PhaseRaw:
		return rawLoop(ctx, opts)
	case PhaseDistribute:
		conn := kafkaio.Config{Brokers: opts.Brokers}
		p, s := beam.NewPipelineWithRoot()
		group := fmt.Sprintf("bench-%d", time.Now().UnixNano())
		if _, err := pipelines.Distribute(s, pipelines.DistributeConfig{
			Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{opts.Topic}, Group: group, StopAtEnd: true},
			Write: kafkaio.WriteConfig{Config: conn, Partitions: opts.Partitions}, Survey: "ztf",
			DeadLetterTopic: "bench-deadletter",
		}); err != nil {
			return 0, 0, err
		}
		if _, err := runners.Run(ctx, p); err != nil {
			return 0, 0, err
		}
		return opts.Alerts, 0, nil
	default:
		return 0, 0, fmt.Errorf("bench: unknown phase %q", phase)
	}
}

// rawLoop is the floor: every partition consumed from the oldest offset to
// the end with sarama, every packet fully decoded into a ztf.Alert.
func rawLoop(ctx context.Context, opts Options) (int, int64, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return 0, 0, err
	}
	cl, err := sarama.NewClient(opts.Brokers, sc)
	if err != nil {
		return 0, 0, err
	}
	defer cl.Close()
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		return 0, 0, err
	}
	defer cons.Close()
	parts, err := cl.Partitions(opts.Topic)
	if err != nil {
		return 0, 0, err
	}
	codec, err := framing.NewZTF()
	if err != nil {
		return 0, 0, err
	}
	var mu sync.Mutex
	var n int
	var bytes int64
	errc := make(chan error, len(parts))
	for _, p := range parts {
		end, err := cl.GetOffset(opts.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return 0, 0, err
		}
		go func(p int32, end int64) {
			if end == 0 {
				errc <- nil
				return
			}
			pc, err := cons.ConsumePartition(opts.Topic, p, sarama.OffsetOldest)
			if err != nil {
				errc <- err
				return
			}
			defer pc.Close()
			for m := range pc.Messages() {
				var a ztf.Alert
				if err := codec.Decode(ctx, m.Value, &a); err != nil {
					errc <- err
					return
				}
				mu.Lock()
				n++
				bytes += int64(len(m.Value))
				mu.Unlock()
				if m.Offset >= end-1 {
					break
				}
			}
			errc <- nil
		}(p, end)
	}
	for range parts {
		if err := <-errc; err != nil {
			return n, bytes, err
		}
	}
	return n, bytes, nil
}

// Run measures every phase, each in a child process when opts.Exe is set.
func Run(ctx context.Context, opts Options, bytes int64) (Report, error) {
	rep := Report{Alerts: opts.Alerts, Bytes: bytes, Brokers: opts.Brokers}
	var raw float64
	for _, phase := range Phases {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "  running %s ...", phase)
		}
		start := time.Now()
		var rss float64
		var err error
		if opts.Exe != "" {
			rss, err = runChild(ctx, opts, phase)
		} else {
			_, _, err = RunPhase(ctx, phase, opts)
		}
		if err != nil {
			return rep, fmt.Errorf("bench: phase %s: %w", phase, err)
		}
		secs := time.Since(start).Seconds()
		r := Result{Phase: phase, Alerts: opts.Alerts, Bytes: bytes, Seconds: secs,
			AlertsPS: float64(opts.Alerts) / secs, MBPS: float64(bytes) / 1e6 / secs, PeakRSSMB: rss}
		if phase == PhaseRaw {
			raw = r.AlertsPS
		}
		if raw > 0 {
			r.RatioRaw = r.AlertsPS / raw
		}
		rep.Results = append(rep.Results, r)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, " %.1fs\n", secs)
		}
	}
	return rep, nil
}

// runChild re-executes the binary for one phase and returns its peak RSS.
func runChild(ctx context.Context, opts Options, phase string) (float64, error) {
	args := []string{"bench", "--phase", phase, "--topic", opts.Topic, "--alerts", strconv.Itoa(opts.Alerts),
		"--partitions", strconv.Itoa(int(opts.Partitions))}
	for _, b := range opts.Brokers {
		args = append(args, "--brokers", b)
	}
	cmd := exec.CommandContext(ctx, opts.Exe, args...)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, nil
	}
	return float64(ru.Maxrss) / 1024, nil // Linux reports KB
}

// Print writes the report as a table.
func Print(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\nalertbeam bench: %d ZTF alerts (%.1f MB, mean %.1f KB) on %v\n", rep.Alerts, float64(rep.Bytes)/1e6,
		float64(rep.Bytes)/float64(max(rep.Alerts, 1))/1e3, rep.Brokers)
	fmt.Fprintf(w, "  %-12s %10s %10s %10s %10s %12s\n", "phase", "seconds", "alerts/s", "MB/s", "x raw", "peak RSS MB")
	results := append([]Result(nil), rep.Results...)
	for _, r := range results {
		rss := "-"
		if r.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f", r.PeakRSSMB)
		}
		fmt.Fprintf(w, "  %-12s %10.1f %10.0f %10.1f %10.2f %12s\n", r.Phase, r.Seconds, r.AlertsPS, r.MBPS, r.RatioRaw, rss)
	}
}

// WriteJSON writes the report for comparison across runs.
func WriteJSON(path string, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
