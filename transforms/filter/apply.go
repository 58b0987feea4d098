package filter

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/graph/window"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/registry"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/deadletter"
)

func init() {
	register.DoFn5x1[context.Context, kafkaio.Record, func(Kept), func(kafkaio.Ack), func(kafkaio.Message), error](&applyFn{})
	register.Emitter1[Kept]()
	register.Emitter1[kafkaio.Ack]()
	register.Emitter1[kafkaio.Message]()
	register.Function1x1(keptFilter)
	register.Function1x1(keptMessage)
	beam.RegisterType(reflect.TypeOf((*Kept)(nil)).Elem())
}

// Stage names this transform in dead letters: "filter" for a record that
// does not decode, "filter/NAME" for one that filter NAME failed on.
const Stage = "filter"

// Config configures Apply.
type Config struct {
	Survey   string // "ztf" or "lsst"
	Registry string // schema registry URL (LSST)
	// Filters are filter specs (see Build): registered names, names with
	// parameters, or expressions, each optionally "OUT=..." to name its
	// output. Output names must differ.
	Filters []string
	// Topics maps an output name to its topic; an output not listed is
	// published to a topic named after it.
	Topics map[string]string
	// DeadLetterTopic receives what a filter failed on and what does not
	// decode (default deadletter.DefaultTopic).
	DeadLetterTopic string
	// Units is how many ack units each filter output owes a record
	// (default 1); see Outputs.RecordUnits.
	Units int
	// CapPerVisit, when positive, keeps at most that many alerts per
	// visit in every output (see Cap); CapWindow is the event-time window
	// the cap's groups close in (default DefaultCapWindow).
	CapPerVisit int
	CapWindow   time.Duration
}

// Outputs are what Apply produces.
type Outputs struct {
	// Names are the outputs' names, in the order of Config.Filters.
	Names []string
	// Kept holds, per output name, the kafkaio.Messages to publish: the
	// original bytes when the filter kept the alert unchanged, the
	// re-encoded alert (reader schema) when it transformed it.
	Kept map[string]beam.PCollection
	// Acks acknowledges, as kafkaio.Acks, the records a filter dropped.
	Acks beam.PCollection
	// Dead holds dead-letter kafkaio.Messages for Config.DeadLetterTopic.
	Dead beam.PCollection
	// CapStats holds one CapStat per output and visit when capped, else it
	// is an empty collection.
	CapStats beam.PCollection
	// RecordUnits is how many ack units make one record done:
	// len(Names) × Config.Units. Pass it as kafkaio.CommitConfig.Units when
	// these outputs are the pipeline's only sinks.
	RecordUnits int
}

// Kept is an alert a filter kept, on its way to its output: the message to
// publish, and the small facts the per-visit cap ranks it by.
type Kept struct {
	Filter int // index into Outputs.Names
	Visit  string
	ID     int64
	Score  float64
	Time   time.Time // observation time
	Msg    kafkaio.Message
}

// Apply decodes every record once and runs it through every filter of
// cfg.Filters, each filter publishing to its own output.
//
// Acknowledgement: every record owes each output cfg.Units ack units, so
// that kafkaio.Commit can tell when all of them are done with it:
//   - kept: the output message carries Source and Units; the Kafka write's
//     ack settles them;
//   - dropped (including a missing value, or capped): an immediate
//     kafkaio.AckOf(source, Units) in Outputs.Acks;
//   - the filter errored or panicked: a dead-letter message (stage
//     "filter/NAME") carrying Units, settled by the dead-letter write;
//   - the record does not decode: one dead-letter message (stage "filter")
//     carrying Units for every output.
//
// So a record is done when RecordUnits units have been acknowledged,
// whichever way it went. All errors in cfg (unknown filter, bad expression,
// a filter that does not apply to the survey) are reported here, before
// anything runs.
func Apply(s beam.Scope, recs beam.PCollection, cfg Config) (Outputs, error) {
	s = s.Scope("filter.Apply")
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = deadletter.DefaultTopic
	}
	if cfg.Units == 0 {
		cfg.Units = 1
	}
	if cfg.Units < 0 || cfg.CapPerVisit < 0 || cfg.CapWindow < 0 {
		return Outputs{}, fmt.Errorf("filter: negative Units, CapPerVisit or CapWindow")
	}
	if cfg.Survey != schemas.ZTF && cfg.Survey != schemas.LSST {
		return Outputs{}, fmt.Errorf("filter: unknown survey %q (want ztf or lsst)", cfg.Survey)
	}
	if cfg.Survey == schemas.LSST && cfg.Registry == "" {
		return Outputs{}, errors.New("filter: LSST needs a schema registry URL")
	}
	if len(cfg.Filters) == 0 {
		return Outputs{}, errors.New("filter: no filters to apply")
	}
	fs, err := buildAll(cfg.Filters, cfg.Survey)
	if err != nil {
		return Outputs{}, err
	}
	out := Outputs{Kept: map[string]beam.PCollection{}, RecordUnits: len(fs) * cfg.Units}
	topics := make([]string, len(fs))
	for i, f := range fs {
		out.Names = append(out.Names, f.Name())
		topics[i] = f.Name()
		if t, ok := cfg.Topics[f.Name()]; ok {
			topics[i] = t
		}
	}
	for name := range cfg.Topics {
		if _, ok := out.Kept[name]; !ok && !containsName(out.Names, name) {
			return Outputs{}, fmt.Errorf("filter: Topics names %q, which is not an output (outputs: %v)", name, out.Names)
		}
	}

	fn := &applyFn{Survey: cfg.Survey, Registry: cfg.Registry, Specs: cfg.Filters, Topics: topics,
		DeadLetterTopic: cfg.DeadLetterTopic, Units: cfg.Units}
	kept, acks, dead := beam.ParDo3(s, fn, recs)
	parts := []beam.PCollection{kept}
	if len(fs) > 1 {
		parts = beam.Partition(s, len(fs), keptFilter, kept)
	}
	allAcks := []beam.PCollection{acks}
	var stats []beam.PCollection
	for i, name := range out.Names {
		if cfg.CapPerVisit > 0 {
			c := Cap(s.Scope(name), parts[i], CapConfig{Name: name, N: cfg.CapPerVisit, Window: cfg.CapWindow, Units: cfg.Units})
			out.Kept[name] = c.Kept
			allAcks = append(allAcks, c.Acks)
			stats = append(stats, c.Stats)
			continue
		}
		out.Kept[name] = beam.ParDo(s, keptMessage, parts[i])
	}
	out.Acks = beam.Flatten(s, allAcks...)
	out.Dead = dead
	if stats != nil {
		out.CapStats = beam.Flatten(s, stats...)
	} else {
		out.CapStats = beam.WindowInto(s, window.NewGlobalWindows(), beam.Create(s, CapStat{})[0:0:0][0])
	}
	return out, nil
}
