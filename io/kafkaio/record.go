package kafkaio

import (
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Record)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Message)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Ack)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Source)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Header)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*partitionDesc)(nil)).Elem())
}

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Source locates a record in the stream it was read from, and carries what
// Commit needs to advance offsets safely: Prev, the offset of the record read
// just before it in its partition (offsets can skip, e.g. over transaction
// markers), and Base, where this run started reading the partition.
type Source struct {
	Topic     string
	Partition int32
	Offset    int64
	Prev      int64
	Base      int64
}

func (s Source) String() string { return fmt.Sprintf("%s/%d@%d", s.Topic, s.Partition, s.Offset) }

// Record is one Kafka record as Read emits it.
type Record struct {
	Source
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time // the Kafka record timestamp
}

// Header returns the value of the first header with key, or nil.
func (r Record) Header(key string) []byte {
	for _, h := range r.Headers {
		if h.Key == key {
			return h.Value
		}
	}
	return nil
}

// Message is what Write produces: a record for Topic, and the source record
// it stands for, acknowledged with Units once the broker has it.
type Message struct {
	Topic   string
	Key     []byte
	Value   []byte
	Headers []Header
	Source  Source
	// Units is how much of the source record's processing this write
	// completes (see Commit). A message without a source (Source.Topic
	// empty) is not acknowledged.
	Units int
	// SourceTime is the source record's Kafka timestamp, and Output the
	// kind of output this is (metrics.Output...): Write observes the
	// time from SourceTime to the brokers' acknowledgement in
	// alertbeam_output_latency_seconds{output}. A zero SourceTime
	// observes nothing.
	SourceTime time.Time
	Output     string
}

// Ack says that a sink has finished Units of the processing of one source
// record. Commit adds the units per record.
type Ack struct {
	Source
	Units int
}

// AckOf acknowledges a record directly, for sinks that skip it (a filter
// that drops it) or finish it without writing to Kafka.
func AckOf(s Source, units int) Ack { return Ack{Source: s, Units: units} }

// partitionDesc is one partition to read, from discovery to the read SDF.
type partitionDesc struct {
	Topic     string
	Partition int32
	Start     int64 // first offset to read
	End       int64 // read below this offset; noEnd for an unbounded read
}

// EventTimeFunc extracts a record's event time. It must be deterministic and
// cheap; a record it cannot time (an error) keeps its Kafka timestamp, and is
// left for the decoding stage to dead-letter.
type EventTimeFunc func(Record) (time.Time, error)

var (
	eventTimeMu  sync.RWMutex
	eventTimeFns = map[string]EventTimeFunc{}
)

// RegisterEventTime makes an event-time policy available to Read by name.
// Call it from an init function, so the policy exists on every worker.
func RegisterEventTime(name string, fn EventTimeFunc) {
	eventTimeMu.Lock()
	defer eventTimeMu.Unlock()
	if _, builtIn := surveyTimes[name]; builtIn || name == EventTimeRecord {
		panic("kafkaio: event-time policy name " + name + " is reserved")
	}
	eventTimeFns[name] = fn
}

func lookupEventTime(name string) (EventTimeFunc, bool) {
	if name == "" || name == EventTimeRecord {
		return func(r Record) (time.Time, error) { return r.Timestamp, nil }, true
	}
	if fn, ok := surveyTimes[name]; ok {
		return fn, true
	}
	eventTimeMu.RLock()
	defer eventTimeMu.RUnlock()
	fn, ok := eventTimeFns[name]
	return fn, ok
}

func eventTimeNames() []string {
	eventTimeMu.RLock()
	defer eventTimeMu.RUnlock()
	names := []string{EventTimeRecord, EventTimeZTF, EventTimeLSST}
	for n := range eventTimeFns {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
