// Package pipelines wires alertbeam's transforms into runnable graphs: each
// function builds one pipeline that cmd/alertbeam runs on the runner chosen by
// --runner.
package pipelines

import (
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/deadletter"
	"github.com/alertbeam/alertbeam/transforms/fanout"
)

// DistributeConfig configures Distribute.
type DistributeConfig struct {
	// Read is where the ingest stream is (topics, group, start, bounds).
	Read kafkaio.ReadConfig
	// Write configures the per-night topics (partitions, retention).
	Write           kafkaio.WriteConfig
	Survey          string
	Registry        string
	DeadLetterTopic string
}

// Distribute reads the ingest stream and fans every alert out to its night's
// topic with its exact bytes; what cannot be routed goes to the dead-letter
// topic. Offsets are committed to Read.Group once the broker acknowledged the
// routed (or dead-lettered) copy. It returns the commits.
func Distribute(s beam.Scope, cfg DistributeConfig) (beam.PCollection, error) {
	s = s.Scope("Distribute")
	if cfg.DeadLetterTopic == "" {
		cfg.DeadLetterTopic = deadletter.DefaultTopic
	}
	if err := cfg.Read.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if err := cfg.Write.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if cfg.Read.Group == "" {
		return beam.PCollection{}, fmt.Errorf("pipelines: distribute needs a consumer group (--group) to commit offsets to")
	}
	recs := kafkaio.Read(s, cfg.Read)
	msgs := fanout.Route(s, recs, fanout.Config{Survey: cfg.Survey, Registry: cfg.Registry, DeadLetterTopic: cfg.DeadLetterTopic, Units: 1})
	acks := kafkaio.Write(s, cfg.Write, msgs)
	return kafkaio.Commit(s, kafkaio.CommitConfig{Config: cfg.Read.Config, Group: cfg.Read.Group, Units: 1}, acks), nil
}
