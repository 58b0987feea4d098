package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/registry"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func init() {
	register(&command{
		name:         "demo",
		summary:      "run the whole flow on an embedded broker with a simulated night, and summarise",
		beam:         true,
		orchestrates: true,
		usage: `

Starts an embedded Kafka broker and schema registry in this process, publishes
a simulated night plus a few corrupt messages to the ingest topic, distributes
it to per-night topics on the direct runner, runs filters and aggregate QA on
them, archives them, and prints a summary whose counts add up: every message
read is either in a night topic or dead-lettered, and QA keeps every alert of
the night but those of the groups it rejects (by default the night has a bleed
trail and a satellite streak for it to find: --bleed, --streak).`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			o := addSimFlags(fs)
			fs.Lookup("visits").DefValue = "6"
			_ = fs.Set("visits", "6")
			fs.Lookup("alerts-per-visit").DefValue = "500"
			_ = fs.Set("alerts-per-visit", "500")
			fs.Lookup("bleed").DefValue = "0:20"
			_ = fs.Set("bleed", "0:20")
			fs.Lookup("streak").DefValue = "1:100"
			_ = fs.Set("streak", "1:100")
			corrupt := fs.Int("corrupt", 3, "corrupt messages to add to the ingest stream (they must be dead-lettered)")
			return func(ctx context.Context, e *env) error {
				cfg, err := o.config()
				if err != nil {
					return err
				}
				return runDemo(ctx, e, pipelines.SpecOf(cfg), *corrupt)
			}
		},
	})
}

func runDemo(ctx context.Context, e *env, night pipelines.NightSpec, corrupt int) error {
	start := time.Now()
	b, err := broker.Start(broker.Options{Partitions: 4})
	if err != nil {
		return err
	}
	defer b.Close()
	reg, err := registry.Serve("127.0.0.1:0", schemas.Default())
	if err != nil {
		return err
	}
	defer reg.Close()
	fmt.Fprintf(e.stderr, "embedded Kafka broker on %s, schema registry on %s\n", b.Addr(), reg.URL())

	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	ingest := night.Survey + "_ingest"
	w := kafkaio.WriteConfig{Config: conn, Partitions: 4}

	step := func(what string, build func(s beam.Scope) error) error {
		t0 := time.Now()
		fmt.Fprintf(e.stderr, "%s ...", what)
		p, s := beam.NewPipelineWithRoot()
		if err := build(s); err != nil {
			return err
		}
		// A stop signal drains the step's pipeline rather than cancel it,
		// then ends the demo after the step.
		run, cancel := kafkaio.DrainContext(ctx)
		defer cancel()
		if _, err := runners.Run(run, p); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if ctx.Err() != nil {
			fmt.Fprintf(e.stderr, " stopped after %v\n", time.Since(t0).Round(time.Millisecond))
			return errStopped
		}
		fmt.Fprintf(e.stderr, " done in %v\n", time.Since(t0).Round(time.Millisecond))
		return nil
	}
	if err := step(fmt.Sprintf("producing a simulated %s night (%s, %d visits x %d alerts) to %s", night.Survey,
		night.Night.Format("2006-01-02"), night.Visits, night.AlertsPerVisit, ingest), func(s beam.Scope) error {
		_, err := pipelines.TryProduce(s, pipelines.ProduceConfig{Night: night, Topic: ingest, Write: w})
		return err
	}); err != nil {
		return err
	}
	produced, err := topicCounts(b.Addr(), func(t string) bool { return t == ingest })
	if err != nil {
		return err
	}
	if err := sendCorrupt(b.Addr(), ingest, corrupt); err != nil {
		return err
	}
	if err := step("distributing to per-night topics", func(s beam.Scope) error {
		_, err := pipelines.TryDistribute(s, pipelines.DistributeConfig{
			Read:   kafkaio.ReadConfig{Config: conn, Topics: []string{ingest}, Group: "demo-distribute", StopAtEnd: true},
			Write:  kafkaio.WriteConfig{Config: conn, Partitions: 16, Retention: 14 * 24 * time.Hour},
			Survey: night.Survey, Registry: reg.URL(),
		})
		return err
	}); err != nil {
		return err
	}
	nights, err := topicCounts(b.Addr(), func(t string) bool { return strings.HasPrefix(t, night.Survey+"_2") })
	if err != nil {
		return err
	}
	nightTopics := night.Survey + `_2\d{7}(_programid\d)?`
	filters := demoFilters(night.Survey)
	if err := step(fmt.Sprintf("filtering the night topics with %d filters", len(filters)), func(s beam.Scope) error {
		_, err := pipelines.TryFilter(s, pipelines.FilterConfig{
			Read:  kafkaio.ReadConfig{Config: conn, TopicPattern: nightTopics, Group: "demo-filter", StopAtEnd: true},
			Write: kafkaio.WriteConfig{Config: conn, Partitions: 4}, Survey: night.Survey, Registry: reg.URL(),
			Filters: filters, TopicPrefix: "filter.",
		})
		return err
	}); err != nil {
		return err
	}
	filtered, err := topicCounts(b.Addr(), func(t string) bool { return strings.HasPrefix(t, "filter.") })
	if err != nil {
		return err
	}
	rate, spatial, err := qa.ParseSpec(demoQA)
	if err != nil {
		return err
	}
	if err := step("aggregate QA ("+demoQA+") on the night topics", func(s beam.Scope) error {
		_, err := pipelines.TryFilter(s, pipelines.FilterConfig{
			Read:  kafkaio.ReadConfig{Config: conn, TopicPattern: nightTopics, Group: "demo-qa", StopAtEnd: true},
			Write: kafkaio.WriteConfig{Config: conn, Partitions: 4}, Survey: night.Survey, Registry: reg.URL(),
			Filters: []string{"kept=" + everything(night.Survey)}, TopicPrefix: "qa.",
			QA: &qa.Config{Rate: rate, Spatial: spatial, QATopic: "qa.flags"},
		})
		return err
	}); err != nil {
		return err
	}
	qaSum, err := qaSummary(b.Addr(), "qa.flags", "qa.kept")
	if err != nil {
		return err
	}
	root, err := os.MkdirTemp("", "alertbeam-demo-archive-")
	if err != nil {
		return err
	}
	if err := step("archiving the night topics to "+root, func(s beam.Scope) error {
		return pipelines.TryArchive(s, pipelines.ArchiveConfig{
			Read:    kafkaio.ReadConfig{Config: conn, TopicPattern: nightTopics, Group: "demo-archive", StopAtEnd: true},
			Archive: archive.Config{Root: root, Survey: night.Survey, Registry: reg.URL()},
			Write:   kafkaio.WriteConfig{Config: conn},
		})
	}); err != nil {
		return err
	}
	rep, err := archive.Verify(ctx, root, night.Survey, night.Night.Format("20060102"))
	if err != nil {
		return err
	}
	dead, err := topicCounts(b.Addr(), func(t string) bool { return t == deadletter.DefaultTopic })
	if err != nil {
		return err
	}
	return printSummary(e.stdout, ingest, produced[ingest], corrupt, nights, filtered, qaSum, rep, root, dead[deadletter.DefaultTopic], time.Since(start))
}

// demoFilters are a few built-ins and a CEL expression, per survey.
func demoFilters(survey string) []string {
	if survey == "lsst" {
		return []string{"significance:min=5", "bright=bright:max=20", "reliable=diaSource.reliability >= 0.9"}
	}
	return []string{"purity", "bright=bright:max=18.5", "confirmed=candidate.rb >= 0.8 && candidate.ndethist >= 2"}
}

// demoQA finds the generator's bleed trails and streaks (within 0.3" and
// 0.5" of their line) and rate spikes.
const demoQA = "rate=3x,spatial=width=0.6"

// everything is a filter that keeps every alert, so that its topic holds
// what QA kept.
func everything(survey string) string {
	if survey == "lsst" {
		return "diaSource.midpointMjdTai > 0.0"
	}
	return "candidate.jd > 0.0"
}

// qaRun is what the QA step made of the night.
type qaRun struct {
	flags    map[string]int // flagged groups by check/kind
	rejected int64          // alerts in the groups rejected (counts of reject flags)
	kept     int64
}

// qaSummary reads the QA records and counts what QA kept.
func qaSummary(addr, flagTopic, keptTopic string) (qaRun, error) {
	r := qaRun{flags: map[string]int{}}
	counts, err := topicCounts(addr, func(t string) bool { return t == keptTopic || t == flagTopic })
	if err != nil {
		return r, err
	}
	r.kept = counts[keptTopic]
	if counts[flagTopic] == 0 {
		return r, nil // no QA records (the topic may not even exist)
	}
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: []string{addr}})
	if err != nil {
		return r, err
	}
	c, err := sarama.NewConsumer([]string{addr}, sc)
	if err != nil {
		return r, err
	}
	defer c.Close()
	parts, err := c.Partitions(flagTopic)
	if err != nil {
		return r, err
	}
	for _, p := range parts {
		pc, err := c.ConsumePartition(flagTopic, p, sarama.OffsetOldest)
		if err != nil {
			return r, err
		}
		end := pc.HighWaterMarkOffset()
		for end > 0 {
			m := <-pc.Messages()
			var f struct {
				Check, Kind, Action string
				Count, Kept         int
			}
			if err := json.Unmarshal(m.Value, &f); err != nil {
				pc.Close()
				return r, fmt.Errorf("QA record %s: %w", m.Value, err)
			}
			r.flags[f.Check+" "+f.Kind]++
			r.rejected += int64(f.Count - f.Kept)
			if m.Offset >= end-1 {
				break
			}
		}
		pc.Close()
	}
	return r, nil
}

// sendCorrupt adds messages that are not alerts: garbage, a truncated
// container and a wire-format message with an unknown schema id.
func sendCorrupt(addr, topic string, n int) error {
	if n == 0 {
		return nil
	}
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: []string{addr}})
	if err != nil {
		return err
	}
	sc.Producer.Return.Successes = true
	p, err := sarama.NewSyncProducer([]string{addr}, sc)
	if err != nil {
		return err
	}
	defer p.Close()
	kinds := [][]byte{[]byte("this is not an alert"), []byte("Obj\x01\x04\x16avro.schema"), {0, 0, 0, 0x10, 0x92, 1, 2}}
	for i := 0; i < n; i++ {
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Value: sarama.ByteEncoder(kinds[i%len(kinds)])}); err != nil {
			return err
		}
	}
	return nil
}

// topicCounts counts the messages of matching topics from their offsets.
func topicCounts(addr string, match func(string) bool) (map[string]int64, error) {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: []string{addr}})
	if err != nil {
		return nil, err
	}
	cl, err := sarama.NewClient([]string{addr}, sc)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	topics, err := cl.Topics()
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, t := range topics {
		if !match(t) {
			continue
		}
		parts, err := cl.Partitions(t)
		if err != nil {
			return nil, err
		}
		for _, p := range parts {
			oldest, err1 := cl.GetOffset(t, p, sarama.OffsetOldest)
			newest, err2 := cl.GetOffset(t, p, sarama.OffsetNewest)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("offsets of %s/%d: %v %v", t, p, err1, err2)
			}
			out[t] += newest - oldest
		}
	}
	return out, nil
}

func printSummary(w io.Writer, ingest string, produced int64, corrupt int, nights, filtered map[string]int64, q qaRun, rep archive.Report, root string, dead int64, took time.Duration) error {
	var distributed int64
	names := make([]string, 0, len(nights))
	for t, n := range nights {
		names = append(names, t)
		distributed += n
	}
	sort.Strings(names)
	read := produced + int64(corrupt)
	row := func(label string, v any) { fmt.Fprintf(w, "  %-42s %8v\n", label, v) }
	fmt.Fprintln(w, "\nalertbeam demo summary")
	row("alerts produced to "+ingest, produced)
	row("corrupt messages added", corrupt)
	row("messages read by distribute", read)
	row("distributed to per-night topics", distributed)
	for _, t := range names {
		row("  "+t, nights[t])
	}
	row("dead-lettered ("+deadletter.DefaultTopic+")", dead)
	fnames := make([]string, 0, len(filtered))
	for t := range filtered {
		fnames = append(fnames, t)
	}
	sort.Strings(fnames)
	row("filter outputs (each reads every distributed alert)", "")
	for _, t := range fnames {
		row("  "+t, filtered[t])
	}
	kinds := make([]string, 0, len(q.flags))
	for k := range q.flags {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	row("aggregate QA: groups flagged ("+demoQA+")", "")
	for _, k := range kinds {
		row("  "+k, q.flags[k])
	}
	row("  alerts rejected by QA", q.rejected)
	row("  alerts kept by QA (qa.kept)", q.kept)
	row(fmt.Sprintf("archived (%d files, %d duplicates, %d unreadable)", rep.Files, len(rep.Duplicates), len(rep.Unreadable)), rep.Records)
	ok := distributed == produced && dead == int64(corrupt) && int64(rep.Records) == distributed && rep.OK() &&
		q.kept+q.rejected == distributed
	verdict := "adds up: every message read is in exactly one night topic or dead-lettered, archived once, and kept or rejected by QA"
	if !ok {
		verdict = "DOES NOT ADD UP"
	}
	fmt.Fprintf(w, "%d read = %d distributed + %d dead-lettered: %s (%v)\n", read, distributed, dead, verdict, took.Round(time.Millisecond))
	fmt.Fprintf(w, "archive: %s (alertbeam archive verify %s --night ...)\n", root, root)
	if !ok {
		return fmt.Errorf("demo counts do not add up")
	}
	return nil
}
