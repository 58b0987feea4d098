package deadletter

import (
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/metrics"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Letter)(nil)).Elem())
}

// DefaultTopic is where dead letters go unless --dead-letter-topic says otherwise.
const DefaultTopic = "alertbeam-deadletter"

// Defaults fills what every dead-lettering stage's Config leaves unset: its
// dead-letter topic (DefaultTopic) and, when units is not nil, the units a
// record counts for (1).
func Defaults(topic *string, units *int) {
	if *topic == "" {
		*topic = DefaultTopic
	}
	if units != nil && *units == 0 {
		*units = 1
	}
}

// Header keys of a dead-letter message.
const (
	HeaderError     = "error"
	HeaderStage     = "stage"
	HeaderTopic     = "source.topic"
	HeaderPartition = "source.partition"
	HeaderOffset    = "source.offset"
)

// Letter is one record that failed, with why and where.
type Letter struct {
	Source kafkaio.Source
	Key    []byte
	Value  []byte
	Stage  string
	Error  string
	Time   time.Time // the record's Kafka timestamp, for the latency metric
}

// New makes a letter for a record that failed in stage.
func New(r kafkaio.Record, stage string, err error) Letter {
	return Letter{Source: r.Source, Key: r.Key, Value: r.Value, Stage: stage, Error: err.Error(), Time: r.Timestamp}
}

// Message turns a letter into a Kafka message for topic that acknowledges
// its source record with units (a record that fails stands for every sink
// it will now never reach).
func (l Letter) Message(topic string, units int) kafkaio.Message {
	metrics.DeadLetters.WithLabelValues(l.Stage).Inc()
	metrics.NoteDeadLetter(l.Stage, l.Error)
	return kafkaio.Message{
		Topic: topic,
		Key:   l.Key,
		Value: l.Value,
		Headers: []kafkaio.Header{
			{Key: HeaderError, Value: []byte(l.Error)},
			{Key: HeaderStage, Value: []byte(l.Stage)},
			{Key: HeaderTopic, Value: []byte(l.Source.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(l.Source.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(l.Source.Offset, 10))},
		},
		Source:     l.Source,
		Units:      units,
		SourceTime: l.Time,
		Output:     metrics.OutputDeadLetter,
	}
}
