package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
)

func init() {
	register(&command{
		name:    "archive",
		summary: "keep every alert of a stream, exactly once, in per-night Avro files (local or gs://)",
		beam:    true,
		usage: `

Reads a stream and writes every alert into Avro container files under --root:
<root>/ztf/YYYYMMDD/programidN/... or <root>/lsst/YYYYMMDD/..., grouped by
writer schema so any Avro tool reads them, each datum exactly as received.
Replays and restarts never duplicate an alert. Offsets are committed once an
alert is in a final file. 'alertbeam archive verify' checks a night.

Examples:
  alertbeam archive --brokers localhost:9092 --topic-pattern 'ztf_2\d{7}_programid\d' --root /data/archive
  alertbeam archive --brokers kafka:9092 --topic ztf_ingest --root gs://my-bucket/archive --codec zstd`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			in := addStreamFlags(fs, "alertbeam-archive", "the")
			root := fs.String("root", "", "archive root: a local directory or gs://bucket/prefix (required)")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL (LSST)")
			codec := fs.String("codec", "zstd", "file codec: null, deflate, snappy or zstd (cutouts are already gzipped; zstd is cheap)")
			window := fs.Duration("window", archive.DefaultWindow, "files close at the end of each event-time window of this length; offsets commit then,\nso it also bounds what a restart reads again")
			dlq := fs.String("dead-letter-topic", deadletter.DefaultTopic, "topic for alerts that cannot be archived")
			return func(ctx context.Context, e *env) error {
				if *root == "" {
					return errors.New("--root is required")
				}
				conn, read, stop, err := in.open(ctx)
				if err != nil {
					return err
				}
				defer stop()
				p, s := beam.NewPipelineWithRoot()
				if err := pipelines.TryArchive(s, pipelines.ArchiveConfig{
					Read: read,
					Archive: archive.Config{Root: *root, Survey: *survey, Registry: *reg, Codec: *codec, Window: *window,
						DeadLetterTopic: *dlq},
					Write: kafkaio.WriteConfig{Config: conn},
				}); err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "archiving %s to %s on the %s runner\n", in.source(), *root, runners.RunnerName())
				_, err = runners.Run(ctx, p)
				return err
			}
		},
	})

	register(&command{
		name:    "archive verify",
		summary: "check an archived night: counts, duplicate ids, unreadable files",
		usage: ` ROOT

Reads every file of the night and reports records, duplicates (with their
ids) and unreadable files; exits 1 when anything is wrong. When stderr is a
terminal, a progress line there shows records and files read, the rate and
the time taken.

Example:
  alertbeam archive verify /data/archive --night 20261124`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			night := fs.String("night", "", "the night, YYYYMMDD (required)")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			return func(ctx context.Context, e *env) error {
				if len(e.args) != 1 || *night == "" {
					return errors.New("usage: alertbeam archive verify ROOT --night YYYYMMDD")
				}
				prog := startProgress(e.stderr, "archive verify", "records", nil)
				rep, err := archive.Verify(ctx, e.args[0], *survey, *night, archive.WithProgress(func(files, of int, records int64) {
					prog.set(records, 0, fmt.Sprintf("%d/%d files", files, of))
				}))
				prog.finish()
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s %s night %s: %d files, %d records, %d duplicate ids, %d unreadable files\n",
					e.args[0], *survey, *night, rep.Files, rep.Records, len(rep.Duplicates), len(rep.Unreadable))
				for _, d := range rep.Duplicates {
					fmt.Fprintf(e.stdout, "  duplicate id %d\n", d)
				}
				for _, u := range rep.Unreadable {
					fmt.Fprintf(e.stdout, "  unreadable %s\n", u)
				}
				if !rep.OK() {
					return errors.New("the night's archive has problems (see above)")
				}
				return nil
			}
		},
	})

	register(&command{
		name:    "replay",
		summary: "replay an archived night to a topic or straight into filters, optionally at its original cadence",
		beam:    true,
		usage: ` ROOT

Reads the night's archive files (local or gs://) and publishes every alert to
--topic, framed as the survey frames it, byte for byte as archived; run
distribute or filters on that topic to reproduce the night. With --filter or
--expr, the replay goes straight into those filters instead, each output to
its own topic as 'alertbeam filter' does (nothing is committed: the archive
is the source).

--speed 1 replays at the original cadence (10: ten times faster): alerts come
out in observation-time order, each when its offset from the night's first
alert, divided by the speed, has passed. --speed 0 (the default) reads the
files as fast as possible, in parallel, in no particular order. On the direct
runner, when stderr is a terminal, a progress line there shows the messages
written, the rate and the time taken.

Examples:
  alertbeam replay /data/archive --night 20261124 --brokers localhost:9092 --topic ztf_replay
  alertbeam replay gs://my-bucket/archive --night 20261124 --speed 10 --brokers localhost:9092 --topic ztf_replay
  alertbeam replay /data/archive --night 20261124 --brokers localhost:9092 --filter purity --topic-prefix replay.`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			night := fs.String("night", "", "the night, YYYYMMDD")
			pattern := fs.String("pattern", "", "a glob of archive files instead of ROOT and --night")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL (LSST, with filters)")
			speed := fs.Float64("speed", 0, "multiple of real time to replay at (1: the original cadence); 0 as fast as possible")
			brokers := fs.String("brokers", "localhost:9092", "Kafka `brokers` (\"embedded\" starts one in this process)")
			topic := fs.String("topic", "", "topic to publish to (required without filters)")
			partitions := fs.Int("partitions", 16, "partitions of topics created")
			ff := addFilterFlags(fs)
			sec := addSecurityFlags(fs)
			return func(ctx context.Context, e *env) error {
				cfg := archive.ReadConfig{Survey: *survey, Night: *night, Pattern: *pattern, Speed: *speed}
				if len(e.args) == 1 {
					cfg.Root = e.args[0]
				} else if *pattern == "" || len(e.args) > 1 {
					return errors.New("usage: alertbeam replay ROOT --night YYYYMMDD (--topic T | --filter F...), or --pattern GLOB instead of ROOT")
				}
				if err := cfg.Validate(); err != nil {
					return err
				}
				var specs []string
				if ff.any() {
					var err error
					if specs, err = ff.specs(*survey, false); err != nil {
						return err
					}
					if *topic != "" {
						return errors.New("give --topic or filters, not both (filters publish to topics named after them)")
					}
				} else if *topic == "" {
					return errors.New("name where the replay goes: --topic T, or --filter/--expr")
				}
				w, stop, err := sec.openWrite(ctx, *brokers, *partitions)
				if err != nil {
					return err
				}
				defer stop()
				p, s := beam.NewPipelineWithRoot()
				where := *topic
				if specs != nil {
					outs, err := pipelines.TryFilter(s, ff.config(pipelines.FilterConfig{Archive: &cfg, Write: w, Survey: *survey, Registry: *reg}, specs))
					if err != nil {
						return err
					}
					where = strings.Join(outs, ", ")
				} else if err := pipelines.TryReplay(s, pipelines.ReplayConfig{Archive: cfg, Topic: *topic, Write: w}); err != nil {
					return err
				}
				pace := "as fast as possible"
				if *speed > 0 {
					pace = fmt.Sprintf("at %g× the original cadence", *speed)
				}
				fmt.Fprintf(e.stderr, "replaying %s %s to %s on the %s runner\n", cfg.Survey, archiveSource(cfg), where, runners.RunnerName())
				fmt.Fprintf(e.stderr, "  %s\n", pace)
				return runWriting(ctx, e.stderr, p, "replay", 0)
			}
		},
	})
}

// archiveSource describes what a replay reads, for progress messages.
func archiveSource(c archive.ReadConfig) string {
	if c.Pattern != "" {
		return c.Pattern
	}
	return fmt.Sprintf("night %s of %s", c.Night, c.Root)
}
