package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/alertbeam/alertbeam/io/broker"
)

func init() {
	register(&command{
		name:    "broker",
		summary: "run an embedded Kafka broker for demos and local pipelines",
		usage: `

Runs a single-node Kafka-protocol broker (franz-go's kfake) in this process
until interrupted. Any Kafka client can use it: point alertbeam's --brokers
(or kcat, or a Python consumer) at the address it prints. Topics are created
on first use with --partitions partitions.

Without --data-dir everything is kept in memory and lost on exit. With it,
topics, records and committed consumer-group offsets are saved there and
reloaded by the next 'alertbeam broker --data-dir' on the same directory.

Pipeline commands can start their own broker instead with --brokers=embedded;
run this command when several processes must share one.

Examples:
  alertbeam broker
  alertbeam broker --addr 127.0.0.1:19092 --data-dir /tmp/alertbeam-kafka \
      --topics ztf_20261123_programid1,alertbeam-deadletter:1`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			addr := fs.String("addr", "127.0.0.1:9092", "`host:port` to listen on (port 0 picks a free one)")
			dataDir := fs.String("data-dir", "", "`directory` to persist topics, records and offsets in (default: memory only, lost on exit)")
			partitions := fs.Int("partitions", broker.DefaultPartitions, "partitions of topics created without a count")
			topics := fs.String("topics", "", "comma-separated topics to create at start, each `name[:partitions]`")
			return func(ctx context.Context, e *env) error {
				if len(e.args) > 0 {
					return fmt.Errorf("unexpected arguments %q (see --help)", e.args)
				}
				if *partitions < 1 || *partitions > 1<<20 {
					return fmt.Errorf("--partitions %d: must be from 1 to %d", *partitions, 1<<20)
				}
				ts, err := parseTopics(*topics)
				if err != nil {
					return err
				}
				// kfake logs from its own goroutines.
				var mu sync.Mutex
				b, err := broker.Start(broker.Options{
					Addr:       *addr,
					DataDir:    *dataDir,
					Partitions: int32(*partitions),
					Topics:     ts,
					Logf: func(format string, args ...any) {
						mu.Lock()
						defer mu.Unlock()
						fmt.Fprintf(e.stderr, format+"\n", args...)
					},
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "embedded Kafka broker listening on %s; Ctrl-C to stop\n", b.Addr())
				if *dataDir != "" {
					fmt.Fprintf(e.stdout, "data persisted in %s\n", *dataDir)
				} else {
					fmt.Fprintln(e.stdout, "data kept in memory only (--data-dir to persist)")
				}
				<-ctx.Done()
				if err := b.Close(); err != nil {
					return err
				}
				fmt.Fprintln(e.stdout, "embedded Kafka broker stopped")
				return nil
			}
		},
	})
}

// parseTopics reads --topics: "a,b:4" creates a with the default partition
// count and b with 4. Kafka topic names cannot contain ':', so the suffix is
// unambiguous.
func parseTopics(s string) (map[string]int32, error) {
	out := map[string]int32{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		name, count, hasCount := strings.Cut(item, ":")
		if !validTopic(name) {
			return nil, fmt.Errorf("--topics: %q is not a topic name (letters, digits, '.', '_', '-'; at most 249)", name)
		}
		n := 0 // the broker's default
		if hasCount {
			v, err := strconv.Atoi(count)
			if err != nil || v < 1 || v > 1<<20 {
				return nil, fmt.Errorf("--topics: %q: partitions must be a number from 1 to %d", item, 1<<20)
			}
			n = v
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("--topics: %q named twice", name)
		}
		out[name] = int32(n)
	}
	return out, nil
}

// validTopic applies Kafka's rule for topic names, so a typo fails here
// with a clear message rather than as a broker error code.
func validTopic(name string) bool {
	if name == "" || len(name) > 249 || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-'
		if !ok {
			return false
		}
	}
	return true
}
