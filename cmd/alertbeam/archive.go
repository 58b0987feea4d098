package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/transforms/deadletter"
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
			window := fs.Duration("window", 15*time.Minute, "files close at the end of each event-time window of this length")
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
				if err := pipelines.Archive(s, pipelines.ArchiveConfig{
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
ids) and unreadable files; exits 1 when anything is wrong.

Example:
  alertbeam archive verify /data/archive --night 20261124`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			night := fs.String("night", "", "the night, YYYYMMDD (required)")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			return func(ctx context.Context, e *env) error {
				if len(e.args) != 1 || *night == "" {
					return errors.New("usage: alertbeam archive verify ROOT --night YYYYMMDD")
				}
				rep, err := archive.Verify(ctx, e.args[0], *survey, *night)
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
		summary: "publish an archived night back to a topic, with the archived bytes",
		beam:    true,
		usage: ` ROOT

Reads the night's archive files (local or gs://) and publishes every alert to
--topic, framed as the survey frames it, byte for byte as archived; run
distribute or filters on that topic to reproduce the night.

Example:
  alertbeam replay /data/archive --night 20261124 --brokers localhost:9092 --topic ztf_replay`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			night := fs.String("night", "", "the night, YYYYMMDD")
			pattern := fs.String("pattern", "", "a glob of archive files instead of ROOT and --night")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			brokers := fs.String("brokers", "localhost:9092", "Kafka `brokers`")
			topic := fs.String("topic", "", "topic to publish to (required)")
			partitions := fs.Int("partitions", 16, "partitions of the topic if it has to be created")
			sec := addSecurityFlags(fs)
			return func(ctx context.Context, e *env) error {
				cfg := archive.ReadConfig{Survey: *survey, Night: *night, Pattern: *pattern}
				if len(e.args) == 1 {
					cfg.Root = e.args[0]
				} else if *pattern == "" {
					return errors.New("usage: alertbeam replay ROOT --night YYYYMMDD --topic T (or --pattern GLOB)")
				}
				addrs, stop, err := broker.Resolve(ctx, *brokers, broker.Options{})
				if err != nil {
					return err
				}
				defer stop()
				p, s := beam.NewPipelineWithRoot()
				if err := pipelines.Replay(s, pipelines.ReplayConfig{Archive: cfg, Topic: *topic,
					Write: kafkaio.WriteConfig{Config: kafkaio.Config{Brokers: addrs, Security: sec.security()}, Partitions: int32(*partitions)}}); err != nil {
					return err
				}
				_, err = runners.Run(ctx, p)
				return err
			}
		},
	})
}
