package pipelines

import (
	"errors"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/discard"
)

// ArchiveConfig configures Archive.
type ArchiveConfig struct {
	Read    kafkaio.ReadConfig
	Archive archive.Config
	// Write is where dead letters go.
	Write kafkaio.WriteConfig
}

// Archive is TryArchive that panics where it would return an error.
func Archive(s beam.Scope, cfg ArchiveConfig) { check(TryArchive(s, cfg)) }

// TryArchive reads a stream and keeps every alert, exactly once, in
// per-night Avro files under Archive.Root; offsets are committed once an
// alert is in a final file. What cannot be archived goes to the dead-letter
// topic.
func TryArchive(s beam.Scope, cfg ArchiveConfig) error {
	s = s.Scope("Archive")
	if err := cfg.Read.Validate(); err != nil {
		return err
	}
	if cfg.Read.Group == "" {
		return errors.New("pipelines: archive needs a consumer group (--group) to commit offsets to")
	}
	cfg.Archive.Units = 1
	if err := cfg.Archive.Validate(); err != nil {
		return err
	}
	recs := kafkaio.Read(s, cfg.Read)
	out := archive.Write(s, cfg.Archive, recs)
	deadAcks := kafkaio.Write(s, cfg.Write, out.Dead)
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: cfg.Read.Config, Group: cfg.Read.Group, Units: 1}, out.Acks, deadAcks)
	return nil
}

// ReplayConfig configures Replay.
type ReplayConfig struct {
	Archive archive.ReadConfig
	Topic   string
	Write   kafkaio.WriteConfig
}

// Replay is TryReplay that panics where it would return an error.
func Replay(s beam.Scope, cfg ReplayConfig) { check(TryReplay(s, cfg)) }

// TryReplay publishes an archived night back to a topic with the bytes it
// was archived with (one-record containers for ZTF, wire format for LSST),
// so Distribute and the filters can run on it again.
func TryReplay(s beam.Scope, cfg ReplayConfig) error {
	s = s.Scope("Replay")
	if cfg.Topic == "" {
		return errors.New("pipelines: replay needs a topic (--topic)")
	}
	if err := cfg.Archive.Validate(); err != nil {
		return err
	}
	recs := archive.Read(s, cfg.Archive)
	// Nothing commits a replay's acks, but the write's stage needs an
	// output (see package discard).
	discard.All(s, kafkaio.Write(s, cfg.Write, beam.ParDo(s, &toTopicFn{Topic: cfg.Topic}, recs)))
	return nil
}

// toTopicFn addresses records to a topic, keeping key, value and headers.
type toTopicFn struct{ Topic string }

func (fn *toTopicFn) ProcessElement(r kafkaio.Record) kafkaio.Message {
	return kafkaio.Message{Topic: fn.Topic, Key: r.Key, Value: r.Value, Headers: r.Headers}
}

func init() {
	beam.RegisterType(reflectTypeOf[toTopicFn]())
}
