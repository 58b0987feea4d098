package fanout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	register.DoFn3x1[context.Context, kafkaio.Record, func(kafkaio.Message), error](&routeFn{})
	register.Emitter1[kafkaio.Message]()
}

// Stage names this transform in dead letters.
const Stage = "fanout"

// Config configures Route.
type Config struct {
	Survey   string // "ztf" or "lsst"
	Registry string // schema registry URL (LSST)
	// DeadLetterTopic receives what cannot be routed (default
	// deadletter.DefaultTopic).
	DeadLetterTopic string
	// Units each message acknowledges its source with (see kafkaio.Commit).
	Units int
}

// Route turns records into messages for their night's topic, keeping the
// exact bytes and headers, keyed by the alert id so partitions fill evenly.
// Records that do not decode, or whose time or program is implausible, become
// dead-letter messages. Only what routing needs is decoded (id, time,
// program), never the whole packet.
func Route(s beam.Scope, cfg Config, recs beam.PCollection) beam.PCollection {
	s = s.Scope("fanout.Route")
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	return beam.ParDo(s, &routeFn{Cfg: cfg}, recs)
}

func (c Config) withDefaults() Config {
	deadletter.Defaults(&c.DeadLetterTopic, &c.Units)
	return c
}

// Validate reports the first problem with c, after defaults: Route panics
// with it, so a caller that wants an error calls Validate first.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Survey != schemas.ZTF && c.Survey != schemas.LSST:
		return fmt.Errorf("fanout: unknown survey %q (want ztf or lsst)", c.Survey)
	case c.Survey == schemas.LSST && c.Registry == "":
		return errors.New("fanout: LSST needs a schema registry URL")
	case c.Units < 0:
		return fmt.Errorf("fanout: Units must be positive, got %d", c.Units)
	}
	return nil
}

type routeFn struct {
	Cfg Config

	codec  *framing.Codec
	routed beam.Counter
	dead   beam.Counter
	timer  metrics.Timer
}

func (fn *routeFn) Setup() error {
	c, err := framing.Open(fn.Cfg.Survey, fn.Cfg.Registry)
	if err != nil {
		return err
	}
	fn.codec = c
	fn.routed = beam.NewCounter("alertbeam", "fanout_routed")
	fn.dead = beam.NewCounter("alertbeam", "fanout_deadletter")
	fn.timer = metrics.NewTimer(metrics.StageFanout)
	return nil
}

func (fn *routeFn) ProcessElement(ctx context.Context, r kafkaio.Record, emit func(kafkaio.Message)) error {
	defer fn.timer.Done(ctx, time.Now())
	id, err := fn.identify(ctx, r.Value)
	if err != nil {
		if !framing.BadInput(err) && !errors.Is(err, alert.ErrImplausible) {
			// Not the record's fault (the registry is unreachable): fail the
			// bundle rather than dead-letter good data.
			return fmt.Errorf("fanout: %s: %w", r.Source, err)
		}
		fn.dead.Inc(ctx, 1)
		emit(deadletter.New(r, Stage, err).Message(fn.Cfg.DeadLetterTopic, fn.Cfg.Units))
		return nil
	}
	fn.routed.Inc(ctx, 1)
	emit(kafkaio.Message{Topic: id.Topic(), Key: []byte(strconv.FormatInt(id.ID, 10)), Value: r.Value,
		Headers: r.Headers, Source: r.Source, Units: fn.Cfg.Units, SourceTime: r.Timestamp, Output: metrics.OutputNight})
	return nil
}

// identify unframes a message and decodes its identity, retrying what is
// not the message's fault (registry lookups) a few times, since prism fails
// the whole job on a bundle error.
func (fn *routeFn) identify(ctx context.Context, msg []byte) (alert.Identity, error) {
	d, err := framing.Retry(ctx, func() (framing.Datum, error) { return fn.codec.Unframe(ctx, msg) })
	if err != nil {
		return alert.Identity{}, err
	}
	return alert.Identify(fn.codec, d.Writer, d.Bytes)
}
