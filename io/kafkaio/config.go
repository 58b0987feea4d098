package kafkaio

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"os"
	"regexp"
	"strings"
	"time"
)

// Config is a Kafka connection. Its fields are exported so it travels inside
// DoFns to the workers.
type Config struct {
	Brokers  []string
	ClientID string
	Security Security
	// RetryTimeout is how long transient broker errors (a broker down, a
	// leader election, too few in-sync replicas, a coordinator loading) are
	// retried, with backoff, before the pipeline fails with the error
	// (default DefaultRetryTimeout). Errors no retry mends (authentication,
	// an untrusted certificate) fail at once.
	RetryTimeout time.Duration
}

// retryTimeout is RetryTimeout or its default.
func (c Config) retryTimeout() time.Duration {
	if c.RetryTimeout > 0 {
		return c.RetryTimeout
	}
	return DefaultRetryTimeout
}

// Security selects how to authenticate and encrypt. The zero value is
// PLAINTEXT. Rubin's alert stream uses SASL_SSL with SCRAM-SHA-512.
type Security struct {
	Protocol  string // PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL
	Mechanism string // PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL only)
	Username  string
	Password  string
	// CAFile is a PEM bundle to trust for SSL (default: the system roots).
	CAFile string
	// InsecureSkipVerify disables certificate checks; for tests only.
	InsecureSkipVerify bool
}

// Validate checks a connection config and says which setting to fix.
func (c Config) Validate() error {
	if c.RetryTimeout < 0 {
		return errors.New("kafkaio: negative retry timeout (--kafka-retry-timeout)")
	}
	if len(c.Brokers) == 0 {
		return errors.New("kafkaio: no brokers (set --brokers host:port[,host:port], or --brokers=embedded)")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("kafkaio: broker %q is not host:port", b)
		}
	}
	return c.Security.validate()
}

func (s Security) validate() error {
	switch strings.ToUpper(s.Protocol) {
	case "", "PLAINTEXT", "SSL":
		if s.Mechanism != "" {
			return fmt.Errorf("kafkaio: SASL mechanism %s needs protocol SASL_PLAINTEXT or SASL_SSL", s.Mechanism)
		}
	case "SASL_PLAINTEXT", "SASL_SSL":
		switch strings.ToUpper(s.Mechanism) {
		case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		case "":
			return fmt.Errorf("kafkaio: protocol %s needs a SASL mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Protocol)
		default:
			return fmt.Errorf("kafkaio: unknown SASL mechanism %q (want PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)", s.Mechanism)
		}
		if s.Username == "" {
			return fmt.Errorf("kafkaio: SASL needs a user name")
		}
	default:
		return fmt.Errorf("kafkaio: unknown security protocol %q (want PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", s.Protocol)
	}
	if s.CAFile != "" {
		if _, err := os.Stat(s.CAFile); err != nil {
			return fmt.Errorf("kafkaio: CA file: %w", err)
		}
	}
	return nil
}

// Where a read starts in partitions that exist when it starts. Partitions
// discovered later (a new night's topic) are always read from the earliest
// offset, so nothing published to them is missed.
const (
	StartEarliest  = "earliest"
	StartLatest    = "latest"
	StartCommitted = "committed" // the group's committed offset, else earliest
	StartTimestamp = "timestamp" // the first offset at or after StartTime
)

// Event-time policies built into Read. Others are added with
// RegisterEventTime.
const (
	EventTimeRecord = "record" // the Kafka record's timestamp
	EventTimeZTF    = "ztf"    // a ZTF packet's candidate.jd
	EventTimeLSST   = "lsst"   // a Rubin packet's diaSource.midpointMjdTai (TAI)
)

// ReadConfig configures Read.
type ReadConfig struct {
	Config
	// Topics to read, or TopicPattern, a regular expression matched against
	// whole topic names and re-evaluated every DiscoveryInterval.
	Topics       []string
	TopicPattern string
	// Group is the consumer group whose offsets Commit advances and
	// StartCommitted starts from.
	Group     string
	Start     string // StartEarliest (default), StartLatest, StartCommitted, StartTimestamp
	StartTime time.Time
	// Bounded reads: StopAtEnd reads up to the end offsets as they were when
	// the read started; MaxRecords caps each partition. Either makes the
	// read finish, for batch jobs and tests.
	StopAtEnd  bool
	MaxRecords int64
	// EventTime names the event-time policy (default EventTimeRecord).
	EventTime string
	// MaxDelay is how far out of event-time order records may arrive; the
	// watermark trails the newest event time by this much.
	MaxDelay time.Duration
	// IdleAdvance lets an idle, caught-up partition move its watermark to
	// wall-clock time minus MaxDelay, so windows close on a quiet stream
	// (Beam Java's policy). Off for replays of old data.
	IdleAdvance bool
	// Polling: how long one read call waits for a first record (short: a
	// runner may run several partitions' reads one after the other in one
	// bundle, and an idle partition's wait delays the others), how long it
	// waits before polling an idle partition again, how often topics are
	// re-discovered, and the most records one call emits before it
	// checkpoints (bounding bundle size). A call also checkpoints as soon
	// as no more records are buffered, so alerts move on without waiting.
	PollTimeout       time.Duration
	IdleResume        time.Duration
	DiscoveryInterval time.Duration
	BatchRecords      int
	// Shards, above 1, makes this read one of that many over the same
	// topics: it reads only the partitions whose number modulo Shards is
	// Shard. prism puts every partition's read in one bundle, whose
	// records are then handled one after another; shards are separate
	// reads, each fused with what follows it, and run side by side. See
	// Sharded.
	Shards, Shard int
}

func (c ReadConfig) withDefaults() ReadConfig {
	c.Start = cmp.Or(c.Start, StartEarliest)
	c.EventTime = cmp.Or(c.EventTime, EventTimeRecord)
	c.MaxDelay = cmp.Or(c.MaxDelay, 5*time.Second)
	c.PollTimeout = cmp.Or(c.PollTimeout, 100*time.Millisecond)
	c.IdleResume = cmp.Or(c.IdleResume, 50*time.Millisecond)
	c.DiscoveryInterval = cmp.Or(c.DiscoveryInterval, 10*time.Second)
	c.BatchRecords = cmp.Or(c.BatchRecords, 500)
	return c
}

// Validate checks a read config and says which setting to fix.
func (c ReadConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if len(c.Topics) == 0 && c.TopicPattern == "" {
		return errors.New("kafkaio: name topics to read (--topic) or a pattern (--topic-pattern)")
	}
	if len(c.Topics) > 0 && c.TopicPattern != "" {
		return errors.New("kafkaio: set topics or a topic pattern, not both")
	}
	if c.TopicPattern != "" {
		if _, err := regexp.Compile(c.TopicPattern); err != nil {
			return fmt.Errorf("kafkaio: topic pattern: %w", err)
		}
	}
	switch c.Start {
	case "", StartEarliest, StartLatest:
	case StartCommitted:
		if c.Group == "" {
			return errors.New("kafkaio: starting from committed offsets needs a consumer group (--group)")
		}
	case StartTimestamp:
		if c.StartTime.IsZero() {
			return errors.New("kafkaio: starting from a timestamp needs the time (--from-time)")
		}
	default:
		return fmt.Errorf("kafkaio: unknown start %q (want earliest, latest, committed or timestamp)", c.Start)
	}
	if c.MaxRecords < 0 || c.MaxDelay < 0 || c.BatchRecords < 0 {
		return errors.New("kafkaio: negative limits")
	}
	if c.Shards < 0 || c.Shard < 0 || c.Shard >= max(c.Shards, 1) {
		return fmt.Errorf("kafkaio: shard %d of %d: want 0 <= shard < shards", c.Shard, c.Shards)
	}
	if c.EventTime != "" && c.EventTime != EventTimeRecord {
		if _, ok := lookupEventTime(c.EventTime); !ok {
			return fmt.Errorf("kafkaio: unknown event-time policy %q (registered: %s)", c.EventTime, strings.Join(eventTimeNames(), ", "))
		}
	}
	return nil
}

// Sharded returns n configs that together read what c reads, each the
// partitions whose number modulo n is its Shard; n below 2 returns c alone.
func (c ReadConfig) Sharded(n int) []ReadConfig {
	if n < 2 {
		return []ReadConfig{c}
	}
	out := make([]ReadConfig, n)
	for i := range out {
		out[i] = c
		out[i].Shards, out[i].Shard = n, i
	}
	return out
}

// Bounded reports whether the read finishes by itself.
func (c ReadConfig) Bounded() bool { return c.StopAtEnd || c.MaxRecords > 0 }

// WriteConfig configures Write.
type WriteConfig struct {
	Config
	// Compression: none, gzip, snappy, lz4 or zstd (default none: cutouts
	// are already gzipped FITS).
	Compression string
	// Topics created on demand get these settings. Replication 0 (or -1)
	// takes the cluster's default.replication.factor (Kafka 2.4+), so a
	// three-broker cluster configured for RF 3 gets RF 3.
	Partitions  int32
	Replication int16
	Retention   time.Duration // 0: the broker's default
	// MaxMessageBytes bounds one message and one produced batch (default
	// 1,000,000 bytes, Kafka's own default, so stock brokers accept our
	// batches; alerts are at most ~150 KB). Topics we create get it as
	// max.message.bytes.
	MaxMessageBytes int
	// Idempotent enables the idempotent producer (default true; disable only
	// for brokers that lack it).
	DisableIdempotence bool
}

func (c WriteConfig) withDefaults() WriteConfig {
	c.Compression = cmp.Or(c.Compression, "none")
	c.Partitions = cmp.Or(c.Partitions, 16)
	c.Replication = cmp.Or(c.Replication, -1)
	c.MaxMessageBytes = cmp.Or(c.MaxMessageBytes, 1000000)
	return c
}

// CheckCompression checks a WriteConfig.Compression name, for flags that
// take one before any broker is known.
func CheckCompression(name string) error {
	switch name {
	case "", "none", "gzip", "snappy", "lz4", "zstd":
		return nil
	}
	return fmt.Errorf("kafkaio: unknown compression %q (want none, gzip, snappy, lz4 or zstd)", name)
}

// Validate checks a write config.
func (c WriteConfig) Validate() error {
	if err := c.Config.Validate(); err != nil {
		return err
	}
	if err := CheckCompression(c.Compression); err != nil {
		return err
	}
	if c.Partitions < 0 || c.Replication < -1 || c.Retention < 0 {
		return errors.New("kafkaio: negative topic settings")
	}
	return nil
}
