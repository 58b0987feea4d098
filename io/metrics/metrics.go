package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
)

// Registry holds alertbeam's metrics (and the Go runtime's).
var Registry = prometheus.NewRegistry()

var (
	// RecordsRead counts records read from Kafka.
	RecordsRead = counter("alertbeam_records_read_total", "Records read from Kafka.", "topic", "partition")
	// Lag is how many records of a partition lie beyond the read position.
	Lag = gauge("alertbeam_consumer_lag_records", "Records of a partition not read yet (high-water mark minus read position).", "topic", "partition")
	// MessagesWritten counts messages the brokers acknowledged.
	MessagesWritten = counter("alertbeam_messages_written_total", "Messages written to Kafka and acknowledged by the brokers.", "topic")
	// DeadLetters counts records sent to the dead-letter topic, by the
	// stage that could not handle them.
	DeadLetters = counter("alertbeam_deadletters_total", "Records sent to the dead-letter topic, by stage.", "stage")
	// FilterResults counts each filter's verdicts: kept, dropped, missing
	// (a value it needed was absent) or failed (dead-lettered).
	FilterResults = counter("alertbeam_filter_alerts_total", "Alerts each filter kept, dropped, found missing a value, or failed on.", "filter", "result")
	// Committed is the offset committed for a partition.
	Committed = gauge("alertbeam_committed_offset", "Offset committed for a partition (the next record to read).", "group", "topic", "partition")
	// ArchiveRecords and ArchiveFiles count what the archive committed.
	ArchiveRecords = counter("alertbeam_archive_records_total", "Records written to final archive files.", "night")
	ArchiveFiles   = counter("alertbeam_archive_files_total", "Final archive files written.", "night")
	// ArchiveBytes counts the bytes of those files.
	ArchiveBytes = counter("alertbeam_archive_bytes_total", "Bytes of final archive files written.", "night")
	// QADropped counts the alerts aggregate QA held back, once each, by the
	// reason that dropped it (QAReason...).
	QADropped = counter("alertbeam_qa_dropped_total", "Alerts aggregate QA dropped, by reason (rate_reject, rate_throttle, spatial).", "reason")
	// OutputLatency is, per kind of output (Output...), the time from the
	// Kafka timestamp of the record read to the brokers' acknowledgement
	// of a message written for it: end-to-end latency when the ingest
	// topic's timestamps are produce times.
	OutputLatency = histogram("alertbeam_output_latency_seconds",
		"From the Kafka timestamp of the record read to the brokers' acknowledgement of the message written for it, by kind of output.",
		prometheus.ExponentialBuckets(0.005, 2, 17), "output") // 5 ms to 5.5 min
	// StageSeconds is the time one element took in a stage (Stage...).
	StageSeconds = histogram("alertbeam_stage_seconds", "Time one alert took in a stage, by stage.",
		prometheus.ExponentialBuckets(5e-6, 3, 14), "stage") // 5 µs to 8 s
)

// Values of the output label of OutputLatency: a fixed set, so that the
// per-night topics do not each make a histogram.
const (
	OutputNight      = "night"      // per-night topics (distribute)
	OutputFilter     = "filter"     // filter output topics
	OutputDeadLetter = "deadletter" // the dead-letter topic
	OutputStatus     = "status"     // the filter-definitions status topic
	OutputReplay     = "replay"     // a replay's topic
	OutputOther      = "other"      // anything else
)

// Values of the stage label of StageSeconds.
const (
	StageFanout  = "fanout"  // identify and route to the night's topic
	StageFilter  = "filter"  // decode and run every filter
	StageQA      = "qa"      // decode what QA groups
	StageArchive = "archive" // decode and stage for the archive
)

// Values of the reason label of QADropped.
const (
	QARateReject   = "rate_reject"
	QARateThrottle = "rate_throttle"
	QASpatial      = "spatial"
)

// Sum adds up every series of a counter: what the pipelines in this
// process have done so far, for a command's progress line.
func Sum(c *prometheus.CounterVec) float64 {
	ch := make(chan prometheus.Metric, 64)
	go func() {
		c.Collect(ch)
		close(ch)
	}()
	total := 0.0
	for m := range ch {
		var d dto.Metric
		if m.Write(&d) == nil {
			total += d.GetCounter().GetValue()
		}
	}
	return total
}

func counter(name, help string, labels ...string) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(c)
	return c
}

func gauge(name, help string, labels ...string) *prometheus.GaugeVec {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels)
	Registry.MustRegister(g)
	return g
}

func histogram(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels)
	Registry.MustRegister(h)
	return h
}

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// Serve serves /metrics, and the status page at /, on addr (host:port; port 0 picks one) until stop
// is called, and returns the address it listens on.
func Serve(addr string) (bound string, stop func() error, err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listening on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("/", statusPage)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Printf("metrics: %v\n", err)
		}
	}()
	// The page's input rate is over the last minute of these samples.
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(5 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				_, _ = Current()
			}
		}
	}()
	return ln.Addr().String(), func() error {
		close(done)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	}, nil
}
