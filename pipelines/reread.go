package pipelines

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// RereadKafka reads kept records back from the Kafka cluster they were read
// from, by offset: the per-visit cap (filter.Config.Reread) and QA
// (qa.Config.Reread) hold only references while an exposure is decided, and
// fetch the packets they keep with it.
func RereadKafka(cfg kafkaio.Config) filter.Reread {
	return func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return kafkaio.Fetch(s, cfg, refs)
	}
}

// RereadArchive reads kept records back from the archive they are replayed
// from, by file and index (see RereadKafka).
func RereadArchive(cfg archive.ReadConfig) filter.Reread {
	return func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return archive.Fetch(s, cfg, refs)
	}
}
