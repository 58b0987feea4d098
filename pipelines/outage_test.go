package pipelines_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/gcstest"
	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
)

// With the archive's GCS bucket unreachable for 60 s mid-night, a
// streaming Distribute with the archive keeps running: it commits no offset
// while the archive cannot write (nothing is acknowledged), retries, and
// once GCS is back archives every alert exactly once, delivers every alert
// to its night topic and commits to the end of the stream.
func TestDistributeArchiveRidesOutGCSOutage(t *testing.T) {
	const outage = 60 * time.Second
	emu := gcstest.Shared(t)
	root := emu.Root("night")
	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"ingest": 2}})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}

	c := sim.Defaults(sim.SurveyZTF)
	c.Night, c.Seed, c.Visits, c.AlertsPerVisit = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC), 11, 8, 100
	spec := pipelines.SpecOf(c)
	msgs, perTopic := map[int64][]byte{}, map[string]int{}
	expected(t, spec, msgs, perTopic)
	g := simtest.New(t, spec.Config())
	prod := kafkatest.Producer(t, b.Addr())
	defer prod.Close()
	send := func(visits ...int) {
		for _, v := range visits {
			var batch []*sarama.ProducerMessage
			for _, a := range g.Visit(v) {
				batch = append(batch, &sarama.ProducerMessage{Topic: "ingest", Key: sarama.StringEncoder(strconv.FormatInt(a.ZTF.Candid, 10)),
					Value: sarama.ByteEncoder(msgs[a.ZTF.Candid])})
			}
			if err := prod.SendMessages(batch); err != nil {
				t.Fatal(err)
			}
		}
	}

	p, s := beam.NewPipelineWithRoot()
	pipelines.Distribute(s, pipelines.DistributeConfig{
		Read:    kafkaio.ReadConfig{Config: conn, Topics: []string{"ingest"}, Group: "outage", IdleAdvance: true},
		Write:   kafkaio.WriteConfig{Config: conn, Partitions: 2},
		Survey:  "ztf",
		Archive: &archive.Config{Root: root, Window: 2 * time.Second},
	})
	run := runLive(t, p)
	// waitCommitted waits until the group has committed the whole topic.
	waitCommitted := func(what string) {
		t.Helper()
		run.until("the whole topic committed "+what, func() bool { return kafkatest.Lag(t, b.Addr(), "outage", "ingest") == 0 })
	}

	send(0, 1, 2, 3)
	waitCommitted("before the outage")
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	emu.Down()
	start := time.Now()
	send(4, 5, 6, 7)
	var peak uint64
	for time.Since(start) < outage {
		select {
		case <-run.Ended():
			t.Fatalf("the pipeline ended during the storage outage: %v", run.Err())
		case <-time.After(time.Second):
		}
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		peak = max(peak, m.HeapInuse)
	}
	lag := kafkatest.Lag(t, b.Addr(), "outage", "ingest")
	if want := int64(4 * c.AlertsPerVisit); lag != want {
		t.Errorf("after %s of storage outage the group is %d records behind, want the %d sent since: nothing may commit", outage, lag, want)
	}
	t.Logf("heap in use: %d MB before the outage, at most %d MB during it", before.HeapInuse>>20, peak>>20)
	if err := emu.Up(); err != nil {
		t.Fatal(err)
	}
	recovered := time.Now()
	waitCommitted("after the outage")
	t.Logf("committed to the end %s after GCS came back", time.Since(recovered).Round(100*time.Millisecond))
	run.Stop()

	total := 0
	for topic, n := range perTopic {
		got := kafkatest.ReadTopic(t, b.Addr(), topic)
		ids := map[string]bool{}
		for _, m := range got {
			ids[string(m.Key)] = true
		}
		if len(ids) != n {
			t.Errorf("%s holds %d distinct alerts, want %d", topic, len(ids), n)
		}
		total += n
	}
	rep, err := archive.Verify(context.Background(), root, "ztf", "20261128")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Records != int64(len(msgs)) || total != len(msgs) {
		t.Fatalf("archive: %d records (%d duplicates, %d unreadable), topics %d; want each of the %d once",
			rep.Records, len(rep.Duplicates), len(rep.Unreadable), total, len(msgs))
	}
}
