package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func init() {
	register(&command{
		name:    "filter",
		summary: "run filters over a stream and publish each filter's output to its own topic",
		beam:    true,
		usageFn: filterUsage,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			in := addStreamFlags(fs, "alertbeam-filter", "a night's or a filter's output")
			survey := fs.String("survey", "ztf", "ztf or lsst")
			reg := fs.String("registry", "", "schema-registry URL (LSST)")
			ff := addFilterFlags(fs)
			partitions := fs.Int("partitions", 16, "partitions of output topics created")
			list := fs.Bool("list", false, "list the built-in and registered filters with their cuts, and exit")
			defs := fs.String("definitions", "", "compacted `topic` of filter definitions (alertbeam filters add/rm) to run alongside the\n"+
				"--filter ones, each from the moment the run reads it (e.g. "+filter.DefaultDefinitionsTopic+")")
			status := fs.String("status-topic", filter.DefaultStatusTopic, "`topic` where the run reports each definition: accepted, removed or rejected with its error")
			shards := addShardsFlag(fs)
			return func(ctx context.Context, e *env) error {
				if *list {
					for _, en := range filter.Entries() {
						fmt.Fprintf(e.stdout, "%-14s %s\n", en.Name, strings.ReplaceAll(en.Doc, "\n", "\n               "))
					}
					return nil
				}
				specs, err := ff.specs(*survey, *defs != "")
				if err != nil {
					return err
				}
				conn, read, stop, err := in.open(ctx)
				if err != nil {
					return err
				}
				defer stop()
				p, s := beam.NewPipelineWithRoot()
				cfg := ff.config(pipelines.FilterConfig{
					Read:   read,
					Write:  kafkaio.WriteConfig{Config: conn, Partitions: int32(*partitions), Replication: int16(*in.sec.replication), Compression: *in.sec.compression},
					Survey: *survey, Registry: *reg, Definitions: *defs, StatusTopic: *status,
				}, specs)
				cfg.Shards = shardsFor(*shards, cfg.NeedsOneRead())
				outs, err := pipelines.TryFilter(s, cfg)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stderr, "filtering %s with %d filters on the %s runner:\n  %s\n", in.source(), len(outs), runners.RunnerName(), strings.Join(outs, "\n  "))
				_, err = runners.Run(ctx, p)
				return err
			}
		},
	})
}

// filterFlags are the flags of a filter graph, shared by filter and replay.
type filterFlags struct {
	filters, exprs specFlag
	catalogs       specFlag
	gwTopic        *string
	prefix         *string
	capN           *int
	dlq            *string
	qaSpec         *string
	qaTopic        *string
	qaWindow       *time.Duration
	qaLateness     *time.Duration
	qa             *qa.Config
}

func addFilterFlags(fs *flag.FlagSet) *filterFlags {
	f := &filterFlags{}
	fs.Var(&f.filters, "filter", "a filter spec (repeatable): NAME, NAME:k=v,..., or OUT=spec")
	fs.Var(&f.exprs, "expr", "a CEL expression filter, [OUT=]EXPR (repeatable), e.g. 'bright=candidate.magpsf < 17.0'; always an expression, never a filter name (see alertbeam filter --help)")
	fs.Var(&f.catalogs, "catalog", "a catalog for crossmatch filters (repeatable): NAME=PATH[,ra=COL,dec=COL,id=COL,unit=rad,cols=A+B,near=ARCSEC],\n"+
		"a CSV file with a header row or a FITS binary table; filters xmatch:cat=NAME,r=ARCSEC, brightstar:cat=NAME and\n"+
		"expressions reading xmatch.NAME.sep, .id and the catalog's numeric columns use it")
	f.gwTopic = fs.String("gw-topic", "", "Kafka `topic` of IGWN gravitational-wave notices (GCN's igwn.gwalert JSON) for gw filters,\n"+
		"on the same brokers: each worker reads it from the beginning and follows it, a notice applying to the alerts\n"+
		"processed after it is read, a RETRACTION removing its event; notices that do not parse are dead-lettered once")
	f.prefix = fs.String("topic-prefix", "", "put this before each output's name to make its topic")
	f.capN = fs.Int("cap-per-visit", 0, "keep at most N alerts per visit in each output, highest S/N first (Rubin: 20);\n"+
		"exact on live and bounded reads: a visit's alerts wait (as ids) until the watermark passes its\n"+
		"one-minute observation-time window, i.e. until a later visit arrives, then the kept ones are read back")
	f.dlq = fs.String("dead-letter-topic", deadletter.DefaultTopic, "topic for alerts a filter fails on")
	f.qaSpec = fs.String("qa", "", "aggregate QA before the filters, e.g. 'rate=3x,spatial=k=5:r=20' (rate: N or Fx the running median,\n"+
		"reject|flag|throttle=K, by=exposure|ccd|quadrant; spatial: k, r, line, width in arcsec, reject|flag); see the qa package docs")
	f.qaTopic = fs.String("qa-topic", qa.DefaultTopic, "topic for QA records (one JSON record per flagged group)")
	f.qaWindow = fs.Duration("qa-window", qa.DefaultWindow, "event-time window exposures are grouped and decided in: a window's\n"+
		"exposures are decided when the watermark passes its end")
	f.qaLateness = fs.Duration("qa-lateness", 0, "how long after its window closes a late alert is still reported on --qa-topic\n"+
		"(late alerts always pass unjudged)")
	return f
}

// any reports whether a filter was named.
func (f *filterFlags) any() bool { return len(f.filters)+len(f.exprs) > 0 }

// specs returns every filter spec given, checked, so that a bad one fails
// before any broker or pipeline starts. None is fine when live definitions
// supply the filters.
func (f *filterFlags) specs(survey string, live bool) ([]string, error) {
	if *f.qaSpec != "" {
		rate, spatial, err := qa.ParseSpec(*f.qaSpec)
		if err != nil {
			return nil, err
		}
		f.qa = &qa.Config{Rate: rate, Spatial: spatial, QATopic: *f.qaTopic, Window: *f.qaWindow, AllowedLateness: *f.qaLateness}
	}
	specs := append([]string{}, f.filters...)
	for _, e := range f.exprs {
		specs = append(specs, filter.ExprSpec(e)) // never read as a filter name
	}
	if len(specs) == 0 && !live {
		return nil, errors.New("name at least one --filter or --expr (see alertbeam filter --list), or a --definitions topic")
	}
	fs := make([]*filter.Filter, 0, len(specs))
	for _, spec := range specs {
		flt, err := filter.Build(spec, survey)
		if err != nil {
			return nil, err
		}
		fs = append(fs, flt)
	}
	if err := filter.CheckCatalogs(fs, f.catalogs); err != nil {
		return nil, err
	}
	return specs, nil
}

// config completes cfg with the filter flags.
func (f *filterFlags) config(cfg pipelines.FilterConfig, specs []string) pipelines.FilterConfig {
	cfg.Filters, cfg.TopicPrefix, cfg.DeadLetterTopic, cfg.CapPerVisit, cfg.QA = specs, *f.prefix, *f.dlq, *f.capN, f.qa
	cfg.Catalogs, cfg.GWTopic = f.catalogs, *f.gwTopic
	return cfg
}

// filterUsage is filter's help text, with what expressions can call read
// from the expression library itself.
func filterUsage() string {
	calls := "(the expression library failed to load: see the error of any --expr)"
	if c, err := filter.ExprCallables(); err == nil {
		calls = "Functions: " + strings.Join(c.Functions, ", ") + ".\n\nMethods, x.f(...): " + strings.Join(c.Methods, ", ") +
			".\n\nMacros: " + strings.Join(c.Macros, ", ") + "; on lists and maps, x.f(v, p): " + strings.Join(c.MethodMacros, ", ") + "."
	}
	return filterUsageText + "\n" + wrapText(calls, 78) + "\n" + filterUsageExamples
}

const filterUsageText = `

Reads a stream (a per-night topic, or another filter's output topic: filters
chain), decodes each alert once, runs every --filter and --expr on it, and
publishes each filter's output to the topic named after the filter (prefixed
with --topic-prefix). Kept alerts keep their exact bytes unless the filter
transforms them (nocutouts, drop). An alert a filter fails or panics on goes to
the dead-letter topic with its error; the stream continues. Offsets are
committed to --group once every output has published or dropped the alert.

--qa runs aggregate QA first, per exposure in observation-time windows: a rate
check (reject, flag or throttle exposures with too many alerts) and a spatial
check (clusters and lines of candidates: bleed trails, satellite streaks). The
filters see only what QA keeps, read back from Kafka by offset once their
exposure is decided (the watermark passed its window); each flagged group is a
JSON record on --qa-topic.

A filter spec is a built-in or registered name with optional parameters
(rb:min=0.8, purity, history:gap=30), a CEL expression over the alert's fields
(candidate.rb > 0.8 && candidate.ndethist >= 2), or OUT=spec to name the
output. --list shows the built-ins and their exact cuts. An --expr is always an
expression, never a filter name. OUT=EXPR names its output: OUT is what stands
before the first '=' when that is a name ([a-z][a-z0-9_-]*) and the '=' does
not begin '==' (--expr 'clean=true', --expr 'n = candidate.rb >= 0.5'); the
expression may hold '=' itself. Unnamed, it is named after a hash of its text.

--definitions TOPIC adds the filters defined at run time with 'alertbeam
filters add' (and removed with 'alertbeam filters rm') on that compacted
topic: each applies to the alerts processed after the run reads it, publishes
to --topic-prefix + its name, and a definition named like a --filter output
replaces that filter while it stands. Every kept alert carries the headers
filter.name and filter.version (0 for a --filter, the definition's version
otherwise). What the run makes of each definition (accepted, removed, or
rejected with its error, the running filters unchanged) goes to
--status-topic. See 'alertbeam filters' and the README.

Expressions are CEL (https://cel.dev) over the alert's fields by their Avro
names (candidate.rb, prv_candidates, diaSource.psfFlux, ...), plus the
variables xmatch.NAME (with --catalog) and lcfit.BAND (light-curve fits).
Operators: == != < <= > >= && || ! ?: + - * / % in [list] and x[i]; ints
and doubles compare with each other. abs(x) and math.abs(x) are the same.
`

const filterUsageExamples = `
Examples:
  alertbeam filter --list
  alertbeam filter --brokers localhost:9092 --topic ztf_20261124_programid1 --filter purity --filter 'bright=bright:max=17'
  alertbeam filter --brokers localhost:9092 --topic purity --expr 'candidate.rb > 0.8 && candidate.ndethist >= 2'
  alertbeam filter --brokers localhost:9092 --topic ztf_20261124_programid1 --catalog hip=hip2.csv \
      --filter 'near=xmatch:cat=hip,r=5' --filter 'nobrightstar:cat=hip' --expr 'has(xmatch.hip) && xmatch.hip.Hpmag < 6.0'
  alertbeam filter --brokers localhost:9092 --topic ztf_20261124_programid1 --gw-topic igwn.gwalert \
      --filter 'gw:cl=90,before=1d,after=6d' --filter 'sn=lcfit:min_points=6,score=0.9'
  alertbeam filter --brokers localhost:9092 --topic ztf_20261124_programid1 --qa 'rate=3x,spatial=k=5:r=20' --filter purity
  alertbeam filter --brokers localhost:9092 --topic lsst_20261124 --survey lsst --registry http://localhost:8081 \
      --filter significance:min=5 --cap-per-visit 20
  alertbeam filter --brokers localhost:9092 --topic ztf_20261124_programid1 --filter purity --definitions alertbeam-filters`

// wrapText breaks text into lines of at most width columns at spaces,
// keeping its line breaks.
func wrapText(text string, width int) string {
	var b strings.Builder
	for i, para := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteByte('\n')
		}
		col := 0
		for _, word := range strings.Fields(para) {
			if col > 0 && col+1+len(word) > width {
				b.WriteByte('\n')
				col = 0
			} else if col > 0 {
				b.WriteByte(' ')
				col++
			}
			b.WriteString(word)
			col += len(word)
		}
	}
	return b.String()
}
