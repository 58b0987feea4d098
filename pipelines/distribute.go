package pipelines

import (
	"errors"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/discard"
	"github.com/alertbeam/alertbeam/transforms/fanout"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
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
	// Archive, when set, also keeps every alert read in the archive
	// (exactly once), and offsets wait for the archive too. Its Survey,
	// Registry and DeadLetterTopic are Distribute's.
	Archive *archive.Config
	// Filters, when given, also run these filter specs on every alert read
	// (as Filter does), each output to the topic FilterTopicPrefix + its
	// name, in the same pipeline.
	Filters           []string
	FilterTopicPrefix string
	// OneRead makes one read of the stream feed the night topics, the
	// filters and the archive. By default, when there are filters or an
	// archive, the router has a read of its own (kafkaio.Reads: the same
	// records from the same offsets, committed together), so that a
	// night copy never waits for the filters' and the archive's work on
	// the alerts read before it: on prism each read's stage handles its
	// records one after another. One read fetches every record once
	// instead of twice: for batch jobs (a bounded read), judged by when
	// all of it is done, not by when each alert is.
	OneRead bool
	// QA, when set with Filters, runs the aggregate QA checks first, as
	// Filter does (see FilterConfig.QA): the filters see only what QA
	// keeps; the night topics and the archive still get every alert. The
	// read's event time becomes the survey's observation time.
	QA *qa.Config
	// Shards splits the read into that many (kafkaio.ReadConfig.Shards),
	// each fused with its own router, filters, archive staging and
	// writers; only acknowledgements and the archive's file descriptions
	// are gathered. prism puts every partition's read of a stage in one
	// bundle, whose elements run one after another on one core; each
	// shard is a stage of its own, and stages run side by side. 0 or 1:
	// one read. QA compares alerts across the whole stream, so it needs
	// one.
	Shards int
}

// Distribute is TryDistribute that panics where it would return an error.
func Distribute(s beam.Scope, cfg DistributeConfig) beam.PCollection {
	return must(TryDistribute(s, cfg))
}

// TryDistribute reads the ingest stream and fans every alert out to its
// night's topic with its exact bytes; what cannot be routed goes to the
// dead-letter topic. Offsets are committed to Read.Group once the broker
// acknowledged the routed (or dead-lettered) copy. It returns the commits.
func TryDistribute(s beam.Scope, cfg DistributeConfig) (beam.PCollection, error) {
	s = s.Scope("Distribute")
	deadletter.Defaults(&cfg.DeadLetterTopic, nil)
	if err := cfg.Read.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if err := cfg.Write.Validate(); err != nil {
		return beam.PCollection{}, err
	}
	if cfg.Read.Group == "" {
		return beam.PCollection{}, fmt.Errorf("pipelines: distribute needs a consumer group (--group) to commit offsets to")
	}
	var ac archive.Config
	if cfg.Archive != nil {
		ac = *cfg.Archive
		ac.Survey, ac.Registry, ac.DeadLetterTopic, ac.Units = cfg.Survey, cfg.Registry, cfg.DeadLetterTopic, 1
		if err := ac.Validate(); err != nil {
			return beam.PCollection{}, err
		}
	}
	if cfg.QA != nil && len(cfg.Filters) == 0 {
		return beam.PCollection{}, errors.New("pipelines: QA decides what the filters see: name filters too")
	}
	if cfg.QA != nil && (cfg.Read.EventTime == "" || cfg.Read.EventTime == kafkaio.EventTimeRecord) {
		cfg.Read.EventTime, cfg.Read.IdleAdvance = cfg.Survey, false
	}
	oneRead := ""
	if cfg.QA != nil {
		oneRead = "QA needs the whole stream in one read"
	}
	if err := checkShards(cfg.Shards, oneRead); err != nil {
		return beam.PCollection{}, err
	}
	var topics map[string]string
	if len(cfg.Filters) > 0 {
		var err error
		if topics, err = filterTopics(cfg.Filters, cfg.Survey, cfg.FilterTopicPrefix); err != nil {
			return beam.PCollection{}, err
		}
	}
	var acks, staged []beam.PCollection
	units := 1
	reads := cfg.Read.Sharded(cfg.Shards)
	for i, rc := range reads {
		ss := shardScope(s, i, len(reads))
		readers := 1
		if !cfg.OneRead && (len(cfg.Filters) > 0 || cfg.Archive != nil) {
			readers = 2
		}
		rs := kafkaio.Reads(ss, rc, readers)
		routed, recs := rs[0], rs[len(rs)-1]
		msgs := fanout.Route(ss, fanout.Config{Survey: cfg.Survey, Registry: cfg.Registry, DeadLetterTopic: cfg.DeadLetterTopic, Units: 1}, routed)
		acks = append(acks, kafkaio.Write(ss, cfg.Write, msgs))
		staged = append(staged, recs)
		if len(cfg.Filters) == 0 {
			continue
		}
		kept := recs
		if cfg.QA != nil {
			qc := *cfg.QA
			qc.Survey, qc.Registry, qc.DeadLetterTopic, qc.Units = cfg.Survey, cfg.Registry, cfg.DeadLetterTopic, len(topics)
			qc.Reread = RereadKafka(cfg.Read.Config)
			qaOut, err := qa.TryApply(ss, qc, recs)
			if err != nil {
				return beam.PCollection{}, err
			}
			kept = qaOut.Kept
			// QA owes each record it rejects or dead-letters every filter
			// output's units; its QA records acknowledge nothing.
			discard.All(ss, kafkaio.Write(ss, cfg.Write, qaOut.QA))
			acks = append(acks, qaOut.Acks, beam.ParDo(ss, ackDeadLetter, qaOut.Dead))
		}
		outs, err := filter.TryApply(ss, filter.Config{Survey: cfg.Survey, Registry: cfg.Registry, Filters: cfg.Filters,
			Topics: topics, DeadLetterTopic: cfg.DeadLetterTopic, Units: 1, Reread: RereadKafka(cfg.Read.Config)}, kept)

		if err != nil {
			return beam.PCollection{}, err
		}
		// The router has dead-lettered what the filters cannot decode.
		acks = append(acks, kafkaio.Write(ss, cfg.Write, outs.All), outs.Acks, beam.ParDo(ss, ackDeadLetter, outs.Dead))
		units = 1 + outs.RecordUnits
	}
	if cfg.Archive != nil {
		units++
		out := archive.Write(s, ac, staged...)
		// The router and the archive reject the same records (both
		// identify alerts with alert.Identify), and the router has
		// dead-lettered them: acknowledge the archive's share instead of
		// writing each a second letter.
		acks = append(acks, out.Acks, beam.ParDo(s, ackDeadLetter, out.Dead))
	}
	return kafkaio.Commit(s, kafkaio.CommitConfig{Config: cfg.Read.Config, Group: cfg.Read.Group, Units: units}, acks...), nil
}

// checkShards refuses a negative number of shards, and more than one where
// oneRead says why the pipeline needs the whole stream in one read.
func checkShards(n int, oneRead string) error {
	if n < 0 {
		return fmt.Errorf("pipelines: Shards must not be negative, got %d", n)
	}
	if n > 1 && oneRead != "" {
		return fmt.Errorf("pipelines: %s: use 1 shard, not %d", oneRead, n)
	}
	return nil
}

// shardScope is the scope of shard i of n: s itself when there is one, so
// an unsharded pipeline keeps its transforms' names.
func shardScope(s beam.Scope, i, n int) beam.Scope {
	if n < 2 {
		return s
	}
	return s.Scope(fmt.Sprintf("shard%d", i))
}

// ackDeadLetter acknowledges a dead letter's source without writing it.
func ackDeadLetter(m kafkaio.Message) kafkaio.Ack { return kafkaio.AckOf(m.Source, m.Units) }

func init() {
	register.Function1x1(ackDeadLetter)
}
