package archive_test

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/runners"
)

// A streaming archive job: Kafka in, per-night Avro files out, offsets
// committed once the alerts are in final files (or dead-lettered).
func ExampleWrite() {
	p, s := beam.NewPipelineWithRoot()
	kc := kafkaio.Config{Brokers: []string{"localhost:9092"}}
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: kc, TopicPattern: `ztf_\d{8}_programid\d`, Group: "archive"})
	out := archive.Write(s, archive.Config{Root: "gs://my-bucket/alerts", Survey: "ztf"}, recs)
	deadAcks := kafkaio.Write(s, kafkaio.WriteConfig{Config: kc}, out.Dead)
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: kc, Group: "archive", Units: 1}, out.Acks, deadAcks)
	if _, err := runners.Run(context.Background(), p); err != nil {
		fmt.Println(err)
	}
}

// Replaying one night of the archive as a stream of records with the bytes
// they were archived from.
func ExampleRead() {
	p, s := beam.NewPipelineWithRoot()
	recs := archive.Read(s, archive.ReadConfig{Survey: "ztf", Root: "/data/alerts", Night: "20261120"})
	_ = recs // into kafkaio.Write, fanout.Route or the filter graph
	if _, err := runners.Run(context.Background(), p); err != nil {
		fmt.Println(err)
	}
}

// Reading archived records again by the Source Read gave them, in batches:
// e.g. the alerts a stage decided to keep once it had seen their exposure.
func ExampleFetch() {
	p, s := beam.NewPipelineWithRoot()
	cfg := archive.ReadConfig{Survey: "ztf", Root: "/data/alerts", Night: "20261120"}
	file := "/data/alerts/ztf/20261120/programid1/ztf_20261120_programid1_2e3ca42a7603e5b4_000001.avro"
	refs := beam.Create(s, []kafkaio.Source{{Topic: file, Offset: 3, Prev: 2}, {Topic: file, Offset: 7, Prev: 6}})
	recs, missing := archive.Fetch(s, cfg, refs)
	_, _ = recs, missing // kafkaio.Record as Read emitted it; kafkaio.Missing with the error
	if _, err := runners.Run(context.Background(), p); err != nil {
		fmt.Println(err)
	}
}

// Checking a night after the fact.
func ExampleVerify() {
	rep, err := archive.Verify(context.Background(), "gs://my-bucket/alerts", "ztf", "20261120")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rep)
	if !rep.OK() {
		fmt.Println("duplicates:", rep.Duplicates, "unreadable:", rep.Unreadable)
	}
}
