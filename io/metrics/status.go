package metrics

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The status page: what /metrics says, for a person, refreshed every 5 s,
// with no script and no external asset (observatories are often offline).

// lastErrors keeps the latest dead-letter errors, newest first.
var lastErrors struct {
	sync.Mutex
	list []deadError
}

type deadError struct {
	At           time.Time
	Stage, Error string
}

// NoteDeadLetter records a dead letter's error for the status page.
func NoteDeadLetter(stage, err string) {
	lastErrors.Lock()
	defer lastErrors.Unlock()
	lastErrors.list = append([]deadError{{time.Now(), stage, err}}, lastErrors.list...)
	if len(lastErrors.list) > 10 {
		lastErrors.list = lastErrors.list[:10]
	}
}

// rates remembers the records read a minute ago, for the input rate.
var rates struct {
	sync.Mutex
	samples []sample
}

type sample struct {
	at   time.Time
	read float64
}

// sampleRead records the total read now and returns the rate over the
// last minute (records/s), 0 until two samples exist.
func sampleRead(read float64) float64 {
	rates.Lock()
	defer rates.Unlock()
	now := time.Now()
	rates.samples = append(rates.samples, sample{now, read})
	for len(rates.samples) > 2 && now.Sub(rates.samples[1].at) > time.Minute {
		rates.samples = rates.samples[1:]
	}
	first := rates.samples[0]
	if dt := now.Sub(first.at).Seconds(); dt > 0 {
		return (read - first.read) / dt
	}
	return 0
}

// QuantileWindow is what the page's latency and processing-time quantiles
// cover: the observations of about the last five minutes (since the
// process started, for its first five), read from the difference of the
// histograms between now and a snapshot taken when the page was shown
// that long ago, as a Prometheus rate() over 5m would.
const QuantileWindow = 5 * time.Minute

// histSnapshots are the histograms as the page saw them, oldest first;
// the first is the empty set of the process's start.
var histSnapshots = struct {
	sync.Mutex
	list []histSnapshot
}{list: []histSnapshot{{at: time.Now()}}}

type histSnapshot struct {
	at    time.Time
	hists map[string]*dto.Histogram
}

// recentHistograms records now's histograms (by key) and returns, per key,
// what was observed since the oldest snapshot within QuantileWindow.
func recentHistograms(now time.Time, hists map[string]*dto.Histogram) map[string]*dto.Histogram {
	histSnapshots.Lock()
	defer histSnapshots.Unlock()
	l := append(histSnapshots.list, histSnapshot{now, hists})
	for len(l) > 2 && now.Sub(l[1].at) >= QuantileWindow {
		l = l[1:]
	}
	histSnapshots.list = l
	base := l[0].hists
	out := make(map[string]*dto.Histogram, len(hists))
	for k, h := range hists {
		out[k] = histogramSince(h, base[k])
	}
	return out
}

// histogramSince is h less the observations already in before (an
// earlier state of the same histogram, nil for none).
func histogramSince(h, before *dto.Histogram) *dto.Histogram {
	if before == nil || len(before.GetBucket()) != len(h.GetBucket()) {
		return h
	}
	n := h.GetSampleCount() - before.GetSampleCount()
	d := &dto.Histogram{SampleCount: &n}
	for i, b := range h.GetBucket() {
		c := b.GetCumulativeCount() - before.GetBucket()[i].GetCumulativeCount()
		d.Bucket = append(d.Bucket, &dto.Bucket{UpperBound: b.UpperBound, CumulativeCount: &c})
	}
	return d
}

// Row is one line of a table on the page.
type Row struct {
	Labels []string
	Values []string
}

// Status is what the page shows.
type Status struct {
	Now                       string
	Read, Written, Dead       float64
	Rate                      float64
	TotalLag                  float64
	Partitions, Filters, Outs []Row
	DeadByStage, Archive      []Row
	QADropped                 []Row
	// Latency and Stages are per output kind and per stage: the count
	// since the process started, the count in the last QuantileWindow,
	// and p50 and p99 over that window.
	Latency, Stages []Row
	Errors          []deadError
}

// Current gathers the status from the registry.
func Current() (Status, error) {
	fams, err := Registry.Gather()
	if err != nil {
		return Status{}, err
	}
	by := map[string]*dto.MetricFamily{}
	for _, f := range fams {
		by[f.GetName()] = f
	}
	hists := map[string]*dto.Histogram{}
	for _, name := range []string{"alertbeam_output_latency_seconds", "alertbeam_stage_seconds"} {
		if f := by[name]; f != nil {
			for _, m := range f.Metric {
				hists[name+"\x00"+m.String()] = m.GetHistogram()
			}
		}
	}
	recent := recentHistograms(time.Now(), hists)
	quantiles := func(name, label string) []Row {
		var rows []Row
		if f := by[name]; f != nil {
			for _, m := range f.Metric {
				h := m.GetHistogram()
				if h.GetSampleCount() == 0 {
					continue
				}
				r := recent[name+"\x00"+m.String()]
				p50, p99 := "-", "-"
				if r.GetSampleCount() > 0 {
					p50, p99 = seconds(Quantile(0.5, r)), seconds(Quantile(0.99, r))
				}
				rows = append(rows, Row{[]string{labelOf(m, label)}, []string{fmt.Sprint(h.GetSampleCount()),
					fmt.Sprint(r.GetSampleCount()), p50, p99}})
			}
		}
		return rows
	}
	val := func(m *dto.Metric) float64 {
		if m.Counter != nil {
			return m.Counter.GetValue()
		}
		return m.Gauge.GetValue()
	}
	label := labelOf
	num := func(x float64) string { return fmt.Sprintf("%.0f", x) }
	var s Status
	s.Now = time.Now().UTC().Format(time.RFC3339)
	lag := map[string]float64{}
	if f := by["alertbeam_consumer_lag_records"]; f != nil {
		for _, m := range f.Metric {
			lag[label(m, "topic")+"/"+label(m, "partition")] = val(m)
			s.TotalLag += val(m)
		}
	}
	if f := by["alertbeam_records_read_total"]; f != nil {
		for _, m := range f.Metric {
			s.Read += val(m)
			k := label(m, "topic") + "/" + label(m, "partition")
			s.Partitions = append(s.Partitions, Row{[]string{k}, []string{num(val(m)), num(lag[k])}})
		}
	}
	s.Rate = sampleRead(s.Read)
	s.Latency = quantiles("alertbeam_output_latency_seconds", "output")
	s.Stages = quantiles("alertbeam_stage_seconds", "stage")
	if f := by["alertbeam_messages_written_total"]; f != nil {
		for _, m := range f.Metric {
			s.Written += val(m)
			s.Outs = append(s.Outs, Row{[]string{label(m, "topic")}, []string{num(val(m))}})
		}
	}
	if f := by["alertbeam_deadletters_total"]; f != nil {
		for _, m := range f.Metric {
			s.Dead += val(m)
			s.DeadByStage = append(s.DeadByStage, Row{[]string{label(m, "stage")}, []string{num(val(m))}})
		}
	}
	verdicts := map[string]map[string]float64{}
	if f := by["alertbeam_filter_alerts_total"]; f != nil {
		for _, m := range f.Metric {
			name := label(m, "filter")
			if verdicts[name] == nil {
				verdicts[name] = map[string]float64{}
			}
			verdicts[name][label(m, "result")] += val(m)
		}
	}
	for name, v := range verdicts {
		seen := v["kept"] + v["dropped"] + v["missing"] + v["failed"]
		yield := "-"
		if seen > 0 {
			yield = fmt.Sprintf("%.1f%%", 100*v["kept"]/seen)
		}
		s.Filters = append(s.Filters, Row{[]string{name}, []string{num(v["kept"]), num(v["dropped"]), num(v["missing"]), num(v["failed"]), yield}})
	}
	files, bytes := map[string]float64{}, map[string]float64{}
	if f := by["alertbeam_archive_files_total"]; f != nil {
		for _, m := range f.Metric {
			files[label(m, "night")] = val(m)
		}
	}
	if f := by["alertbeam_archive_bytes_total"]; f != nil {
		for _, m := range f.Metric {
			bytes[label(m, "night")] = val(m)
		}
	}
	if f := by["alertbeam_archive_records_total"]; f != nil {
		for _, m := range f.Metric {
			n := label(m, "night")
			s.Archive = append(s.Archive, Row{[]string{n}, []string{num(files[n]), num(val(m)), num(bytes[n])}})
		}
	}
	if f := by["alertbeam_qa_dropped_total"]; f != nil {
		for _, m := range f.Metric {
			s.QADropped = append(s.QADropped, Row{[]string{label(m, "reason")}, []string{num(val(m))}})
		}
	}
	for _, rows := range [][]Row{s.Partitions, s.Filters, s.Outs, s.DeadByStage, s.Archive, s.QADropped, s.Latency, s.Stages} {
		sort.Slice(rows, func(i, j int) bool { return strings.Join(rows[i].Labels, " ") < strings.Join(rows[j].Labels, " ") })
	}
	lastErrors.Lock()
	s.Errors = append([]deadError(nil), lastErrors.list...)
	lastErrors.Unlock()
	return s, nil
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// seconds formats a duration in seconds for the page, in ms below 10 s.
func seconds(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1f ms", x*1000)
	}
	return fmt.Sprintf("%.1f s", x)
}

// Quantile estimates the q-quantile of a histogram as Prometheus's
// histogram_quantile does: linearly within the bucket the rank falls in
// (from 0 for the first bucket), and the highest finite bound when it
// falls in the +Inf bucket. It is NaN for an empty histogram.
func Quantile(q float64, h *dto.Histogram) float64 {
	n := float64(h.GetSampleCount())
	if n == 0 {
		return math.NaN()
	}
	rank := q * n
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		upper, cum := b.GetUpperBound(), float64(b.GetCumulativeCount())
		if math.IsInf(upper, 1) {
			break
		}
		if cum >= rank {
			if cum == below {
				return upper
			}
			return lower + (upper-lower)*(rank-below)/(cum-below)
		}
		lower, below = upper, cum
	}
	return lower // in the +Inf bucket: the highest finite bound
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"n":    func(x float64) string { return fmt.Sprintf("%.0f", x) },
	"rate": func(x float64) string { return fmt.Sprintf("%.1f", x) },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<title>alertbeam status</title>
<style>
body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}
.big{font-size:1.4em;margin-right:1.5em}
</style></head><body>
<h1>alertbeam</h1>
<p>at {{.Now}}, refreshed every 5 s; the numbers are <a href="/metrics">/metrics</a>'s.</p>
<p><span class="big" id="read">read {{n .Read}}</span><span class="big" id="rate">{{rate .Rate}} alerts/s</span>
<span class="big" id="lag">lag {{n .TotalLag}}</span><span class="big" id="written">written {{n .Written}}</span>
<span class="big" id="dead">dead letters {{n .Dead}}</span></p>
<h2>Input</h2>
<table id="partitions"><tr><th>topic/partition</th><th>read</th><th>lag</th></tr>
{{range .Partitions}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Filters</h2>
<table id="filters"><tr><th>filter</th><th>kept</th><th>dropped</th><th>missing</th><th>failed</th><th>yield</th></tr>
{{range .Filters}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Output topics</h2>
<table id="outputs"><tr><th>topic</th><th>written</th></tr>
{{range .Outs}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Dead letters</h2>
<table id="deadletters"><tr><th>stage</th><th>count</th></tr>
{{range .DeadByStage}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<table id="errors"><tr><th>latest errors</th><th>stage</th><th>at</th></tr>
{{range .Errors}}<tr><td>{{.Error}}</td><td>{{.Stage}}</td><td>{{.At.UTC.Format "15:04:05"}}</td></tr>
{{end}}</table>
<h2>Archive</h2>
<table id="archive"><tr><th>night</th><th>files</th><th>records</th><th>bytes</th></tr>
{{range .Archive}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>QA</h2>
<table id="qa"><tr><th>dropped because</th><th>alerts</th></tr>
{{range .QADropped}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Latency</h2>
<p>From the Kafka timestamp of the record read to the brokers' acknowledgement of the output; p50 and p99 over the last
5 minutes (estimated from the histogram's buckets, as Prometheus's histogram_quantile does).</p>
<table id="latency"><tr><th>output</th><th>messages</th><th>last 5 min</th><th>p50</th><th>p99</th></tr>
{{range .Latency}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<h2>Processing time per alert</h2>
<table id="stages"><tr><th>stage</th><th>alerts</th><th>last 5 min</th><th>p50</th><th>p99</th></tr>
{{range .Stages}}<tr><td>{{index .Labels 0}}</td>{{range .Values}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
</body></html>
`))

func statusPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	s, err := Current()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := page.Execute(w, s); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}
