package pipelines

import (
	"context"
	"regexp"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

func init() {
	register.DoFn4x0[context.Context, kafkaio.Record, func(kafkaio.Ack), func(kafkaio.Message)](&noticeFn{})
}

// noticeStage names the notice check in dead letters.
const noticeStage = "gw-notice"

// checkNotices reads the notice topic with its own consumer group
// (group + ".gw") and sends every notice that does not parse to the
// dead-letter topic with its error, once: the filters' own readers
// (igwn.Follow) skip such notices. A pattern, not a topic name, so a
// topic that does not exist yet ends no bounded run.
func checkNotices(s beam.Scope, read kafkaio.ReadConfig, topic string, write kafkaio.WriteConfig, dlq string) {
	s = s.Scope("GWNotices")
	rc := kafkaio.ReadConfig{Config: read.Config, TopicPattern: "^" + regexp.QuoteMeta(topic) + "$", Group: read.Group + ".gw",
		Start: read.Start, StopAtEnd: read.StopAtEnd, IdleAdvance: !read.StopAtEnd}
	acks, dead := beam.ParDo2(s, &noticeFn{DeadLetterTopic: dlq}, kafkaio.Read(s, rc))
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: read.Config, Group: rc.Group, Units: 1}, acks, kafkaio.Write(s, write, dead))
}

// noticeFn acknowledges a notice that parses and dead-letters one that
// does not.
type noticeFn struct {
	DeadLetterTopic string
	bad             beam.Counter
}

func (fn *noticeFn) Setup() { fn.bad = beam.NewCounter("alertbeam", "gw_notice_deadletter") }

func (fn *noticeFn) ProcessElement(ctx context.Context, r kafkaio.Record, ack func(kafkaio.Ack), dead func(kafkaio.Message)) {
	if _, err := igwn.Parse(r.Value); err != nil {
		fn.bad.Inc(ctx, 1)
		dead(deadletter.New(r, noticeStage, err).Message(fn.DeadLetterTopic, 1))
		return
	}
	ack(kafkaio.AckOf(r.Source, 1))
}
