package pipelines

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/discard"
	"github.com/alertbeam/alertbeam/transforms/filter"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// FilterConfig configures Filter.
type FilterConfig struct {
	// Read is the stream to filter: a per-night topic, or another filter's
	// output topic (filters chain).
	Read kafkaio.ReadConfig
	// Archive, when set, replays archived alerts into the filters instead
	// of reading Read (a replay straight into the filter graph): nothing is
	// committed, and Archive.Speed paces the replay.
	Archive *archive.ReadConfig
	Write   kafkaio.WriteConfig
	// Filters are filter specs: built-in names with optional parameters
	// ("rb:min=0.8"), user-registered names, or CEL expressions, each
	// optionally "OUT=spec" to name its output.
	Filters  []string
	Survey   string
	Registry string
	// TopicPrefix is put before each output's name to make its topic
	// (default none: the topic is the output's name).
	TopicPrefix     string
	DeadLetterTopic string
	// CapPerVisit keeps at most this many alerts per visit in every output
	// (Rubin: 20), the highest S/N first.
	CapPerVisit int
	// QA, when set, runs the aggregate QA checks (qa.Apply) first: the
	// filters see only what QA keeps, read back from Kafka (or the
	// archive) once each exposure is decided, and QA records go to
	// QA.QATopic. Survey, Registry, DeadLetterTopic, Units and Reread are
	// Filter's. QA decides exposures in observation time, so a Kafka read
	// with the default record-time policy is switched to the survey's
	// observation time.
	QA *qa.Config
	// Catalogs are the crossmatch filters' catalog specs
	// (filter.Config.Catalogs, --catalog NAME=PATH).
	Catalogs []string
	// GWTopic is the Kafka topic of IGWN gravitational-wave notices (GCN's
	// igwn.gwalert, --gw-topic) the gw filters match alerts against, on
	// Read's brokers (Write's for a replay). Each worker follows it from
	// its beginning; a notice applies to the alerts processed after it is
	// read. Notices that do not parse go to the dead-letter topic, once
	// (consumer group Read.Group + ".gw").
	GWTopic string
	// Definitions is the compacted topic of filter definitions
	// (--definitions; see filter.Definition) on Read's brokers: filters
	// defined, redefined and removed while the run goes on. Each worker
	// follows it from its beginning; a definition applies to the alerts
	// processed after it is read, and a live filter publishes to
	// TopicPrefix + its name. What the run makes of each definition
	// (accepted, removed, or rejected with its error) is written once to
	// StatusTopic (default filter.DefaultStatusTopic; consumer group
	// Read.Group + ".definitions"). A definition's own cap_per_visit
	// works as CapPerVisit does, so a run with Definitions reads in
	// observation time, as a capped one does. Not with an archive replay
	// or CapPerVisit (which caps the flag filters: give each its cap in a
	// definition instead).
	Definitions string
	StatusTopic string
	// Versions stamps outputs with a definition version (see
	// filter.Config.Versions): a backfill of a live definition.
	Versions map[string]int64
	// Since, with Archive, filters only the alerts observed at or after
	// it (a backfill from the archive; a Kafka read starts at a time with
	// Read.Start = kafkaio.StartTimestamp instead).
	Since time.Time
	// Shards splits the Kafka read as DistributeConfig.Shards does, each
	// shard with its own filters and writers. 0 or 1: one read. Only for
	// filters that decide each alert alone: QA, CapPerVisit and
	// Definitions (whose caps group a visit's alerts) need one read, and
	// an archive replay is one.
	Shards int
}

// NeedsOneRead reports whether cfg's filters need the whole stream in one
// read (QA, a per-visit cap, live definitions, an archive replay), where
// Shards must be 0 or 1.
func (cfg FilterConfig) NeedsOneRead() bool { return cfg.oneReadFor() != "" }

// oneReadFor says why cfg needs one read, or "" if it does not.
func (cfg FilterConfig) oneReadFor() string {
	switch {
	case cfg.Archive != nil:
		return "an archive replay is one read"
	case cfg.QA != nil:
		return "QA needs the whole stream in one read"
	case cfg.CapPerVisit > 0:
		return "a per-visit cap needs the whole stream in one read"
	case cfg.Definitions != "":
		return "live definitions need the whole stream in one read"
	}
	return ""
}

// FilterTopic is the topic a filter output is published to.
func FilterTopic(prefix, output string) string { return prefix + output }

// filterTopics maps each filter's output name to its topic. Names are
// resolved first so topics can be given before the graph exists.
func filterTopics(specs []string, survey, prefix string) (map[string]string, error) {
	topics := map[string]string{}
	for _, spec := range specs {
		f, err := filter.Build(spec, survey)
		if err != nil {
			return nil, err
		}
		topics[f.Name()] = FilterTopic(prefix, f.Name())
	}
	return topics, nil
}

// Filter is TryFilter that panics where it would return an error.
func Filter(s beam.Scope, cfg FilterConfig) []string { return must(TryFilter(s, cfg)) }

// TryFilter reads a stream, runs every filter on each alert (decoded once)
// and publishes each filter's output to its own topic, with the original
// bytes unless the filter transformed the alert. Offsets are committed once
// every output has either published or dropped a record; what a filter
// fails on goes to the dead-letter topic. It returns the output names.
func TryFilter(s beam.Scope, cfg FilterConfig) ([]string, error) {
	s = s.Scope("Filter")
	if len(cfg.Filters) == 0 && cfg.Definitions == "" {
		return nil, errors.New("pipelines: name at least one filter (--filter or --expr), or a --definitions topic")
	}
	if !cfg.Since.IsZero() && cfg.Archive == nil {
		return nil, errors.New("pipelines: Since applies to an archive replay; a Kafka read starts at a time with Read.Start")
	}
	if cfg.Definitions != "" && cfg.Archive != nil {
		return nil, errors.New("pipelines: live filter definitions (--definitions) need a Kafka read, not an archive replay")
	}
	if cfg.StatusTopic == "" {
		cfg.StatusTopic = filter.DefaultStatusTopic
	}
	deadletter.Defaults(&cfg.DeadLetterTopic, nil)
	if err := cfg.Write.Validate(); err != nil {
		return nil, err
	}
	if cfg.Archive != nil {
		if err := cfg.Archive.Validate(); err != nil {
			return nil, err
		}
		if cfg.Archive.Survey != cfg.Survey {
			return nil, fmt.Errorf("pipelines: replaying a %s archive into %s filters", cfg.Archive.Survey, cfg.Survey)
		}
	} else {
		if err := cfg.Read.Validate(); err != nil {
			return nil, err
		}
		if cfg.Read.Group == "" {
			return nil, errors.New("pipelines: filter needs a consumer group (--group) to commit offsets to")
		}
	}
	if err := checkShards(cfg.Shards, cfg.oneReadFor()); err != nil {
		return nil, err
	}
	topics, err := filterTopics(cfg.Filters, cfg.Survey, cfg.TopicPrefix)
	if err != nil {
		return nil, err
	}
	// QA and the per-visit cap read the alerts they keep back from where
	// they came, once a visit is decided.
	reread := RereadKafka(cfg.Read.Config)
	if cfg.Archive != nil {
		reread = RereadArchive(*cfg.Archive)
	}
	var qc qa.Config
	if cfg.QA != nil {
		qc = *cfg.QA
		qc.Survey, qc.Registry, qc.DeadLetterTopic, qc.Units = cfg.Survey, cfg.Registry, cfg.DeadLetterTopic, len(topics)
		if cfg.Definitions != "" {
			qc.Units += filter.LiveShare // what the live filters owe a record together
		}
		qc.Reread = reread
	}
	if cfg.QA != nil || cfg.CapPerVisit > 0 || cfg.Definitions != "" {
		// (Live definitions may carry a per-visit cap.)
		// Both decide visits in observation time.
		if cfg.Read.EventTime == "" || cfg.Read.EventTime == kafkaio.EventTimeRecord {
			cfg.Read.EventTime = cfg.Survey
			// The clock says nothing of observation times (a replay of
			// an old night): only records move the watermark.
			cfg.Read.IdleAdvance = false
		}
	}
	// Each input is a shard of the read, with its own filters and writers
	// (one, unless cfg.Shards splits it).
	type input struct {
		s    beam.Scope
		recs beam.PCollection
	}
	var inputs []input
	if cfg.Archive != nil {
		recs := archive.Read(s, *cfg.Archive)
		if !cfg.Since.IsZero() {
			// Nothing commits a replay: what is left out owes no ack.
			recs = beam.ParDo(s, &observedSinceFn{Since: cfg.Since}, recs)
		}
		inputs = append(inputs, input{s, recs})
	} else {
		reads := cfg.Read.Sharded(cfg.Shards)
		for i, rc := range reads {
			ss := shardScope(s, i, len(reads))
			inputs = append(inputs, input{ss, kafkaio.Read(ss, rc)})
		}
	}
	var qaOut qa.Outputs
	if cfg.QA != nil {
		var err error
		if qaOut, err = qa.TryApply(s, qc, inputs[0].recs); err != nil {
			return nil, err
		}
		inputs[0].recs = qaOut.Kept
	}
	var gw *igwn.Source
	if cfg.GWTopic != "" {
		gw = &igwn.Source{Conn: cfg.Read.Config, Topic: cfg.GWTopic}
		if cfg.Archive != nil {
			gw.Conn = cfg.Write.Config
		} else {
			checkNotices(s, cfg.Read, cfg.GWTopic, cfg.Write, cfg.DeadLetterTopic)
		}
	}
	var defs *filter.Definitions
	if cfg.Definitions != "" {
		defs = &filter.Definitions{Conn: cfg.Read.Config, Topic: cfg.Definitions, TopicPrefix: cfg.TopicPrefix,
			Reserved:        append([]string{cfg.Definitions, cfg.StatusTopic, cfg.DeadLetterTopic}, cfg.Read.Topics...),
			ReservedPattern: cfg.Read.TopicPattern, Static: slices.Sorted(maps.Keys(topics))}
		if cfg.GWTopic != "" {
			defs.Reserved = append(defs.Reserved, cfg.GWTopic)
		}
		if cfg.QA != nil {
			t := qc.QATopic
			if t == "" {
				t = qa.DefaultTopic
			}
			defs.Reserved = append(defs.Reserved, t)
		}
	}
	var outs filter.Outputs
	var acks []beam.PCollection
	for _, in := range inputs {
		ss := in.s
		var err error
		outs, err = filter.TryApply(ss, filter.Config{Survey: cfg.Survey, Registry: cfg.Registry, Filters: cfg.Filters,
			Topics: topics, DeadLetterTopic: cfg.DeadLetterTopic, Units: 1, CapPerVisit: cfg.CapPerVisit, Reread: reread,
			Catalogs: cfg.Catalogs, GW: gw, Definitions: defs, Versions: cfg.Versions}, in.recs)

		if err != nil {
			return nil, err
		}
		// Kept packets and dead letters are written separately, so the
		// packets never pass through a Flatten (see filter.Outputs.All).
		acks = append(acks, kafkaio.Write(ss, cfg.Write, outs.All), kafkaio.Write(ss, cfg.Write, outs.Dead), outs.Acks)
		if outs.Later.IsValid() {
			acks = append(acks, kafkaio.Write(ss, cfg.Write, outs.Later))
		}
	}
	if defs != nil {
		reportDefinitions(s, cfg.Read, *defs, cfg.StatusTopic, cfg.Write,
			filter.DefinitionEnv{Survey: cfg.Survey, Catalogs: cfg.Catalogs, GW: gw != nil})
	}
	if cfg.QA != nil {
		// QA owes each record it rejects or dead-letters every filter
		// output's units (qc.Units); its QA records acknowledge nothing.
		discard.All(s, kafkaio.Write(s, cfg.Write, qaOut.QA))
		acks = append(acks, qaOut.Acks, kafkaio.Write(s, cfg.Write, qaOut.Dead))
	}
	if cfg.Archive == nil {
		kafkaio.Commit(s, kafkaio.CommitConfig{Config: cfg.Read.Config, Group: cfg.Read.Group, Units: outs.RecordUnits}, acks...)
	} else {
		// A replay commits nothing, but the writes' stages need an
		// output (see package discard).
		for _, a := range acks {
			discard.All(s, a)
		}
	}
	names := make([]string, len(outs.Names))
	for i, n := range outs.Names {
		names[i] = fmt.Sprintf("%s -> %s", n, topics[n])
	}
	if defs != nil {
		names = append(names, fmt.Sprintf("the filters defined on %s -> %sNAME (status on %s)", cfg.Definitions, cfg.TopicPrefix, cfg.StatusTopic))
	}
	return names, nil
}

func init() {
	register.DoFn2x0[kafkaio.Record, func(kafkaio.Record)](&observedSinceFn{})
}

// observedSinceFn passes the archived records observed at or after Since
// (archive.Read's Timestamp is the observation time).
type observedSinceFn struct {
	Since time.Time
}

func (fn *observedSinceFn) ProcessElement(r kafkaio.Record, emit func(kafkaio.Record)) {
	if !r.Timestamp.Before(fn.Since) {
		emit(r)
	}
}
