package archive

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window/trigger"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/state"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/schemas"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*tempFile)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*batch)(nil)).Elem())
}

// Stage names the archive in dead letters.
const Stage = "archive"

// Defaults of Config.
const (
	DefaultMaxFileRecords  = 10000
	DefaultMaxFileBytes    = 256 << 20
	DefaultWindow          = 30 * time.Second
	DefaultAllowedLateness = 24 * time.Hour
)

// Config configures Write.
type Config struct {
	// Root is a local directory or gs://bucket/prefix.
	Root string
	// Survey is "ztf" or "lsst".
	Survey string
	// Registry is the schema registry URL, needed for LSST.
	Registry string
	// Codec compresses blocks: null, deflate, snappy or zstd (DefaultCodec).
	Codec string
	// MaxFileRecords and MaxFileBytes roll files (defaults
	// DefaultMaxFileRecords, DefaultMaxFileBytes).
	MaxFileRecords int
	MaxFileBytes   int64
	// Window is the event-time window after which the records received so
	// far are committed, so a stream closes files during the night
	// (DefaultWindow). Event time is the records' element timestamps.
	// Offsets commit only once records are in final files, so this also
	// bounds what a restart delivers again to the pipeline's other sinks:
	// 30 s by default, against a few thousand files a night (each commit
	// reads only the headers of files it has not seen).
	Window time.Duration
	// AllowedLateness keeps a window open for records that arrive behind
	// the watermark; each late record is committed on its own firing
	// (DefaultAllowedLateness). Later records are dropped by the runner,
	// never acknowledged, and so read again after a restart.
	AllowedLateness time.Duration
	// DeadLetterTopic receives records that cannot be archived
	// (deadletter.DefaultTopic).
	DeadLetterTopic string
	// Units each ack and dead letter acknowledges its source with
	// (kafkaio.Commit); default 1.
	Units int
	// RetryTimeout is how long a GCS request is retried, with backoff,
	// while the store does not answer or answers 429/5xx
	// (DefaultRetryTimeout). The bundle waits meanwhile, so nothing is
	// acknowledged and offsets do not advance; then the job fails with
	// the last error. Local disks are not retried.
	RetryTimeout time.Duration
}

// DefaultRetryTimeout rides out a storage endpoint's restart or a short
// network outage, as kafkaio.DefaultRetryTimeout does for brokers.
const DefaultRetryTimeout = 5 * time.Minute

func (c Config) withDefaults() Config {
	c.Codec = cmp.Or(c.Codec, DefaultCodec)
	c.MaxFileRecords = cmp.Or(c.MaxFileRecords, DefaultMaxFileRecords)
	c.MaxFileBytes = cmp.Or(c.MaxFileBytes, DefaultMaxFileBytes)
	c.Window = cmp.Or(c.Window, DefaultWindow)
	c.AllowedLateness = cmp.Or(c.AllowedLateness, DefaultAllowedLateness)
	deadletter.Defaults(&c.DeadLetterTopic, &c.Units)
	c.RetryTimeout = cmp.Or(c.RetryTimeout, DefaultRetryTimeout)
	return c
}

// Validate reports the first problem with c, after defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Root == "":
		return errors.New("archive: Root is empty (want a directory or gs://bucket/prefix)")
	case c.Survey != schemas.ZTF && c.Survey != schemas.LSST:
		return fmt.Errorf("archive: unknown survey %q (want ztf or lsst)", c.Survey)
	case c.Survey == schemas.LSST && c.Registry == "":
		return errors.New("archive: LSST needs a schema registry URL")
	case c.MaxFileRecords < 1 || c.MaxFileBytes < 1:
		return fmt.Errorf("archive: MaxFileRecords %d and MaxFileBytes %d must be positive", c.MaxFileRecords, c.MaxFileBytes)
	case c.Window < time.Millisecond || c.AllowedLateness < 0:
		return fmt.Errorf("archive: Window %v must be at least 1ms and AllowedLateness %v not negative", c.Window, c.AllowedLateness)
	case c.Units < 1:
		return fmt.Errorf("archive: Units %d must be positive", c.Units)
	}
	if _, err := newCompressor(c.Codec); err != nil {
		return err
	}
	return checkRoot(c.Root)
}

// Outputs are what Write produces.
type Outputs struct {
	// Acks (kafkaio.Ack) acknowledge each record with a Kafka source once
	// it is in a final file (or was found there already), for
	// kafkaio.Commit.
	Acks beam.PCollection
	// Dead (kafkaio.Message) are dead letters for records that cannot be
	// archived: undecodable, or with an implausible time or program.
	Dead beam.PCollection
}

// Write archives records (kafkaio.Record, values as they arrived on Kafka)
// into per-night Avro files under cfg.Root, exactly once per alert id. See
// the package documentation for the layout and the protocol. Records may
// come in several collections, such as the shards of a sharded read
// (kafkaio.ReadConfig.Shards): each is staged into temporary files in its
// own fused stage, next to the read that produced it, and one commit step
// gathers them all, so the archive holds each alert once whichever shard
// read it. It panics on an invalid cfg.
func Write(s beam.Scope, cfg Config, shards ...beam.PCollection) Outputs {
	s = s.Scope("archive.Write")
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if len(shards) == 0 {
		panic("archive: nothing to write")
	}
	fixed := window.NewFixedWindows(cfg.Window)
	var temps, dead []beam.PCollection
	for _, recs := range shards {
		// Windowing the records themselves is a fused, element-local
		// step: it tells each bundle which window a record belongs to,
		// so temporary files never straddle windows.
		windowed := beam.WindowInto(s, fixed, recs)
		t, d := beam.ParDo2(s, &writeFn{Cfg: cfg}, windowed)
		// The files are described in FinishBundle, in no window: they
		// are put back in their own, still in the shard's stage.
		t = beam.WindowInto(s, fixed, t,
			beam.Trigger(trigger.AfterEndOfWindow().LateFiring(trigger.Always())),
			beam.AllowedLateness(cfg.AllowedLateness),
			beam.PanesDiscard())
		temps, dead = append(temps, t), append(dead, d)
	}

	// From here on only small descriptions of temporary files move.
	grouped := beam.GroupByKey(s, beam.ParDo(s, keyTemp, flatten(s, temps)))
	batches := beam.ParDo(s, toBatch, grouped)
	// Commits of one group run one at a time: the commit DoFn is stateful,
	// and runners process a key's elements serially. Global window, so all
	// windows of a group share that key.
	batches = beam.WindowInto(s, window.NewGlobalWindows(), batches)
	acks := beam.ParDo(s, &commitFn{Cfg: cfg, Files: state.MakeValueState[int64]("files")}, batches)
	return Outputs{Acks: acks, Dead: flatten(s, dead)}
}

// flatten is beam.Flatten, or the one collection itself: a Flatten is a
// fusion break on prism, which a single shard does not need.
func flatten(s beam.Scope, cols []beam.PCollection) beam.PCollection {
	if len(cols) == 1 {
		return cols[0]
	}
	return beam.Flatten(s, cols...)
}
