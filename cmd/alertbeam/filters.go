package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// filtersUsage explains the live-definition workflow once, for every
// filters subcommand.
const filtersUsage = `
Filters can be added, changed and removed while 'alertbeam filter' runs, and
tried before they go live. Definitions are records on a compacted Kafka topic
(--definitions, default ` + filter.DefaultDefinitionsTopic + `): the key is the filter's output
name, the value JSON, a tombstone removes it:

  {"spec": "candidate.rb > 0.8 && candidate.ndethist >= 2", "owner": "alice",
   "version": 3, "created": "2026-12-04T02:00:00Z"}

A run started with --definitions applies each definition to the alerts it
processes after reading it, publishes the filter's alerts to --topic-prefix +
NAME with headers filter.name and filter.version, and reports on
--status-topic (default ` + filter.DefaultStatusTopic + `) whether it accepted it, or
rejected it with its error (the running filters then go on unchanged).

  alertbeam filters try SPEC --topic T --last N   what SPEC would keep, publishing nothing
  alertbeam filters add NAME SPEC                 publish a definition (version = last + 1)
  alertbeam filters add NAME SPEC --from TIME --topic T   ... and backfill it from TIME
  alertbeam filters rm NAME                       remove it
  alertbeam filters list                          what stands, versions, when each took effect`

func init() {
	register(&command{
		name:    "filters",
		summary: "manage the filters a running 'filter' takes from its definitions topic (add, rm, list, try)",
		usage:   " add|rm|list|try ...\n" + filtersUsage,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			return func(ctx context.Context, e *env) error {
				fmt.Fprintf(e.stdout, "Usage:\n  alertbeam filters add|rm|list|try ...\n%s\n\nRun 'alertbeam filters add --help' and so on for each one's flags.\n", filtersUsage)
				if len(e.args) > 0 {
					return fmt.Errorf("unknown filters subcommand %q (want add, rm, list or try)", e.args[0])
				}
				return nil
			}
		},
	})

	register(&command{
		name:    "filters add",
		summary: "publish a filter definition; with --from, also run it over the night so far",
		beam:    true,
		usage: ` NAME SPEC

Checks SPEC (a built-in with parameters or a CEL expression, as --filter takes
it) against the survey's schema, then publishes it as NAME's next version
(one more than any published) to the definitions topic, creating the topic
(compacted, one partition) if needed. A run with --definitions applies it to
the alerts it processes next, publishing to its --topic-prefix + NAME.

--from TIME also backfills: once a run has accepted the definition (up to
--wait; without a run it goes ahead), it runs the filter once over --topic
from TIME (record time) to the topic's end, into --topic-prefix + NAME, with
the same headers. With --archive ROOT instead of --topic it reads the archived
night (--night, default the night TIME falls in) and takes the alerts observed
at or after TIME. Alerts the live run also reached in the moment between its
reading the definition and the backfill's start can be there twice (topics
are at-least-once: deduplicate by candid).

Examples:
  alertbeam filters add bright 'candidate.magpsf < 17.0 && candidate.rb > 0.65' --owner alice
  alertbeam filters add young 'young=rb:min=0.8' --cap 20 --definitions ztf-filters --brokers kafka.example.org:9092
  alertbeam filters add bright 'candidate.magpsf < 16.5' --from 2026-12-04T02:00:00Z \
      --topic ztf_20261204_programid1 --topic-prefix live.
  alertbeam filters add bright 'candidate.magpsf < 16.5' --from 2026-12-04T02:00:00Z --archive /data/archive --topic-prefix live.`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			df := addDefinitionFlags(fs)
			owner := fs.String("owner", os.Getenv("USER"), "who owns the filter (default $USER)")
			capN := fs.Int("cap", 0, "keep at most `N` alerts per visit, highest S/N first, as --cap-per-visit does (Rubin: 20): the\n"+
				"run publishes a visit's alerts once a later visit shows it is complete")
			survey := fs.String("survey", "ztf", "ztf or lsst: the schema SPEC is checked against")
			from := fs.String("from", "", "backfill from this `time`: RFC 3339 (2026-12-04T02:00:00Z), or a duration ago (4h)")
			topic := fs.String("topic", "", "with --from: the stream the running filter reads, to backfill from")
			archiveRoot := fs.String("archive", "", "with --from: backfill from this archive `root` (local or gs://) instead of --topic")
			night := fs.String("night", "", "with --archive: the archived night, YYYYMMDD (default: the night --from falls in)")
			prefix := fs.String("topic-prefix", "", "with --from: the running filter's --topic-prefix")
			reg := fs.String("registry", "", "with --from: schema-registry URL (LSST)")
			wait := fs.Duration("wait", 30*time.Second, "with --from: how long to wait for a run to accept the definition before backfilling")
			partitions := fs.Int("partitions", 16, "with --from: partitions of the output topic, if it is created")
			return func(ctx context.Context, e *env) error {
				if len(e.args) != 2 {
					return errors.New("usage: alertbeam filters add NAME SPEC [--owner U] [--from TIME --topic T]")
				}
				name, spec := e.args[0], e.args[1]
				d := filter.Definition{Spec: spec, Owner: *owner, CapPerVisit: *capN, Created: time.Now().UTC().Truncate(time.Second)}
				// The run also checks catalogs and notices; here, what
				// the spec alone can tell.
				if *capN < 0 {
					return errors.New("--cap: want a positive number of alerts per visit (or none)")
				}
				if _, err := (filter.DefinitionEnv{Survey: *survey, GW: true}).Check(name, d); err != nil {
					return err
				}
				var since time.Time
				if *from != "" {
					var err error
					if since, err = parseTime(*from, time.Now()); err != nil {
						return fmt.Errorf("--from: %w", err)
					}
					if (*topic == "") == (*archiveRoot == "") {
						return errors.New("--from needs --topic, the stream to backfill from, or --archive")
					}
				}
				conn := df.conn()
				recs, err := filter.ReadDefinitions(ctx, conn, *df.topic)
				if err != nil {
					return err
				}
				d.Version = filter.NextVersion(recs, name)
				part, off, err := filter.PublishDefinition(ctx, conn, *df.topic, name, &d)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "published %s version %d to %s (offset %d)\n", name, d.Version, *df.topic, off)
				if *from == "" {
					return nil
				}
				st, err := awaitStatus(ctx, conn, *df.status, part, off, *wait)
				switch {
				case err != nil:
					return err
				case st == nil:
					fmt.Fprintf(e.stderr, "no run reported on %s within %s; backfilling anyway\n", *df.status, *wait)
				case st.Status == filter.StatusRejected:
					return fmt.Errorf("a run rejected %s version %d, not backfilling: %s", name, d.Version, st.Error)
				}
				return backfill(ctx, e, conn, backfillSpec{name: name, spec: spec, version: d.Version, since: since, topic: *topic,
					archive: *archiveRoot, night: *night, prefix: *prefix, survey: *survey, registry: *reg, partitions: *partitions,
					replication: *df.sec.replication, compression: *df.sec.compression, capN: *capN})
			}
		},
	})

	register(&command{
		name:    "filters rm",
		summary: "remove a filter from the definitions topic",
		usage: ` NAME

Publishes a tombstone for NAME: runs stop applying it to the alerts they
process next (a --filter of that name goes back to its flag definition).

Example:
  alertbeam filters rm bright`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			df := addDefinitionFlags(fs)
			return func(ctx context.Context, e *env) error {
				if len(e.args) != 1 {
					return errors.New("usage: alertbeam filters rm NAME")
				}
				name := e.args[0]
				conn := df.conn()
				standing, _, err := df.standing(ctx)
				if err != nil {
					return err
				}
				found := false
				for _, l := range standing {
					found = found || l.Name == name
				}
				if !found {
					return fmt.Errorf("no filter %q stands on %s (see alertbeam filters list)", name, *df.topic)
				}
				if _, _, err := filter.PublishDefinition(ctx, conn, *df.topic, name, nil); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "removed %s from %s\n", name, *df.topic)
				return nil
			}
		},
	})

	register(&command{
		name:    "filters list",
		summary: "list the filters standing on the definitions topic, their versions and when each took effect",
		usage: `

Shows each filter standing on the definitions topic: its version, owner,
when it was published, and when a run took it in (from the status topic;
"pending" while no run has read it), then the definitions runs rejected since,
with their errors.

Example:
  alertbeam filters list --brokers kafka.example.org:9092`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			df := addDefinitionFlags(fs)
			return func(ctx context.Context, e *env) error {
				standing, rejected, err := df.standing(ctx)
				if err != nil {
					return err
				}
				printStanding(e.stdout, standing, rejected)
				return nil
			}
		},
	})

	register(&command{
		name:    "filters try",
		summary: "run a filter over the last alerts of a topic, publishing nothing",
		usage: ` SPEC

Reads the last N alerts of --topic (--last; the N with the latest record
times over all partitions) or those written since a time (--since), runs SPEC
over them as a filter run would, and prints how many it keeps, the first kept
ids, and what it costs per alert. Nothing is published or committed.

Examples:
  alertbeam filters try 'candidate.rb > 0.8 && candidate.ndethist >= 2' --topic ztf_20261204_programid1 --last 10000
  alertbeam filters try purity --topic ztf_20261204_programid1 --since 1h`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			brokers := fs.String("brokers", "localhost:9092", "Kafka `brokers`, host:port[,host:port]")
			topic := fs.String("topic", "", "the stream to sample (required)")
			last := fs.Int("last", 0, "try the last `N` alerts")
			since := fs.String("since", "", "try the alerts written since this `time`: RFC 3339, or a duration ago (1h)")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL (LSST)")
			ids := fs.Int("ids", 5, "how many kept ids to show")
			var catalogs specFlag
			fs.Var(&catalogs, "catalog", "a catalog for crossmatch filters (repeatable), as alertbeam filter takes it")
			sec := addSecurityFlags(fs)
			return func(ctx context.Context, e *env) error {
				if len(e.args) != 1 || *topic == "" || (*last > 0) == (*since != "") {
					return errors.New("usage: alertbeam filters try SPEC --topic T (--last N | --since TIME)")
				}
				tc := kafkaio.TailConfig{Config: sec.config(strings.Split(*brokers, ",")), Topic: *topic, Last: *last}
				if *since != "" {
					var err error
					if tc.Since, err = parseTime(*since, time.Now()); err != nil {
						return fmt.Errorf("--since: %w", err)
					}
				}
				recs, err := kafkaio.Tail(ctx, tc)
				if err != nil {
					return err
				}
				res, err := filter.Try(ctx, recs, filter.TryConfig{Spec: e.args[0], Survey: *survey, Registry: *reg, Catalogs: catalogs, IDs: *ids})
				if err != nil {
					return err
				}
				printTry(e.stdout, res)
				return nil
			}
		},
	})
}

// definitionFlags are the flags every filters subcommand shares: where
// the definitions and status topics are.
type definitionFlags struct {
	brokers, topic, status *string
	sec                    *securityFlags
}

func addDefinitionFlags(fs *flag.FlagSet) *definitionFlags {
	return &definitionFlags{
		brokers: fs.String("brokers", "localhost:9092", "Kafka `brokers`, host:port[,host:port]"),
		topic:   fs.String("definitions", filter.DefaultDefinitionsTopic, "the compacted `topic` of filter definitions the runs follow (their --definitions)"),
		status:  fs.String("status-topic", filter.DefaultStatusTopic, "the `topic` the runs report on (their --status-topic)"),
		sec:     addSecurityFlags(fs),
	}
}

func (f *definitionFlags) conn() kafkaio.Config { return f.sec.config(strings.Split(*f.brokers, ",")) }

// standing reads the definitions and status topics and returns the filters
// standing on the definitions topic and the definitions runs rejected.
func (f *definitionFlags) standing(ctx context.Context) ([]filter.Listed, []filter.Listed, error) {
	conn := f.conn()
	recs, err := filter.ReadDefinitions(ctx, conn, *f.topic)
	if err != nil {
		return nil, nil, err
	}
	statuses, err := filter.ReadStatuses(ctx, conn, *f.status)
	if err != nil {
		return nil, nil, err
	}
	standing, rejected := filter.Standing(recs, statuses)
	return standing, rejected, nil
}

// parseTime reads an RFC 3339 time, one without seconds or zone (UTC), or
// a duration before now.
func parseTime(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time (2026-12-04T02:00:00Z) nor a duration ago (4h)", s)
}

// awaitStatus waits up to wait for a run's report on the definition at
// (part, off); nil if none came.
func awaitStatus(ctx context.Context, conn kafkaio.Config, topic string, part int32, off int64, wait time.Duration) (*filter.DefinitionStatus, error) {
	deadline := time.Now().Add(wait)
	for {
		sts, err := filter.ReadStatuses(ctx, conn, topic)
		if err != nil {
			return nil, err
		}
		for i := range sts {
			if sts[i].Partition == part && sts[i].Offset == off {
				return &sts[i], nil
			}
		}
		if !time.Now().Before(deadline) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type backfillSpec struct {
	name, spec, topic, archive, night, prefix, survey, registry string
	version                                                     int64
	since                                                       time.Time
	partitions, replication, capN                               int
	compression                                                 string
}

// backfill runs a new definition once over a stream from a time to the
// stream's end (or over an archived night from a time), into the live
// filter's topic, stamped with its version.
func backfill(ctx context.Context, e *env, conn kafkaio.Config, b backfillSpec) error {
	spec := b.spec
	if !strings.HasPrefix(spec, b.name+"=") {
		spec = b.name + "=" + spec // the definition's key names its output
	}
	p, s := beam.NewPipelineWithRoot()
	cfg := pipelines.FilterConfig{
		Write:   kafkaio.WriteConfig{Config: conn, Partitions: int32(b.partitions), Replication: int16(b.replication), Compression: b.compression},
		Filters: []string{spec}, Survey: b.survey, Registry: b.registry,
		TopicPrefix: b.prefix, Versions: map[string]int64{b.name: b.version}, CapPerVisit: b.capN,
	}
	from := b.topic
	if b.archive != "" {
		night := b.night
		if night == "" {
			night = nightOf(b.survey, b.since)
		}
		cfg.Archive = &archive.ReadConfig{Survey: b.survey, Root: b.archive, Night: night}
		cfg.Since = b.since
		from = fmt.Sprintf("the archived night %s", night)
	} else {
		cfg.Read = kafkaio.ReadConfig{Config: conn, Topics: strings.Split(b.topic, ","), Group: fmt.Sprintf("alertbeam-backfill.%s.v%d", b.name, b.version),
			Start: kafkaio.StartTimestamp, StartTime: b.since, StopAtEnd: true}
	}
	if _, err := pipelines.TryFilter(s, cfg); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "backfilling %s version %d over %s from %s into %s on the %s runner\n", b.name, b.version, from,
		b.since.UTC().Format(time.RFC3339), pipelines.FilterTopic(b.prefix, b.name), runners.RunnerName())
	if _, err := runners.Run(ctx, p); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "backfilled %s version %d from %s into %s\n", b.name, b.version, b.since.UTC().Format(time.RFC3339),
		pipelines.FilterTopic(b.prefix, b.name))
	return nil
}

func printStanding(w io.Writer, standing, rejected []filter.Listed) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tOWNER\tPUBLISHED\tTOOK EFFECT\tSPEC")
	for _, l := range standing {
		took := "pending (no run has read it)"
		if l.Status != nil {
			took = l.Status.Checked.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", l.Name, l.Def.Version, orDash(l.Def.Owner),
			l.Published.UTC().Format(time.RFC3339), took, l.Def.Spec)
	}
	tw.Flush()
	if len(rejected) > 0 {
		fmt.Fprintln(w, "\nrejected (the filters above run unchanged):")
		for _, l := range rejected {
			why, v := "", int64(0)
			if l.Err != nil {
				why = l.Err.Error()
			} else {
				why, v = l.Status.Error, l.Def.Version
			}
			fmt.Fprintf(w, "  %s version %d (offset %d): %s\n", l.Name, v, l.Offset, why)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printTry(w io.Writer, r filter.TryResult) {
	fmt.Fprintf(w, "%s keeps %d of %d alerts", r.Filter, r.Kept, r.Alerts)
	if r.Alerts > 0 {
		fmt.Fprintf(w, " (%.1f%%)", 100*float64(r.Kept)/float64(r.Alerts))
	}
	fmt.Fprintf(w, "; drops %d, fails on %d, %d not alerts\n", r.Dropped, r.Failed, r.Undecodable)
	ids := make([]string, len(r.IDs))
	for i, id := range r.IDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	if len(ids) > 0 {
		fmt.Fprintf(w, "kept ids: %s\n", strings.Join(ids, " "))
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first failure: %s\n", r.FirstError)
	}
	fmt.Fprintf(w, "cost: %s per alert filtering, %s decoding\n", r.Cost, r.Decode)
}

// nightOf names the night t falls in: ZTF's is the UTC date, Rubin's
// dayObs the date 12 hours earlier (the TAI-UTC offset is immaterial here).
func nightOf(survey string, t time.Time) string {
	if survey == "lsst" {
		t = t.Add(-12 * time.Hour)
	}
	return t.UTC().Format("20060102")
}
