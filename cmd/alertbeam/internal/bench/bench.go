package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// Phases, in the order they run.
const (
	PhaseRaw = "raw" // sarama consume + full hamba decode
	// PhaseDistributeFloor and PhaseFullFloor are the same-work floors of
	// distribute and full: plain Go loops (sarama, hamba/avro, no Beam)
	// doing their phase's work with the same settings (floorLoop).
	PhaseDistributeFloor = "distribute-floor"
	PhaseDistribute      = "distribute" // alertbeam Distribute on the direct runner
	PhaseFullFloor       = "full-floor"
	// PhaseFull is Distribute, the filters and the archive in one
	// pipeline, over the loaded backlog.
	PhaseFull = "full"
	// PhaseQA is the full pipeline with aggregate QA (QASpec) before the
	// filters.
	PhaseQA = "qa"
	// PhaseLive is the full pipeline running while visits arrive in
	// bursts at a cadence: it measures produce→output latency.
	PhaseLive = "live"
)

// Phases lists every phase.
var Phases = []string{PhaseRaw, PhaseDistributeFloor, PhaseDistribute, PhaseFullFloor, PhaseFull, PhaseQA, PhaseLive}

// floorOf is the floor each pipeline phase is compared with.
var floorOf = map[string]string{PhaseDistribute: PhaseDistributeFloor, PhaseFull: PhaseFullFloor, PhaseQA: PhaseFullFloor}

// QASpec is the qa phase's aggregate QA: both checks, the rate one at
// three times the running median (the filter --help example).
const QASpec = "rate=3x,spatial"

// DefaultFilters are the ten built-in filters the full phases run: the
// cheap cuts users chain most, and nocutouts, which re-encodes every
// alert. cutoutsnr (gunzip and FITS per alert) is left out: it costs
// more than a full decode, so it would measure itself, not the framework.
func DefaultFilters(survey string) []string {
	if survey == schemas.LSST {
		return []string{"rb:min=0.5", "significance:min=5", "snr10=significance:min=10", "bright", "positive", "new", "history",
			"asteroid", "noasteroid", "nocutouts"}
	}
	return []string{"rb", "drb", "purity", "star", "bright", "positive", "new", "history", "noasteroid", "nocutouts"}
}

// Options configures a benchmark run.
type Options struct {
	Brokers    []string
	Topic      string // ingest topic to load and read
	Survey     string // ztf (default) or lsst
	Registry   string // schema registry URL (LSST)
	Alerts     int
	Partitions int32
	Seed       int64
	// Filters run in the full phases (DefaultFilters when empty).
	Filters []string
	// Compression is the producer compression of the pipelines' and the
	// floors' outputs (kafkaio.WriteConfig.Compression; default none).
	Compression string
	// Shards is pipelines.DistributeConfig.Shards of the pipeline phases
	// but qa (which needs one read).
	Shards int
	// OneRead is pipelines.DistributeConfig.OneRead of the live phase:
	// one read feeds the router too. The backlog phases, batch jobs,
	// always read once.
	OneRead bool
	// ArchiveRoot is where the full phases archive (a temporary directory
	// when empty).
	ArchiveRoot string
	// Live phase: Visits bursts of Burst alerts, one every Cadence (after
	// one warm-up visit that is not measured).
	Visits  int
	Burst   int
	Cadence time.Duration
	// Exe re-executes phases in child processes when set (the alertbeam
	// binary); empty runs them in this process.
	Exe      string
	Progress io.Writer
	// DropIngest deletes the ingest topics at the end (they were made for
	// the run). Every phase's output topics are deleted after it anyway.
	DropIngest bool
	// Phases to run, in Phases' order (default all).
	Phases []string
	// ProfileDir, when set, gets each phase's CPU and allocation profiles
	// (<phase>.cpu.pprof, <phase>.allocs.pprof, and <phase>.heap.pprof taken at
	// the peak of the live heap).
	ProfileDir string
}

func (o Options) phases() []string {
	if len(o.Phases) == 0 {
		return Phases
	}
	var out []string
	for _, p := range Phases {
		if slices.Contains(o.Phases, p) {
			out = append(out, p)
		}
	}
	return out
}

// CheckPhases says which of names is not a phase.
func CheckPhases(names []string) error {
	for _, n := range names {
		if !slices.Contains(Phases, n) {
			return fmt.Errorf("bench: unknown phase %q (want %s)", n, strings.Join(Phases, ", "))
		}
	}
	return nil
}

// Result is one phase's measurement.
type Result struct {
	Phase string `json:"phase"`
	// P50Ms and P99Ms are produce→output latencies (live phase only).
	P50Ms float64 `json:"p50_ms,omitempty"`
	P99Ms float64 `json:"p99_ms,omitempty"`
	MaxMs float64 `json:"max_ms,omitempty"`
	// Produce→filter-topic latencies of the live phase's FilterCopies
	// kept copies (Rubin asks for 98% of a visit within 60 s).
	FilterCopies int     `json:"filter_copies,omitempty"`
	FilterP50Ms  float64 `json:"filter_p50_ms,omitempty"`
	FilterP98Ms  float64 `json:"filter_p98_ms,omitempty"`
	FilterP99Ms  float64 `json:"filter_p99_ms,omitempty"`
	FilterMaxMs  float64 `json:"filter_max_ms,omitempty"`
	Alerts       int     `json:"alerts"`
	Bytes        int64   `json:"bytes"`
	Seconds      float64 `json:"seconds"`
	AlertsPS     float64 `json:"alerts_per_s"`
	MBPS         float64 `json:"mb_per_s"`
	RatioRaw     float64 `json:"ratio_to_raw"`
	// RatioFloor is alerts/s over that of the phase's same-work floor
	// (distribute, full and qa).
	RatioFloor float64 `json:"ratio_to_floor,omitempty"`
	// RSSToBaseline is the peak RSS over the same phase's in a baseline
	// report (CompareRSS): with a baseline of fewer alerts, how memory
	// grows with the backlog.
	RSSToBaseline float64 `json:"rss_to_baseline,omitempty"`
	PeakRSSMB     float64 `json:"peak_rss_mb"`
	// OutputMB is what the phase's output topics (night and filter
	// topics, dead letters) hold on the brokers' disks, after producer
	// compression; 0 when the brokers do not report it.
	OutputMB float64 `json:"output_mb,omitempty"`
}

// Report is a whole run.
type Report struct {
	Survey  string   `json:"survey"`
	Filters []string `json:"filters"`
	Alerts  int      `json:"alerts"`
	Bytes   int64    `json:"bytes"`
	Brokers []string `json:"brokers"`
	// Compression is the producer compression of the phases' outputs.
	Compression string `json:"compression,omitempty"`
	// Shards is the number of reads the pipeline phases but qa split into.
	Shards int `json:"shards,omitempty"`
	// OneRead says the router shared the filters' and the archive's read.
	OneRead bool     `json:"one_read,omitempty"`
	Results []Result `json:"results"`
}

func (r Report) compression() string {
	if r.Compression == "" {
		return "none"
	}
	return r.Compression
}

// reads says how the live phase read the ingest stream.
func (r Report) reads() string {
	if r.OneRead {
		return "; live: one read for router, filters and archive"
	}
	return "; live: the router's read apart"
}

func (o Options) survey() string {
	if o.Survey == "" {
		return schemas.ZTF
	}
	return o.Survey
}

func (o Options) filters() []string {
	if len(o.Filters) == 0 {
		return DefaultFilters(o.survey())
	}
	return o.Filters
}

// loadNight and liveNight are the nights the loaded backlog and the live
// bursts belong to: different nights, so their per-night topics differ.
var (
	loadNight = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	liveNight = time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
)

// source generates a night's alerts framed as the survey frames them.
type source struct {
	gen   *sim.Generator
	codec *framing.Codec
}

func newSource(survey string, seed int64, night time.Time, perVisit, visits int) (*source, error) {
	cfg := sim.Defaults(survey)
	cfg.Seed, cfg.Night, cfg.AlertsPerVisit, cfg.Visits = seed, night, perVisit, visits
	g, err := sim.New(cfg)
	if err != nil {
		return nil, err
	}
	c, err := framing.New(survey, nil)
	if err != nil {
		return nil, err
	}
	return &source{gen: g, codec: c}, nil
}

// visit returns visit i's messages (key, value) and the per-night topic of
// each.
func (src *source) visit(i int) (msgs []*sarama.ProducerMessage, topics []string, err error) {
	for _, a := range src.gen.Visit(i) {
		v, id := a.Packet()
		var topic string
		if a.ZTF != nil {
			topic = alert.ZTFTopic(a.ZTF.Candidate.Jd, a.ZTF.Candidate.Programid)
		} else {
			topic = alert.LSSTTopic(a.LSST.DiaSource.MidpointMjdTai)
		}
		b, err := src.codec.Encode(v)
		if err != nil {
			return nil, nil, err
		}
		msgs = append(msgs, &sarama.ProducerMessage{Key: sarama.StringEncoder(strconv.FormatInt(id, 10)), Value: sarama.ByteEncoder(b)})
		topics = append(topics, topic)
	}
	return msgs, topics, nil
}

// producer publishes to one topic and waits for every acknowledgement.
type producer struct {
	p     sarama.AsyncProducer
	topic string
}

// newProducer creates topic if needed; with appendTime the broker stamps
// each record with the time it appended it (LogAppendTime), which is when
// an alert counts as produced for the live phase's latencies.
func newProducer(ctx context.Context, opts Options, topic string, appendTime bool) (*producer, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return nil, err
	}
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	sc.Producer.Flush.Bytes = 1 << 20
	sc.Producer.Flush.Frequency = 2 * time.Millisecond
	sc.Producer.MaxMessageBytes = 1_000_000
	admin, err := sarama.NewClusterAdmin(opts.Brokers, sc)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	detail := &sarama.TopicDetail{NumPartitions: opts.Partitions, ReplicationFactor: 1}
	if appendTime {
		at := "LogAppendTime"
		detail.ConfigEntries = map[string]*string{"message.timestamp.type": &at}
	}
	if err := admin.CreateTopic(topic, detail, false); err != nil {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			return nil, fmt.Errorf("bench: creating %s: %w", topic, err)
		}
	}
	p, err := sarama.NewAsyncProducer(opts.Brokers, sc)
	if err != nil {
		return nil, err
	}
	return &producer{p: p, topic: topic}, nil
}

// send publishes msgs, stamping each with the moment it is handed over,
// and returns once the broker acknowledged all of them.
func (pr *producer) send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	errc := make(chan error, 1)
	go func() {
		var first error
		for range msgs {
			select {
			case <-pr.p.Successes():
			case e := <-pr.p.Errors():
				if first == nil {
					first = e.Err
				}
			}
		}
		errc <- first
	}()
	for _, m := range msgs {
		m.Topic = pr.topic
		m.Timestamp = time.Now()
		select {
		case pr.p.Input() <- m:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return <-errc
}

func (pr *producer) close() error { return pr.p.Close() }

// Load publishes opts.Alerts generated alerts (ZTF ~60 KB each with
// cutouts) to opts.Topic and returns their total size.
func Load(ctx context.Context, opts Options) (int64, error) {
	const perVisit = 1000
	src, err := newSource(opts.survey(), opts.Seed, loadNight, perVisit, (opts.Alerts+perVisit-1)/perVisit)
	if err != nil {
		return 0, err
	}
	pr, err := newProducer(ctx, opts, opts.Topic, false)
	if err != nil {
		return 0, err
	}
	defer pr.close()
	var total int64
	start := time.Now()
	for i, sent := 0, 0; sent < opts.Alerts; i++ {
		msgs, _, err := src.visit(i)
		if err != nil {
			return total, err
		}
		msgs = msgs[:min(len(msgs), opts.Alerts-sent)]
		for _, m := range msgs {
			total += int64(m.Value.Length())
		}
		if err := pr.send(ctx, msgs); err != nil {
			return total, err
		}
		sent += len(msgs)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "\r  loaded %d/%d alerts (%.0f/s)", sent, opts.Alerts, float64(sent)/time.Since(start).Seconds())
		}
	}
	if opts.Progress != nil {
		fmt.Fprintln(opts.Progress)
	}
	return total, nil
}

// RunPhase runs one phase's pipeline (or the raw loop) in this process,
// over the whole topic. The live phase's pipeline runs until ctx ends.
func RunPhase(ctx context.Context, phase string, opts Options) error {
	switch phase {
	case PhaseRaw:
		return rawLoop(ctx, opts)
	case PhaseDistributeFloor, PhaseFullFloor:
		return floorLoop(ctx, opts, phase, phase == PhaseFullFloor)
	case PhaseDistribute, PhaseFull, PhaseQA, PhaseLive:
		conn := kafkaio.Config{Brokers: opts.Brokers}
		p, s := beam.NewPipelineWithRoot()
		cfg := pipelines.DistributeConfig{
			Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{opts.Topic}, Group: fmt.Sprintf("bench-%s-%d", phase, time.Now().UnixNano()), StopAtEnd: phase != PhaseLive},
			Write: kafkaio.WriteConfig{Config: conn, Partitions: opts.Partitions, Compression: opts.Compression}, Survey: opts.survey(), Registry: opts.Registry,
			DeadLetterTopic: "bench-deadletter",
		}
		if phase != PhaseDistribute {
			root := opts.ArchiveRoot
			if root == "" {
				var err error
				if root, err = os.MkdirTemp("", "alertbeam-bench-archive-"); err != nil {
					return err
				}
				defer os.RemoveAll(root)
			}
			cfg.Archive = &archive.Config{Root: root, Window: time.Minute}
			cfg.Filters, cfg.FilterTopicPrefix = opts.filters(), "bench."+phase+"."
			// The backlog phases are batch jobs: one read, as a user would
			// run them; the live phase reads apart unless told otherwise.
			cfg.OneRead = opts.OneRead || phase != PhaseLive
		}
		if phase == PhaseQA {
			// QA decides over every alert of an exposure: one read.
			rate, spatial, err := qa.ParseSpec(QASpec)
			if err != nil {
				return err
			}
			cfg.QA = &qa.Config{Rate: rate, Spatial: spatial, QATopic: "bench.qa.records"}
		} else {
			cfg.Shards = opts.Shards
		}
		if _, err := pipelines.TryDistribute(s, cfg); err != nil {
			return err
		}
		// A stop signal (the parent's, or the user's) drains the pipeline
		// rather than cancel it.
		run, cancel := kafkaio.DrainContext(ctx)
		defer cancel()
		if _, err := runners.Run(run, p); err != nil {
			if phase == PhaseLive && ctx.Err() != nil {
				return nil // stopped by the parent, as planned
			}
			return err
		}
		return nil
	default:
		return fmt.Errorf("bench: unknown phase %q (want %s)", phase, strings.Join(Phases, ", "))
	}
}

// consumer opens a client and a consumer on it with kafkaio's settings.
func consumer(opts Options) (sarama.Client, sarama.Consumer, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return nil, nil, err
	}
	cl, err := sarama.NewClient(opts.Brokers, sc)
	if err != nil {
		return nil, nil, err
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		cl.Close()
		return nil, nil, err
	}
	return cl, cons, nil
}

// rawLoop is the raw phase: every partition consumed from the oldest
// offset to the end with sarama, every packet fully decoded into its
// survey struct.
func rawLoop(ctx context.Context, opts Options) error {
	cl, cons, err := consumer(opts)
	if err != nil {
		return err
	}
	defer cl.Close()
	defer cons.Close()
	parts, err := cl.Partitions(opts.Topic)
	if err != nil {
		return err
	}
	codec, err := framing.Open(opts.survey(), opts.Registry)
	if err != nil {
		return err
	}
	isLSST := opts.survey() == schemas.LSST
	errc := make(chan error, len(parts))
	for _, p := range parts {
		end, err := cl.GetOffset(opts.Topic, p, sarama.OffsetNewest)
		if err != nil {
			return err
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
				var a any = &ztf.Alert{}
				if isLSST {
					a = &lsst.Alert{}
				}
				if err := codec.Decode(ctx, m.Value, a); err != nil {
					errc <- err
					return
				}
				if m.Offset >= end-1 {
					break
				}
			}
			errc <- nil
		}(p, end)
	}
	for range parts {
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

// Run measures every phase, each in a child process when opts.Exe is set.
func Run(ctx context.Context, opts Options, bytes int64) (Report, error) {
	rep := Report{Survey: opts.survey(), Filters: opts.filters(), Alerts: opts.Alerts, Bytes: bytes, Brokers: opts.Brokers,
		Compression: opts.Compression, Shards: opts.Shards, OneRead: opts.OneRead}
	var raw float64
	rates := map[string]float64{}
	sweep, err := newSweeper(opts)
	if err != nil {
		return rep, err
	}
	defer func() {
		var ingest []string
		if opts.DropIngest {
			ingest = []string{opts.Topic, opts.Topic + "_live"}
		}
		sweep.close(ingest...)
	}()
	// The archives of the phases are under one root that this process
	// owns: a phase's process stopped before its own cleanup (the live
	// one is interrupted) leaves nothing behind.
	archives := opts.ArchiveRoot
	if archives == "" {
		if archives, err = os.MkdirTemp("", "alertbeam-bench-archive-"); err != nil {
			return rep, err
		}
		defer os.RemoveAll(archives)
	}
	for _, phase := range opts.phases() {
		// Each phase's outputs go once it is measured: a full phase
		// writes several times its input, and disks fill.
		if err := sweep.outputs(); err != nil {
			return rep, err
		}
		if opts.ArchiveRoot == "" { // and so do their archives
			if err := os.RemoveAll(archives); err != nil {
				return rep, err
			}
			if err := os.Mkdir(archives, 0o755); err != nil {
				return rep, err
			}
		}
		opts := opts
		opts.ArchiveRoot = filepath.Join(archives, phase)
		// And what the last phase left in the page cache is written out
		// now, not while this one is timed: the full phases leave
		// gigabytes that the kernel would write back during the next
		// phase, and the live phase's latencies varied twofold with it.
		settle()
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "  running %s ...", phase)
		}
		if phase == PhaseLive {
			r, err := runLive(ctx, opts)
			if err != nil {
				return rep, fmt.Errorf("bench: phase %s: %w", phase, err)
			}
			if raw > 0 {
				r.RatioRaw = r.AlertsPS / raw
			}
			rep.Results = append(rep.Results, r)
			if opts.Progress != nil {
				fmt.Fprintf(opts.Progress, " %.1fs\n", r.Seconds)
			}
			continue
		}
		start := time.Now()
		var rss float64
		var err error
		if opts.Exe != "" {
			var child *exec.Cmd
			if child, err = startChild(ctx, opts, phase, opts.Topic); err == nil {
				rss, err = waitChild(child)
			}
		} else {
			err = RunPhase(ctx, phase, opts)
		}
		if err == nil {
			err = ctx.Err() // a child stopped by a signal drains and exits 0
		}
		if err != nil {
			return rep, fmt.Errorf("bench: phase %s: %w", phase, err)
		}
		secs := time.Since(start).Seconds()
		r := Result{Phase: phase, Alerts: opts.Alerts, Bytes: bytes, Seconds: secs,
			AlertsPS: float64(opts.Alerts) / secs, MBPS: float64(bytes) / 1e6 / secs, PeakRSSMB: rss,
			OutputMB: float64(sweep.outputBytes()) / 1e6}
		if phase == PhaseRaw {
			raw = r.AlertsPS
		}
		if raw > 0 {
			r.RatioRaw = r.AlertsPS / raw
		}
		rates[phase] = r.AlertsPS
		if floor := rates[floorOf[phase]]; floor > 0 {
			r.RatioFloor = r.AlertsPS / floor
		}
		rep.Results = append(rep.Results, r)
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, " %.1fs\n", secs)
		}
	}
	return rep, nil
}

// runLive runs the full pipeline on a fresh topic while visits arrive in
// bursts, and measures each alert's latency from the moment the broker
// appended it to the ingest topic (the topic stamps records with their
// LogAppendTime, so the load generator's own queueing is not counted) to
// the timestamps of its copies in its per-night topic and in the topics
// of the filters that keep it, which alertbeam's writer stamps when it
// hands a copy to the producer (the broker appends it within the
// producer's 5 ms linger and a round trip). Which filters keep which
// alert is worked out beforehand, by the same filters on the same decoded
// packets, so every copy is waited for. The first visit warms the
// pipeline up and is not measured.
func runLive(ctx context.Context, opts Options) (Result, error) {
	if opts.Visits < 1 || opts.Burst < 1 {
		return Result{}, fmt.Errorf("live phase needs Visits and Burst, got %d and %d", opts.Visits, opts.Burst)
	}
	topic := opts.Topic + "_live"
	kept, _, err := expectKept(ctx, opts, "bench."+PhaseLive+".")
	if err != nil {
		return Result{}, err
	}
	src, err := newSource(opts.survey(), opts.Seed+1, liveNight, opts.Burst, opts.Visits+1)
	if err != nil {
		return Result{}, err
	}
	pr, err := newProducer(ctx, opts, topic, true)
	if err != nil {
		return Result{}, err
	}
	defer pr.close()
	out, err := newOutputWatch(opts)
	if err != nil {
		return Result{}, err
	}
	defer out.close()

	ctx, cancel := context.WithCancel(ctx)
	type ended struct {
		rss float64
		err error
	}
	childEnd := make(chan ended, 1)
	if opts.Exe != "" {
		child, err := startChild(ctx, opts, PhaseLive, topic)
		if err != nil {
			cancel()
			return Result{}, err
		}
		go func() {
			rss, err := waitChild(child)
			childEnd <- ended{rss, err}
		}()
	} else {
		go func() {
			err := RunPhase(ctx, PhaseLive, Options{Brokers: opts.Brokers, Topic: topic, Survey: opts.Survey, Registry: opts.Registry,
				Partitions: opts.Partitions, Filters: opts.Filters, ArchiveRoot: opts.ArchiveRoot, Compression: opts.Compression, Shards: opts.Shards, OneRead: opts.OneRead})
			childEnd <- ended{err: err}
		}()
	}
	childErr := make(chan error, 1)
	finished := make(chan struct{})
	var end ended
	go func() {
		end = <-childEnd
		childErr <- end.err
		close(finished)
	}()
	// However the phase ends, the pipeline is stopped (a child with an
	// interrupt, so it drains) and waited for.
	defer func() {
		cancel()
		<-finished
	}()

	sent := map[string]time.Time{}
	var night, filtered []outputCopy
	var bytes int64
	var start time.Time
	for v := 0; v <= opts.Visits; v++ {
		if v == 1 {
			start = time.Now()
		}
		due := start.Add(time.Duration(v-1) * opts.Cadence)
		if wait := time.Until(due); v > 1 && wait > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return Result{}, ctx.Err()
			}
		}
		// Generated when due, not ahead: making a visit's packets takes
		// a core for a while, which would be taken from the pipeline
		// while it handles the visit before. Latencies start when the
		// broker has an alert, so this delay is not counted.
		msgs, topics, err := src.visit(v)
		if err != nil {
			return Result{}, err
		}
		if err := pr.send(ctx, msgs); err != nil {
			return Result{}, err
		}
		for i, m := range msgs {
			k, _ := m.Key.Encode()
			key := string(k)
			// The ingest record itself, for the time the broker appended it.
			out.expect(outputCopy{topic, key})
			nc := outputCopy{topics[i], key}
			out.expect(nc)
			if v > 0 {
				night = append(night, nc)
				sent[key] = time.Time{}
				bytes += int64(m.Value.Length())
			}
			for _, ft := range kept[key] {
				fc := outputCopy{ft, key}
				out.expect(fc)
				if v > 0 {
					filtered = append(filtered, fc)
				}
			}
		}
		if v == 0 {
			// Warm-up: wait for the whole visit to come out.
			if err := out.wait(ctx, childErr, 5*time.Minute); err != nil {
				return Result{}, fmt.Errorf("warm-up visit: %w", err)
			}
		}
	}
	if err := out.wait(ctx, childErr, 5*time.Minute); err != nil {
		return Result{}, err
	}
	for key := range sent {
		sent[key] = out.seen[outputCopy{topic, key}]
	}
	secs := out.last().Sub(start).Seconds()
	latencies := func(copies []outputCopy) []float64 {
		lat := make([]float64, 0, len(copies))
		for _, c := range copies {
			lat = append(lat, float64(out.seen[c].Sub(sent[c.key]))/float64(time.Millisecond))
		}
		sort.Float64s(lat)
		return lat
	}
	nl, fl := latencies(night), latencies(filtered)
	cancel()
	<-finished // stopped by the cancel: its exit status says nothing
	e := end
	n := len(sent)
	r := Result{Phase: PhaseLive, Alerts: n, Bytes: bytes, Seconds: secs, AlertsPS: float64(n) / secs, MBPS: float64(bytes) / 1e6 / secs,
		PeakRSSMB: e.rss, P50Ms: quantile(nl, 0.50), P99Ms: quantile(nl, 0.99), MaxMs: nl[len(nl)-1],
		FilterCopies: len(fl), FilterP50Ms: quantile(fl, 0.50), FilterP98Ms: quantile(fl, 0.98), FilterP99Ms: quantile(fl, 0.99)}
	if len(fl) > 0 {
		r.FilterMaxMs = fl[len(fl)-1]
	}
	return r, nil
}

// expectKept works out, for every alert of the live phase's visits (the
// same generator, seed and night), the filter topics its copies go to:
// the same filters run on the packet as the pipeline decodes it.
// It also returns how many copies each visit has.
func expectKept(ctx context.Context, opts Options, prefix string) (kept map[string][]string, perVisit []int, err error) {
	src, err := newSource(opts.survey(), opts.Seed+1, liveNight, opts.Burst, opts.Visits+1)
	if err != nil {
		return nil, nil, err
	}
	// Decoded as the pipeline decodes: LSST ids resolve through the registry.
	codec, err := framing.Open(opts.survey(), opts.Registry)
	if err != nil {
		return nil, nil, err
	}
	var fs []*filter.Filter
	for _, spec := range opts.filters() {
		f, err := filter.Build(spec, opts.survey())
		if err != nil {
			return nil, nil, err
		}
		fs = append(fs, f)
	}
	kept = map[string][]string{}
	for v := 0; v <= opts.Visits; v++ {
		msgs, _, err := src.visit(v)
		if err != nil {
			return nil, nil, err
		}
		perVisit = append(perVisit, 0)
		for _, m := range msgs {
			k, _ := m.Key.Encode()
			b, _ := m.Value.Encode()
			a := &filter.Alert{}
			if opts.survey() == schemas.LSST {
				a.LSST = &lsst.Alert{}
				err = codec.Decode(ctx, b, a.LSST)
			} else {
				a.ZTF = &ztf.Alert{}
				err = codec.Decode(ctx, b, a.ZTF)
			}
			if err != nil {
				return nil, nil, err
			}
			for _, f := range fs {
				if out, err := f.Apply(a); err == nil && out != nil {
					kept[string(k)] = append(kept[string(k)], prefix+f.Name())
					perVisit[v]++
				}
			}
		}
	}
	return kept, perVisit, nil
}

// quantile of sorted values, nearest rank.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(i, 0)]
}

// outputWatch reads the per-night topics and records, per key, the
// timestamp of its copy. It reads in rounds, each from where the last one
// stopped to the end offsets of the moment: what it measures is in the
// records' timestamps, so how late it reads them does not matter.
type outputWatch struct {
	cl   sarama.Client
	cons sarama.Consumer

	want   map[outputCopy]bool
	seen   map[outputCopy]time.Time
	pos    map[string]map[int32]int64 // next offset to read, per topic and partition
	lastTS time.Time
}

// outputCopy is one expected copy of an alert: its topic and key.
type outputCopy struct{ topic, key string }

func newOutputWatch(opts Options) (*outputWatch, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: opts.Brokers})
	if err != nil {
		return nil, err
	}
	cl, err := sarama.NewClient(opts.Brokers, sc)
	if err != nil {
		return nil, err
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		cl.Close()
		return nil, err
	}
	return &outputWatch{cl: cl, cons: cons, want: map[outputCopy]bool{}, seen: map[outputCopy]time.Time{}, pos: map[string]map[int32]int64{}}, nil
}

func (w *outputWatch) expect(c outputCopy) {
	w.want[c] = true
	if _, ok := w.pos[c.topic]; !ok {
		w.pos[c.topic] = map[int32]int64{}
	}
}

// wait reads until every expected key has been seen; topics the pipeline
// has not created yet are looked for again each round.
func (w *outputWatch) wait(ctx context.Context, childErr <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		for topic := range w.pos {
			if err := w.readRound(topic); err != nil {
				return err
			}
		}
		if len(w.seen) >= len(w.want) {
			return nil
		}
		if time.Now().After(deadline) {
			var missing []string
			for c := range w.want {
				if _, ok := w.seen[c]; !ok && len(missing) < 5 {
					missing = append(missing, c.topic+":"+c.key)
				}
			}
			return fmt.Errorf("%d of %d copies came out within %v (missing %s)", len(w.seen), len(w.want), limit, strings.Join(missing, " "))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-childErr:
			return fmt.Errorf("the pipeline ended early: %v", err)
		case <-tick.C:
		}
	}
}

// readRound reads every partition of topic from where the last round
// stopped to its end offset now; a topic that does not exist yet is
// skipped.
func (w *outputWatch) readRound(topic string) error {
	_ = w.cl.RefreshMetadata(topic)
	parts, err := w.cl.Partitions(topic)
	if err != nil {
		return nil
	}
	for _, p := range parts {
		end, err := w.cl.GetOffset(topic, p, sarama.OffsetNewest)
		if leaderMoving(err) {
			continue // a topic the pipeline just created: next round
		}
		if err != nil {
			return err
		}
		from := w.pos[topic][p]
		if end <= from {
			continue
		}
		pc, err := w.cons.ConsumePartition(topic, p, from)
		if leaderMoving(err) {
			continue
		}
		if err != nil {
			return err
		}
		for m := range pc.Messages() {
			if c := (outputCopy{topic, string(m.Key)}); w.want[c] {
				if _, dup := w.seen[c]; !dup {
					w.seen[c] = m.Timestamp
					if m.Timestamp.After(w.lastTS) {
						w.lastTS = m.Timestamp
					}
				}
			}
			if m.Offset >= end-1 {
				break
			}
		}
		pc.Close()
		w.pos[topic][p] = end
	}
	return nil
}

// leaderMoving says whether err is a broker's answer while a partition's
// leader is being elected (a topic just created, a broker busy): the
// watch reads the partition again in its next round.
func leaderMoving(err error) bool {
	return errors.Is(err, sarama.ErrNotLeaderForPartition) || errors.Is(err, sarama.ErrLeaderNotAvailable) ||
		errors.Is(err, sarama.ErrUnknownTopicOrPartition) || errors.Is(err, sarama.ErrOffsetNotAvailable)
}

func (w *outputWatch) last() time.Time { return w.lastTS }

func (w *outputWatch) close() {
	w.cons.Close()
	w.cl.Close()
}

// startChild re-executes the binary for one phase on a topic.
func startChild(ctx context.Context, opts Options, phase, topic string) (*exec.Cmd, error) {
	args := []string{"bench", "--phase", phase, "--topic", topic, "--alerts", strconv.Itoa(opts.Alerts),
		"--partitions", strconv.Itoa(int(opts.Partitions)), "--survey", opts.survey()}
	if opts.Registry != "" {
		args = append(args, "--registry", opts.Registry)
	}
	if len(opts.Filters) > 0 {
		args = append(args, "--filters", strings.Join(opts.Filters, ";"))
	}
	if opts.OneRead {
		args = append(args, "--one-read")
	}
	if opts.Compression != "" {
		args = append(args, "--compression", opts.Compression)
	}
	if opts.Shards != 0 {
		args = append(args, "--shards", strconv.Itoa(opts.Shards))
	}
	if opts.ArchiveRoot != "" {
		args = append(args, "--archive-root", opts.ArchiveRoot)
	}
	if opts.ProfileDir != "" {
		args = append(args, "--profile", opts.ProfileDir)
	}
	for _, b := range opts.Brokers {
		args = append(args, "--brokers", b)
	}
	if limit, given := runners.MemoryLimitFlag(); given {
		args = append(args, "--memory_limit", limit) // else the phase takes the default, or GOMEMLIMIT
	}
	cmd := exec.CommandContext(ctx, opts.Exe, args...)
	// Stopped with an interrupt, as a user would, so it shuts down cleanly.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.Stderr = os.Stderr
	cmd.Stdout = os.Stderr
	cmd.SysProcAttr = childAttr()
	return cmd, cmd.Start()
}

// waitChild waits for a phase's process and returns its peak RSS in MB.
func waitChild(cmd *exec.Cmd) (float64, error) {
	err := cmd.Wait()
	var rss float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024 // Linux reports KB
	}
	return rss, err
}

// Print writes the report as a table.
func Print(w io.Writer, rep Report) {
	fmt.Fprintf(w, "\nalertbeam bench: %d %s alerts (%.1f MB, mean %.1f KB) on %v\n", rep.Alerts, rep.Survey, float64(rep.Bytes)/1e6,
		float64(rep.Bytes)/float64(max(rep.Alerts, 1))/1e3, rep.Brokers)
	fmt.Fprintf(w, "  full = distribute + archive + %d filters: %s; output compression %s; reads in %d shards (qa: 1)%s\n", len(rep.Filters), strings.Join(rep.Filters, " "), rep.compression(), max(rep.Shards, 1), rep.reads())
	fmt.Fprintf(w, "  %-16s %8s %9s %10s %8s %7s %9s %12s %10s %9s %9s\n", "phase", "alerts", "seconds", "alerts/s", "MB/s", "x raw", "x floor", "peak RSS MB", "output MB", "p50 ms", "p99 ms")
	for _, r := range rep.Results {
		rss, out, p50, p99, floor := "-", "-", "-", "-", "-"
		if r.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f", r.PeakRSSMB)
		}
		if r.OutputMB > 0 {
			out = fmt.Sprintf("%.0f", r.OutputMB)
		}
		if r.RatioFloor > 0 {
			floor = fmt.Sprintf("%.2f", r.RatioFloor)
		}
		if r.Phase == PhaseLive {
			p50, p99 = fmt.Sprintf("%.0f", r.P50Ms), fmt.Sprintf("%.0f", r.P99Ms)
		}
		fmt.Fprintf(w, "  %-16s %8d %9.1f %10.0f %8.1f %7.2f %9s %12s %10s %9s %9s\n", r.Phase, r.Alerts, r.Seconds, r.AlertsPS, r.MBPS, r.RatioRaw, floor, rss, out, p50, p99)
	}
	for _, r := range rep.Results {
		if r.RSSToBaseline > 0 {
			fmt.Fprintf(w, "  %-16s peak RSS %.2fx the baseline's\n", r.Phase, r.RSSToBaseline)
		}
	}
	for _, r := range rep.Results {
		if r.Phase == PhaseLive {
			fmt.Fprintf(w, "  live: visits arrive as bursts at a fixed cadence, so its alerts/s is the offered rate; latency is ingest append → per-night topic (max %.0f ms)\n", r.MaxMs)
			fmt.Fprintf(w, "  live: ingest append → filter topics, %d copies: p50 %.0f ms, p98 %.0f ms, p99 %.0f ms, max %.0f ms\n", r.FilterCopies, r.FilterP50Ms, r.FilterP98Ms, r.FilterP99Ms, r.FilterMaxMs)
		}
	}
}

// CompareRSS sets each result's RSSToBaseline from the report in the
// JSON file baseline, and returns that report's alert count.
func CompareRSS(rep *Report, baseline string) (int, error) {
	b, err := os.ReadFile(baseline)
	if err != nil {
		return 0, err
	}
	var base Report
	if err := json.Unmarshal(b, &base); err != nil {
		return 0, fmt.Errorf("bench: baseline %s: %w", baseline, err)
	}
	for i, r := range rep.Results {
		for _, br := range base.Results {
			if br.Phase == r.Phase && br.PeakRSSMB > 0 {
				rep.Results[i].RSSToBaseline = r.PeakRSSMB / br.PeakRSSMB
			}
		}
	}
	return base.Alerts, nil
}

// WriteJSON writes the report for comparison across runs.
func WriteJSON(path string, rep Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteMarkdown writes the report as a Markdown section: the run, the
// machine it ran on, and one table row per phase.
func WriteMarkdown(path string, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### %s: %d alerts (%.1f MB, mean %.1f KB)\n\n", strings.ToUpper(rep.Survey), rep.Alerts, float64(rep.Bytes)/1e6,
		float64(rep.Bytes)/float64(max(rep.Alerts, 1))/1e3)
	fmt.Fprintf(&b, "Machine: %s. Brokers: %s. Full = distribute + archive + %d filters (%s). Output compression: %s. Read shards: %d (qa: 1)%s.\n\n", machine(),
		strings.Join(rep.Brokers, ","), len(rep.Filters), strings.Join(rep.Filters, " "), rep.compression(), max(rep.Shards, 1), rep.reads())
	b.WriteString("| phase | alerts/s | MB/s | x raw | x floor | peak RSS MB | RSS x baseline | output MB | p50 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	cell := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "| %s | %.0f | %.1f | %s | %s | %s | %s | %s | %s | %s |\n", r.Phase, r.AlertsPS, r.MBPS, cell(r.RatioRaw, "%.2f"), cell(r.RatioFloor, "%.2f"),
			cell(r.PeakRSSMB, "%.0f"), cell(r.RSSToBaseline, "%.2f"), cell(r.OutputMB, "%.0f"), cell(r.P50Ms, "%.0f"), cell(r.P99Ms, "%.0f"))
	}
	for _, r := range rep.Results {
		if r.Phase == PhaseLive {
			fmt.Fprintf(&b, "\nlive: %d alerts in visits at a fixed cadence (alerts/s is the offered rate); latency from the broker's append of the ingest record to the copy in its night topic: p50 %.0f ms, p99 %.0f ms, max %.0f ms; to the %d copies in filter topics: p50 %.0f ms, p98 %.0f ms, p99 %.0f ms, max %.0f ms.\n",
				r.Alerts, r.P50Ms, r.P99Ms, r.MaxMs, r.FilterCopies, r.FilterP50Ms, r.FilterP98Ms, r.FilterP99Ms, r.FilterMaxMs)
		}
	}
	b.WriteString("\n")
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

// machine describes this computer: cores and CPU model.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	return fmt.Sprintf("%d cores (%s), %s/%s", runtime.NumCPU(), model, runtime.GOOS, runtime.GOARCH)
}
