package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/consumer"
)

func init() {
	register(&command{
		name:    "consume",
		summary: "read an alert stream as a consumer-group member, one JSON line per alert",
		usage: ` [kafka://host:port[,host:port]/topic]

Joins a Kafka consumer group and prints one JSON line per alert on stdout
(ZTF: objectId, candid, jd, ra, dec, magpsf, rb, ...; LSST: diaSourceId,
visit, detector, psfFlux, ...), or an {"error": ...} line for a message that
does not decode. A progress line and a final summary go to stderr.

Offsets are committed only for alerts already printed (and saved, with
--save), so a consumer that stops, crashes or is interrupted resumes where it
left off; run again with the same --group to get only new alerts. Several
consumers with one --group share the topic's partitions. --from applies only
to a group that has not committed yet.

Without --survey each message's framing decides: an Avro container is ZTF,
the Confluent wire format is LSST (which needs --registry).

Examples:
  alertbeam consume --timeout 10s kafka://localhost:9092/ztf_20261124_programid1
  alertbeam consume --brokers kafka.example.org:9092 --topic alerts-simulated \
      --registry https://registry.example.org --group me-test --limit 100 --save ./alerts`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			brokers := fs.String("brokers", "localhost:9092", "comma-separated Kafka `brokers`, host:port (\"embedded\" starts an empty broker in this process)")
			topic := fs.String("topic", "", "topic to read (or give a kafka://host:port/topic URL)")
			group := fs.String("group", consumer.DefaultGroup, "consumer `group`: where offsets are remembered between runs")
			from := fs.String("from", consumer.FromEarliest, "earliest or latest: where a group with no committed offsets starts")
			limit := fs.Int("limit", 0, "stop after `N` alerts (0: no limit)")
			timeout := fs.Duration("timeout", 0, "stop after this long with no new message (0: run until Ctrl-C)")
			survey := fs.String("survey", "", "ztf or lsst (default: detect each message's framing)")
			reg := fs.String("registry", "", "schema-registry `URL` for LSST wire-format alerts")
			save := fs.String("save", "", "also save each alert's packet as `DIR`/<topic>/<candid or diaSourceId>.avro")
			quiet := fs.Bool("quiet", false, "no progress line on stderr")
			sec := addSecurityFlags(fs)
			return func(ctx context.Context, e *env) error {
				set := map[string]bool{}
				fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
				addrs, t, stop, err := consumeTarget(ctx, e, *brokers, set["brokers"], *topic)
				if err != nil {
					return err
				}
				defer stop()
				opts := consumer.Options{
					Brokers: addrs, Topic: t, Group: *group, From: *from, Limit: *limit,
					Timeout: *timeout, Survey: *survey, Registry: *reg, SaveDir: *save,
					Security: sec.security(),
				}
				if !*quiet {
					opts.Progress = e.stderr
				}
				opts.Logf = func(format string, args ...any) {
					// Start a fresh line so the warning does not run into
					// the progress line.
					fmt.Fprintf(e.stderr, "\nalertbeam consume: "+format+"\n", args...)
				}
				// A closed stdout (| head) must end the run cleanly, with the
				// printed alerts committed: asking for SIGPIPE makes such a
				// write fail with EPIPE instead of killing the process.
				pipe := make(chan os.Signal, 1)
				signal.Notify(pipe, syscall.SIGPIPE)
				defer signal.Stop(pipe)

				st, err := consumer.Consume(ctx, opts, e.stdout)
				if errors.Is(err, syscall.EPIPE) {
					return nil
				}
				if err != nil && st.Alerts+st.Errors == 0 {
					return err
				}
				committed := "offsets committed for group " + opts.Group
				if err != nil {
					committed = "stopped by an error"
				}
				fmt.Fprintf(e.stderr, "%s, %s, %.1f MB from %s in %s; %s\n", consumeCount(st.Alerts, "alert"), consumeCount(st.Errors, "error"),
					float64(st.Bytes)/1e6, t, st.Elapsed.Round(10*time.Millisecond), committed)
				return err
			}
		},
	})
}

// consumeTarget settles the brokers and topic from a kafka:// URL argument
// or the flags, refusing contradictions, and resolves --brokers=embedded.
func consumeTarget(ctx context.Context, e *env, brokersFlag string, brokersSet bool, topic string) (addrs []string, t string, stop func() error, err error) {
	switch len(e.args) {
	case 0:
		if topic == "" {
			return nil, "", nil, errors.New("name a topic: --topic NAME or kafka://host:port/topic (see --help)")
		}
		addrs, stop, err = broker.Resolve(ctx, brokersFlag, broker.Options{})
		if err != nil {
			return nil, "", nil, err
		}
		if strings.TrimSpace(brokersFlag) == broker.Embedded {
			fmt.Fprintf(e.stderr, "started an embedded broker on %s; it is empty until something produces to it\n", addrs[0])
		}
		return addrs, topic, stop, nil
	case 1:
		addrs, t, err = consumer.ParseURL(e.args[0])
		if err != nil {
			return nil, "", nil, err
		}
		if brokersSet {
			return nil, "", nil, errors.New("give the brokers in the URL or with --brokers, not both")
		}
		if topic != "" && topic != t {
			return nil, "", nil, fmt.Errorf("--topic %q contradicts the URL's topic %q", topic, t)
		}
		return addrs, t, func() error { return nil }, nil
	default:
		if strings.HasPrefix(e.args[1], "-") {
			return nil, "", nil, fmt.Errorf("unexpected arguments %q: flags go before the URL", e.args[1:])
		}
		return nil, "", nil, fmt.Errorf("unexpected arguments %q: give at most one kafka:// URL", e.args[1:])
	}
}

// consumeCount is "1 alert" or "n alerts".
func consumeCount(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
