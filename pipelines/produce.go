package pipelines

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/discard"
)

func init() {
	register.Function2x0(stampStart)
	register.Emitter1[int64]()
	register.DoFn4x2[context.Context, *sdf.LockRTracker, int64, func(kafkaio.Message), sdf.ProcessContinuation, error](&visitsFn{})
	register.DoFn3x1[context.Context, string, func(kafkaio.Message), error](&fileFn{})
	beam.RegisterType(reflect.TypeOf((*NightSpec)(nil)).Elem())
}

// NightSpec is a simulated night in a form that travels inside DoFns
// (sim.Config holds interfaces, which do not serialise).
type NightSpec struct {
	Survey         string
	Seed           int64
	Night          time.Time
	Visits         int
	AlertsPerVisit int
	Cadence        time.Duration
	NoCutouts      bool
	Spike          [2]int // visit, factor; factor 0 = none
	Bleed          [2]int // visit, n
	Streak         [2]int // visit, n
}

// SpecOf captures a generator configuration.
func SpecOf(c sim.Config) NightSpec {
	n := NightSpec{Survey: c.Survey, Seed: c.Seed, Night: c.Night, Visits: c.Visits, AlertsPerVisit: c.AlertsPerVisit,
		Cadence: c.Cadence, NoCutouts: c.NoCutouts}
	for _, a := range c.Artefacts {
		switch a := a.(type) {
		case sim.RateSpike:
			n.Spike = [2]int{a.Visit, a.Factor}
		case sim.BleedTrail:
			n.Bleed = [2]int{a.Visit, a.N}
		case sim.Streak:
			n.Streak = [2]int{a.Visit, a.N}
		}
	}
	return n
}

// Config rebuilds the generator configuration.
func (n NightSpec) Config() sim.Config {
	c := sim.Defaults(n.Survey)
	c.Seed, c.Night, c.Visits, c.AlertsPerVisit, c.Cadence, c.NoCutouts = n.Seed, n.Night, n.Visits, n.AlertsPerVisit, n.Cadence, n.NoCutouts
	if n.Spike[1] > 0 {
		c.Artefacts = append(c.Artefacts, sim.RateSpike{Visit: n.Spike[0], Factor: n.Spike[1]})
	}
	if n.Bleed[1] > 0 {
		c.Artefacts = append(c.Artefacts, sim.BleedTrail{Visit: n.Bleed[0], N: n.Bleed[1]})
	}
	if n.Streak[1] > 0 {
		c.Artefacts = append(c.Artefacts, sim.Streak{Visit: n.Streak[0], N: n.Streak[1]})
	}
	return c
}

// ProduceConfig configures Produce.
type ProduceConfig struct {
	Night NightSpec
	Topic string
	Write kafkaio.WriteConfig
	// Speed is a multiple of real time (1 = visits at the survey's cadence);
	// 0 publishes as fast as possible.
	Speed float64
}

// Produce is TryProduce that panics where it would return an error.
func Produce(s beam.Scope, cfg ProduceConfig) beam.PCollection { return must(TryProduce(s, cfg)) }

// TryProduce publishes a simulated night to Topic, visit by visit at the
// night's cadence scaled by Speed, framed as the survey frames it (one-record
// container files for ZTF, the Confluent wire format with Rubin's schema id
// for LSST). It returns the broker's acknowledgements.
func TryProduce(s beam.Scope, cfg ProduceConfig) (beam.PCollection, error) {
	s = s.Scope("Produce")
	if cfg.Topic == "" {
		return beam.PCollection{}, errors.New("pipelines: produce needs a topic (--topic)")
	}
	if cfg.Speed < 0 {
		return beam.PCollection{}, fmt.Errorf("pipelines: --speed must be 0 (as fast as possible) or positive, got %v", cfg.Speed)
	}
	if err := cfg.Night.Config().Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if err := cfg.Write.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	start := beam.ParDo(s, stampStart, beam.Impulse(s))
	msgs := beam.ParDo(s, &visitsFn{Night: cfg.Night, Topic: cfg.Topic, Speed: cfg.Speed}, start)
	acks := kafkaio.Write(s, cfg.Write, msgs)
	discard.All(s, acks) // so the write's stage has an output (see package discard)
	return acks, nil
}

// stampStart fixes when the night starts, once, so checkpoints keep the
// cadence.
func stampStart(_ []byte, emit func(int64)) { emit(time.Now().UnixMilli()) }

// visitsFn emits the night's visits over a restriction of visit indices,
// waiting (self-checkpointing) until each visit is due.
type visitsFn struct {
	Night NightSpec
	Topic string
	Speed float64

	gen   *sim.Generator
	codec *framing.Codec
}

func (fn *visitsFn) Setup() error {
	g, err := sim.New(fn.Night.Config())
	if err != nil {
		return err
	}
	c, err := framing.New(fn.Night.Survey, nil)
	if err != nil {
		return err
	}
	fn.gen, fn.codec = g, c
	return nil
}

func (fn *visitsFn) CreateInitialRestriction(_ int64) offsetrange.Restriction {
	return offsetrange.Restriction{Start: 0, End: int64(fn.Night.Config().Visits)}
}

func (fn *visitsFn) SplitRestriction(_ int64, r offsetrange.Restriction) []offsetrange.Restriction {
	return []offsetrange.Restriction{r}
}

func (fn *visitsFn) RestrictionSize(_ int64, r offsetrange.Restriction) float64 { return r.Size() }

func (fn *visitsFn) CreateTracker(r offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(r))
}

func (fn *visitsFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, startMs int64, emit func(kafkaio.Message)) (sdf.ProcessContinuation, error) {
	r := rt.GetRestriction().(offsetrange.Restriction)
	for i := r.Start; i < r.End; i++ {
		if kafkaio.Draining() {
			// Stopping: the visits not yet published are left out.
			return sdf.StopProcessing(), nil
		}
		if fn.Speed > 0 {
			offset := time.Duration(float64(fn.gen.VisitTime(int(i)).Sub(fn.gen.VisitTime(0))) / fn.Speed)
			if wait := time.Until(time.UnixMilli(startMs).Add(offset)); wait > 0 {
				// Wake at least every second, so a stop is seen soon.
				return sdf.ResumeProcessingIn(min(wait, time.Second)), nil
			}
		}
		if !rt.TryClaim(i) {
			return sdf.StopProcessing(), nil
		}
		for _, a := range fn.gen.Visit(int(i)) {
			v, id := a.Packet()
			msg, err := fn.codec.Encode(v)
			if err != nil {
				return sdf.StopProcessing(), err
			}
			emit(kafkaio.Message{Topic: fn.Topic, Key: []byte(strconv.FormatInt(id, 10)), Value: msg})
		}
		if i+1 < r.End {
			// One visit per bundle: it reaches the broker as a burst, like
			// a real exposure, before the next is generated.
			return sdf.ResumeProcessingIn(0), nil
		}
	}
	return sdf.StopProcessing(), nil
}

// ProduceFilesConfig configures ProduceFiles.
type ProduceFilesConfig struct {
	// Paths are the packet files, published in this order.
	Paths  []string
	Survey string
	Topic  string
	Write  kafkaio.WriteConfig
}

// ProduceFiles is TryProduceFiles that panics where it would return an
// error.
func ProduceFiles(s beam.Scope, cfg ProduceFilesConfig) beam.PCollection {
	return must(TryProduceFiles(s, cfg))
}

// TryProduceFiles publishes existing packet files to Topic: ZTF files
// (one-record container files) as they are; LSST container files (like
// Rubin's samples) re-framed as the wire format with the Rubin schema id
// of their writer schema, which must be a version alertbeam ships. It
// returns the broker's acknowledgements.
func TryProduceFiles(s beam.Scope, cfg ProduceFilesConfig) (beam.PCollection, error) {
	s = s.Scope("ProduceFiles")
	switch {
	case len(cfg.Paths) == 0:
		return beam.PCollection{}, errors.New("pipelines: no files to produce")
	case cfg.Survey != schemas.ZTF && cfg.Survey != schemas.LSST:
		return beam.PCollection{}, fmt.Errorf("pipelines: unknown survey %q", cfg.Survey)
	case cfg.Topic == "":
		return beam.PCollection{}, errors.New("pipelines: produce needs a topic (--topic)")
	}
	for _, p := range cfg.Paths {
		if _, err := os.Stat(p); err != nil {
			return beam.PCollection{}, err
		}
	}
	msgs := beam.ParDo(s, &fileFn{Survey: cfg.Survey, Topic: cfg.Topic}, beam.CreateList(s, cfg.Paths))
	acks := kafkaio.Write(s, cfg.Write, msgs)
	discard.All(s, acks) // so the write's stage has an output (see package discard)
	return acks, nil
}

type fileFn struct {
	Survey string
	Topic  string
}

func (fn *fileFn) ProcessElement(_ context.Context, path string, emit func(kafkaio.Message)) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if fn.Survey == schemas.ZTF {
		emit(kafkaio.Message{Topic: fn.Topic, Value: b})
		return nil
	}
	ct, err := framing.ParseContainer(b)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	ws, err := framing.ParseWriterSchema(ct.Schema)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if id, ok := schemas.Default().LSSTRegistryIDOf(ws); ok {
		emit(kafkaio.Message{Topic: fn.Topic, Value: framing.AppendWire(nil, id, ct.Datum)})
		return nil
	}
	return fmt.Errorf("%s: its writer schema is not a shipped LSST version; add its .avsc files to a schema dir", path)
}

func reflectTypeOf[T any]() reflect.Type { return reflect.TypeOf((*T)(nil)).Elem() }
