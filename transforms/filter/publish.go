package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// DefinitionRecord is one record of a definitions topic as published: Def
// is nil for a tombstone, and Err says why the record does not parse.
type DefinitionRecord struct {
	Name      string
	Def       *Definition
	Err       error
	Partition int32
	Offset    int64
	Published time.Time // the record's timestamp
}

// ReadDefinitions reads a definitions topic from its beginning to its
// current end, oldest first; a topic that does not exist yet is empty.
func ReadDefinitions(ctx context.Context, conn kafkaio.Config, topic string) ([]DefinitionRecord, error) {
	return readAll(ctx, conn, topic, func(r kafkaio.Record) (DefinitionRecord, error) {
		name, d, err := ParseDefinition(r)
		return DefinitionRecord{Name: name, Def: d, Err: err, Partition: r.Partition, Offset: r.Offset, Published: r.Timestamp}, nil
	})
}

// ReadStatuses reads a status topic (see DefinitionStatus) from its
// beginning to its current end; a topic that does not exist yet is empty.
func ReadStatuses(ctx context.Context, conn kafkaio.Config, topic string) ([]DefinitionStatus, error) {
	return readAll(ctx, conn, topic, func(r kafkaio.Record) (DefinitionStatus, error) {
		var st DefinitionStatus
		if err := json.Unmarshal(r.Value, &st); err != nil {
			return st, fmt.Errorf("filter: %s/%d@%d is not a definition status: %w", r.Topic, r.Partition, r.Offset, err)
		}
		return st, nil
	})
}

// readAll reads a topic from its beginning to its current end, in offset
// order, and parses each record; a topic that does not exist yet is empty.
func readAll[T any](ctx context.Context, conn kafkaio.Config, topic string, parse func(kafkaio.Record) (T, error)) ([]T, error) {
	recs, err := kafkaio.Tail(ctx, kafkaio.TailConfig{Config: conn, Topic: topic, Since: time.UnixMilli(0)})
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		recs, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Tail orders by timestamp; a definitions topic's order is its offsets.
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	out := make([]T, 0, len(recs))
	for _, r := range recs {
		v, err := parse(r)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// NextVersion is the version a new definition of name takes: one more
// than any published, accepted or not.
func NextVersion(recs []DefinitionRecord, name string) int64 {
	v := int64(0)
	for _, r := range recs {
		if r.Name == name && r.Def != nil {
			v = max(v, r.Def.Version)
		}
	}
	return v + 1
}

// PublishDefinition publishes a definition of name (nil: a tombstone,
// removing it) to a definitions topic, creating the topic, compacted and
// with one partition so that every run reads definitions in the order
// they were published, if it does not exist.
func PublishDefinition(ctx context.Context, conn kafkaio.Config, topic, name string, d *Definition) (partition int32, offset int64, err error) {
	if err := ValidName(name); err != nil {
		return 0, 0, err
	}
	sc, err := kafkaio.SaramaConfig(conn)
	if err != nil {
		return 0, 0, err
	}
	sc.Producer.Return.Successes = true
	sc.Producer.RequiredAcks = sarama.WaitForAll
	admin, err := sarama.NewClusterAdmin(conn.Brokers, sc)
	if err != nil {
		return 0, 0, fmt.Errorf("filter: %w", err)
	}
	defer admin.Close()
	compact := "compact"
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: -1,
		ConfigEntries: map[string]*string{"cleanup.policy": &compact}}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		return 0, 0, fmt.Errorf("filter: creating the definitions topic %s: %w", topic, err)
	}
	prod, err := sarama.NewSyncProducer(conn.Brokers, sc)
	if err != nil {
		return 0, 0, fmt.Errorf("filter: %w", err)
	}
	defer prod.Close()
	m := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(name)}
	if d != nil {
		m.Value = sarama.ByteEncoder(d.Encode())
	}
	if partition, offset, err = prod.SendMessage(m); err != nil {
		return 0, 0, fmt.Errorf("filter: publishing to %s: %w", topic, err)
	}
	return partition, offset, nil
}

// Listed is one filter of a definitions topic as filters list shows it.
type Listed struct {
	DefinitionRecord
	// Status is what a run made of this record (its latest report), nil
	// while no run has read it.
	Status *DefinitionStatus
}

// Standing folds a definitions topic as runs do: each record replaces its
// name's definition, a tombstone removes it, and a record that a run
// rejected (by statuses) or that does not parse changes nothing. It
// returns the definitions standing, by name, and the records rejected
// since their name's last record that counted. Definitions topics have
// one partition (PublishDefinition), so offsets order them.
func Standing(recs []DefinitionRecord, statuses []DefinitionStatus) (standing, rejected []Listed) {
	type at struct {
		p int32
		o int64
	}
	byRecord := map[at]*DefinitionStatus{}
	for i := range statuses {
		byRecord[at{statuses[i].Partition, statuses[i].Offset}] = &statuses[i]
	}
	cur := map[string]Listed{}
	last := map[string]int64{} // offset of each name's last record that counted
	var rej []Listed
	for _, r := range recs {
		l := Listed{DefinitionRecord: r, Status: byRecord[at{r.Partition, r.Offset}]}
		switch {
		case r.Err != nil || (l.Status != nil && l.Status.Status == StatusRejected):
			rej = append(rej, l)
			continue
		case r.Def == nil:
			delete(cur, r.Name)
		default:
			cur[r.Name] = l
		}
		last[r.Name] = r.Offset
	}
	for _, l := range cur {
		standing = append(standing, l)
	}
	sort.Slice(standing, func(i, j int) bool { return standing[i].Name < standing[j].Name })
	for _, l := range rej {
		if o, ok := last[l.Name]; !ok || l.Offset > o {
			rejected = append(rejected, l)
		}
	}
	return standing, rejected
}
