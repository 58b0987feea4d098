package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/runners"
)

// securityFlags are the Kafka connection settings every Kafka subcommand
// takes: security and how long to ride out a broker outage. Rubin's
// stream: --security-protocol SASL_SSL --sasl-mechanism SCRAM-SHA-512
// --username USER (password from $ALERTBEAM_KAFKA_PASSWORD).
type securityFlags struct {
	protocol, mechanism, username, password, caFile *string
	retryTimeout                                    *time.Duration
	replication                                     *int
	compression                                     *string
}

func addSecurityFlags(fs *flag.FlagSet) *securityFlags {
	return &securityFlags{
		protocol:  fs.String("security-protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
		mechanism: fs.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)"),
		username:  fs.String("username", "", "SASL user name"),
		password:  fs.String("password", "", "SASL password (default: $ALERTBEAM_KAFKA_PASSWORD; flags show in process lists)"),
		caFile:    fs.String("ca-file", "", "PEM file of CAs to trust for SSL (default: the system's)"),
		retryTimeout: fs.Duration("kafka-retry-timeout", kafkaio.DefaultRetryTimeout,
			"how long to retry transient broker errors (a broker restarting, a leader election, too few in-sync\nreplicas) before failing; authentication and certificate errors fail at once"),
		replication: fs.Int("replication-factor", -1, "replication factor of topics this command creates (-1: the cluster's default.replication.factor)"),
		compression: fs.String("compression", "none", "compression of the batches this command produces: none, gzip, snappy, lz4 or zstd. Consumers\n"+
			"decompress transparently and get the same bytes; lz4 cut a ZTF night's output by 31% at no throughput\n"+
			"cost measured on 2 cores, zstd by 38% at half the throughput (README, Performance)"),
	}
}

// config is the connection to brokers addrs with these settings.
func (f *securityFlags) config(addrs []string) kafkaio.Config {
	return kafkaio.Config{Brokers: addrs, Security: f.security(), RetryTimeout: *f.retryTimeout}
}

// write is the configuration of topics this command writes: created with
// partitions and the chosen replication, producers acks=all and idempotent.
func (f *securityFlags) write(addrs []string, partitions int) kafkaio.WriteConfig {
	return kafkaio.WriteConfig{Config: f.config(addrs), Partitions: int32(partitions), Replication: int16(*f.replication), Compression: *f.compression}
}

// connect resolves brokers (starting an embedded one for "embedded") and
// checks the connection with these settings; stop releases what it started.
func (f *securityFlags) connect(ctx context.Context, brokers string) (conn kafkaio.Config, stop func() error, err error) {
	addrs, stop, err := broker.Resolve(ctx, brokers, broker.Options{})
	if err != nil {
		return kafkaio.Config{}, nil, err
	}
	conn = f.config(addrs)
	if err := f.check(ctx, conn); err != nil {
		_ = stop()
		return kafkaio.Config{}, nil, err
	}
	return conn, stop, nil
}

// openWrite is connect for a command that writes: the configuration of the
// topics it writes, with partitions each.
func (f *securityFlags) openWrite(ctx context.Context, brokers string, partitions int) (kafkaio.WriteConfig, func() error, error) {
	conn, stop, err := f.connect(ctx, brokers)
	if err != nil {
		return kafkaio.WriteConfig{}, nil, err
	}
	w := f.write(conn.Brokers, partitions)
	return w, stop, nil
}

// check refuses, before a pipeline starts, a connection that cannot work
// (an untrusted or expired certificate, a wrong password), in one line that
// names the flag to look at. Brokers that do not answer yet pass: the
// pipeline retries them.
func (f *securityFlags) check(ctx context.Context, conn kafkaio.Config) error {
	err := kafkaio.Check(ctx, conn)
	if err == nil {
		return nil
	}
	var (
		unknown x509.UnknownAuthorityError
		invalid x509.CertificateInvalidError
		host    x509.HostnameError
	)
	switch {
	case errors.As(err, &unknown):
		return fmt.Errorf("%w (--ca-file must name the CA that signed the brokers' certificates)", err)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%w (the brokers' certificate has expired: it must be renewed on the brokers)", err)
	case errors.As(err, &host):
		return fmt.Errorf("%w (connect by a name the brokers' certificate was issued for)", err)
	case errors.Is(err, sarama.ErrSASLAuthenticationFailed):
		return fmt.Errorf("%w (check --username, --sasl-mechanism and the password: --password or $ALERTBEAM_KAFKA_PASSWORD)", err)
	}
	return err
}

func (f *securityFlags) security() kafkaio.Security {
	pw := *f.password
	if pw == "" {
		pw = os.Getenv("ALERTBEAM_KAFKA_PASSWORD")
	}
	s := kafkaio.Security{Protocol: *f.protocol, Mechanism: *f.mechanism, Username: *f.username, Password: pw, CAFile: *f.caFile}
	if s.Protocol == "PLAINTEXT" {
		s.Protocol = ""
	}
	return s
}

// streamFlags are the flags of a command that reads a stream: where the
// brokers are, what to read, as which group, from where, how securely.
type streamFlags struct {
	brokers, topic, pattern, group, from *string
	stopAtEnd                            *bool
	metricsAddr                          *string
	sec                                  *securityFlags
}

func addStreamFlags(fs *flag.FlagSet, defaultGroup, what string) *streamFlags {
	return &streamFlags{
		brokers:   fs.String("brokers", "localhost:9092", "Kafka `brokers`, host:port[,host:port] (\"embedded\" starts one in this process)"),
		topic:     fs.String("topic", "", what+" topic(s) to read, comma-separated"),
		pattern:   fs.String("topic-pattern", "", "read every topic matching this regular expression instead (new ones are picked up)"),
		group:     fs.String("group", defaultGroup, "consumer group whose offsets record progress"),
		from:      fs.String("from", kafkaio.StartCommitted, "where to start: committed (else earliest), earliest or latest"),
		stopAtEnd: fs.Bool("stop-at-end", false, "stop at the end of the stream as it is at start (a batch run)"),
		metricsAddr: fs.String("metrics-addr", "", "serve Prometheus metrics at http://`host:port`/metrics while the pipeline runs\n"+
			"(records read and lag per partition, messages written per topic, dead letters by stage, each filter's\n"+
			"verdicts, QA drops by reason, committed offsets, archive files, records and bytes, histograms of the\n"+
			"latency from the Kafka timestamp to the output and of the time per alert per stage; see the README),\n"+
			"and a status page at http://host:port/. Direct runner only: on Dataflow and Flink the same numbers\n"+
			"are Beam metrics (namespace alertbeam) in the runner's monitoring"),
		sec: addSecurityFlags(fs),
	}
}

// open resolves the brokers (starting an embedded one if asked) and returns
// the connection and the read configuration; stop releases what it started.
func (f *streamFlags) open(ctx context.Context) (kafkaio.Config, kafkaio.ReadConfig, func() error, error) {
	if *f.topic == "" && *f.pattern == "" {
		return kafkaio.Config{}, kafkaio.ReadConfig{}, nil, errors.New("name the stream to read with --topic or --topic-pattern")
	}
	conn, stop, err := f.sec.connect(ctx, *f.brokers)
	if err != nil {
		return kafkaio.Config{}, kafkaio.ReadConfig{}, nil, err
	}
	if *f.metricsAddr != "" {
		bound, stopMetrics, err := metrics.Serve(*f.metricsAddr)
		if err != nil {
			_ = stop()
			return kafkaio.Config{}, kafkaio.ReadConfig{}, nil, err
		}
		fmt.Fprintf(os.Stderr, "metrics on http://%s/metrics\n", bound)
		stopBroker := stop
		stop = func() error { return errors.Join(stopMetrics(), stopBroker()) }
	}
	var topics []string
	if *f.topic != "" {
		topics = strings.Split(*f.topic, ",")
	}
	// A streaming read of record-timed data moves an idle, caught-up
	// partition's watermark with the clock, so windows (the archive's
	// files, QA's exposures) close when the stream goes quiet, not at the
	// next alert.
	return conn, kafkaio.ReadConfig{Config: conn, Topics: topics, TopicPattern: *f.pattern, Group: *f.group,
		Start: *f.from, StopAtEnd: *f.stopAtEnd, IdleAdvance: !*f.stopAtEnd}, stop, nil
}

// source describes what is read, for progress messages.
func (f *streamFlags) source() string { return *f.topic + *f.pattern }

// defaultShards is how many reads a pipeline's ingest read is split into
// when --shards is not given (pipelines.DistributeConfig.Shards): one per
// core, at least two and at most eight. Measured on 2 cores: see the
// README's performance section.
func defaultShards() int { return min(max(runtime.NumCPU(), 2), 8) }

// addShardsFlag adds --shards.
func addShardsFlag(fs *flag.FlagSet) *int {
	return fs.Int("shards", 0, "split the read into this many (partition p goes to shard p mod N), each with its own\n"+
		"filters, archive staging and writers: the direct runner runs shards side by side, and a read's\n"+
		"partitions one after another. 0: on the direct runner one per core (2 to 8); 1 on Flink and\n"+
		"Dataflow, which split reads themselves, and where the pipeline needs the whole stream in one\n"+
		"read (QA, a per-visit cap, live definitions)")
}

// shardsFor resolves --shards: n when given; else the default on the
// in-process runner, and 1 where the pipeline needs one read or the runner
// splits reads itself (Flink, Dataflow: their job graphs stay as before).
func shardsFor(n int, oneRead bool) int {
	switch {
	case n != 0:
		return n
	case oneRead || !runners.InProcess():
		return 1
	}
	return defaultShards()
}
