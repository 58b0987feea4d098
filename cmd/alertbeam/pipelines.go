package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
)

func init() {
	register(&command{
		name:    "produce",
		summary: "publish a simulated night (or packet files) to a Kafka topic at visit cadence",
		beam:    true,
		usage: ` [--from-files FILE...]

Publishes a seeded, realistic night visit by visit, at the survey's cadence
times --speed (0: as fast as possible), framed as the survey frames it: one
Avro container file per message for ZTF, the Confluent wire format with
Rubin's schema id for LSST. With --from-files, publishes existing packet files
instead (the shared samples work). On the direct runner, when stderr is a
terminal, a progress line there shows the messages written (of the files
given), the rate and the time taken.

Examples:
  alertbeam produce --brokers localhost:9092 --topic ztf_ingest --visits 20 --speed 10
  alertbeam produce --brokers localhost:9092 --topic ztf_ingest --from-files ../shared/data/ztf/*.avro`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			o := addSimFlags(fs)
			brokers := fs.String("brokers", "localhost:9092", "Kafka `brokers`, host:port[,host:port] (\"embedded\" starts one in this process, gone when it exits)")
			topic := fs.String("topic", "", "topic to publish to (default <survey>_ingest)")
			speed := fs.Float64("speed", 1, "multiple of real time between visits; 0 publishes as fast as possible")
			partitions := fs.Int("partitions", 16, "partitions of the topic if it has to be created")
			fromFiles := fs.Bool("from-files", false, "publish the packet files given as arguments instead of simulating")
			sec := addSecurityFlags(fs)
			return func(ctx context.Context, e *env) error {
				cfg, err := o.config()
				if err != nil {
					return err
				}
				if *topic == "" {
					*topic = cfg.Survey + "_ingest"
				}
				w, stop, err := sec.openWrite(ctx, *brokers, *partitions)
				if err != nil {
					return err
				}
				defer stop()
				p, s := beam.NewPipelineWithRoot()
				var acks beam.PCollection
				if *fromFiles {
					files, err := expand(e.args)
					if err != nil {
						return err
					}
					acks, err = pipelines.TryProduceFiles(s, pipelines.ProduceFilesConfig{Paths: files, Survey: cfg.Survey, Topic: *topic, Write: w})
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "publishing %d files to %s on %s\n", len(files), *topic, strings.Join(w.Brokers, ","))
				} else {
					if len(e.args) > 0 {
						return fmt.Errorf("unexpected arguments %q (packet files need --from-files)", e.args)
					}
					acks, err = pipelines.TryProduce(s, pipelines.ProduceConfig{Night: pipelines.SpecOf(cfg), Topic: *topic, Write: w, Speed: *speed})
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "publishing a simulated %s night (%s, %d visits) to %s on %s\n",
						cfg.Survey, cfg.Night.Format("2006-01-02"), cfg.Visits, *topic, strings.Join(w.Brokers, ","))
				}
				_ = acks
				return runWriting(ctx, e.stderr, p, "produce", int64(len(e.args))) // the files, else unknown (0)
			}
		},
	})

	register(&command{
		name:    "distribute",
		summary: "fan an ingest stream out to per-night topics (ztf_YYYYMMDD_programidN, lsst_YYYYMMDD)",
		beam:    true,
		usage: `

Reads the ingest topic and routes every alert, with its exact bytes, to its
night's topic: ztf_YYYYMMDD_programidN (the UTC date of candidate.jd) or
lsst_YYYYMMDD (Rubin's dayObs: the TAI observation time converted to UTC,
minus 12 hours). Topics are created with --partitions and --retention.
Alerts that cannot be routed go to --dead-letter-topic with their error.
Offsets are committed to --group once the broker has the routed copy, so a
restart resumes where it left off without losing anything.

Examples:
  alertbeam distribute --brokers localhost:9092 --topic ztf_ingest
  alertbeam distribute --brokers localhost:9092 --topic ztf_ingest --stop-at-end
  alertbeam distribute --brokers localhost:9092 --topic ztf_ingest --archive gs://my-bucket/archive
  alertbeam distribute --runner=flink --endpoint=localhost:8099 --brokers kafka:9092 --topic ztf_ingest
  alertbeam distribute --runner=dataflow --dry_run --project my-project --region us-central1 \
      --staging_location gs://my-bucket/staging --brokers kafka:9092 --topic ztf_ingest > job.json
      (the Dataflow job and its pipeline as JSON on stdout; nothing is submitted)`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			in := addStreamFlags(fs, "alertbeam-distribute", "ingest")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL (LSST)")
			partitions := fs.Int("partitions", 16, "partitions of each per-night topic")
			retention := fs.Duration("retention", 14*24*time.Hour, "retention of each per-night topic")
			dlq := fs.String("dead-letter-topic", deadletter.DefaultTopic, "topic for alerts that cannot be routed")
			maxRecords := fs.Int64("max-records", 0, "stop after this many records from each partition (0: no limit)")
			archiveRoot := fs.String("archive", "", "also archive every alert, exactly once, under this root (a directory or gs://bucket/prefix); offsets then wait for the archive too")
			codec := fs.String("archive-codec", archive.DefaultCodec, "codec of archive files: null, deflate, snappy or zstd")
			shards := addShardsFlag(fs)
			oneRead := fs.Bool("one-read", false, "with --archive, read the ingest stream once for the night topics and the archive. By\n"+
				"default the router reads it on its own, so a night copy never waits for the archive's work\n"+
				"on the alerts before it; one read fetches each record once instead of twice (batch jobs;\n"+
				"the default with --stop-at-end or --max-records)")
			return func(ctx context.Context, e *env) error {
				var arch *archive.Config
				if *archiveRoot != "" {
					arch = &archive.Config{Root: *archiveRoot, Codec: *codec}
				}
				conn, read, stop, err := in.open(ctx)
				if err != nil {
					return err
				}
				defer stop()
				read.MaxRecords = *maxRecords
				p, s := beam.NewPipelineWithRoot()
				_, err = pipelines.TryDistribute(s, pipelines.DistributeConfig{
					Read:   read,
					Write:  kafkaio.WriteConfig{Config: conn, Partitions: int32(*partitions), Retention: *retention, Replication: int16(*in.sec.replication), Compression: *in.sec.compression},
					Survey: *survey, Registry: *reg, DeadLetterTopic: *dlq, Archive: arch, Shards: shardsFor(*shards, false),
					OneRead: *oneRead || read.StopAtEnd || read.MaxRecords > 0,
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "distributing %s on %s (group %s) on the %s runner\n", in.source(), strings.Join(conn.Brokers, ","), read.Group, runners.RunnerName())
				if arch != nil {
					fmt.Fprintf(e.stderr, "  and archiving to %s\n", arch.Root)
				}
				_, err = runners.Run(ctx, p)
				return err
			}
		},
	})
}

// expand expands glob patterns among file arguments.
func expand(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		m, err := filepath.Glob(a)
		if err != nil {
			return nil, err
		}
		if len(m) == 0 {
			return nil, fmt.Errorf("no file matches %s", a)
		}
		out = append(out, m...)
	}
	if len(out) == 0 {
		return nil, errors.New("name packet files to publish")
	}
	return out, nil
}
