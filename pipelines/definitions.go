package pipelines

import (
	"context"
	"encoding/json"
	"regexp"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func init() {
	register.DoFn3x0[context.Context, kafkaio.Record, func(kafkaio.Message)](&definitionStatusFn{})
}

// reportDefinitions reads the definitions topic with its own consumer
// group (group + ".definitions") and writes, once per definition record,
// what the run makes of it to the status topic: accepted, removed, or
// rejected with its error. The filter DoFns follow the topic themselves
// (filter.FollowDefinitions) and skip what is rejected here, by the same
// check. A pattern, not a topic name, so that a topic that does not exist
// yet ends no bounded run.
func reportDefinitions(s beam.Scope, read kafkaio.ReadConfig, defs filter.Definitions, statusTopic string, write kafkaio.WriteConfig, env filter.DefinitionEnv) {
	topic := defs.Topic
	s = s.Scope("FilterDefinitions")
	rc := kafkaio.ReadConfig{Config: read.Config, TopicPattern: "^" + regexp.QuoteMeta(topic) + "$", Group: read.Group + ".definitions",
		Start: read.Start, StopAtEnd: read.StopAtEnd, IdleAdvance: !read.StopAtEnd}
	if rc.Start == kafkaio.StartTimestamp || rc.Start == kafkaio.StartLatest {
		rc.Start = kafkaio.StartCommitted // every definition counts, whatever part of the alerts is read
	}
	status := beam.ParDo(s, &definitionStatusFn{StatusTopic: statusTopic, Env: env, Defs: defs}, kafkaio.Read(s, rc))
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: read.Config, Group: rc.Group, Units: 1}, kafkaio.Write(s, write, status))
}

// definitionStatusFn turns a definition record into its status message.
type definitionStatusFn struct {
	StatusTopic string
	Env         filter.DefinitionEnv
	Defs        filter.Definitions // for Refuses

	rejected beam.Counter
}

func (fn *definitionStatusFn) Setup() {
	fn.rejected = beam.NewCounter("alertbeam", "filter_definitions_rejected")
}

func (fn *definitionStatusFn) ProcessElement(ctx context.Context, r kafkaio.Record, emit func(kafkaio.Message)) {
	st := fn.Env.Status(r, time.Now())
	if st.Status == filter.StatusAccepted {
		_, d, _ := filter.ParseDefinition(r) // it parsed: accepted
		if err := fn.Defs.Refuses(st.Name, *d); err != nil {
			st.Status, st.Error = filter.StatusRejected, err.Error()
		}
	}
	if st.Status == filter.StatusRejected {
		fn.rejected.Inc(ctx, 1)
	}
	v, _ := json.Marshal(st) // strings, numbers and a time always marshal
	emit(kafkaio.Message{Topic: fn.StatusTopic, Key: r.Key, Value: v, Source: r.Source, Units: 1, SourceTime: r.Timestamp, Output: metrics.OutputStatus})
}
