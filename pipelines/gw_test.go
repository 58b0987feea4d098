package pipelines_test

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/skymap"
	"github.com/alertbeam/alertbeam/pipelines"
)

// A streaming filter follows a notice topic: an event announced before the
// run applies from the start, one announced mid-stream to the alerts
// processed after it, a retraction removes its event, and a notice that
// does not parse is dead-lettered once while the run goes on. The gw
// output holds exactly the alerts inside a live event's 90% region, each
// naming its event in headers.
func TestFilterGWNoticesMidStream(t *testing.T) {
	b := kafkatest.Start(t, broker.Options{Partitions: 2, Topics: map[string]int32{"gwalerts": 2, "gwnotices": 1}})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	merger := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	coneA, err := skymap.EncodeCone(150, 20, 10)
	if err != nil {
		t.Fatal(err)
	}
	coneB, err := skymap.EncodeCone(200, -10, 8)
	if err != nil {
		t.Fatal(err)
	}
	prod := kafkatest.Producer(t, b.Addr())
	defer prod.Close()
	notice := func(v []byte) {
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "gwnotices", Value: sarama.ByteEncoder(v)}); err != nil {
			t.Fatal(err)
		}
	}
	notice([]byte(`{"superevent_id": "S261129x", "alert_type": "PRELIMINARY"}`)) // no event: dead-lettered
	notice(igwn.Encode("S261129a", igwn.Preliminary, merger, coneA))

	// Alerts: a base simulated packet moved to chosen places, a day after
	// the merger.
	base, codec := simtest.ZTF(t, merger, 5)
	next := int64(1)
	send := func(ra, dec float64) string {
		z := base
		z.Candid, z.Candidate.Candid = next, next
		z.Candidate.RA, z.Candidate.Dec = ra, dec
		z.Candidate.Jd = float64(merger.Add(24*time.Hour).UnixNano())/86400e9 + 2440587.5
		next++
		v, err := codec.Encode(&z)
		if err != nil {
			t.Fatal(err)
		}
		key := strconv.FormatInt(z.Candid, 10)
		if _, _, err := prod.SendMessage(&sarama.ProducerMessage{Topic: "gwalerts", Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(v)}); err != nil {
			t.Fatal(err)
		}
		return key
	}
	inA := [][2]float64{{150, 20}, {152, 21}, {147, 18}}
	inB := [][2]float64{{200, -10}, {201, -9}}
	outside := [][2]float64{{10, 10}, {150, 40}}

	run := startFilter(t, pipelines.FilterConfig{
		Read:  kafkaio.ReadConfig{Config: conn, Topics: []string{"gwalerts"}, Group: "gwtest", IdleAdvance: true},
		Write: kafkaio.WriteConfig{Config: conn, Partitions: 2}, Survey: "ztf",
		Filters: []string{"gw=gw:cl=90,before=1d,after=6d"}, GWTopic: "gwnotices",
	})
	// The test shares the process's notice reader with the pipeline's
	// DoFns (the direct runner runs them here), so it sees what they see.
	events, err := igwn.Follow(igwn.Source{Conn: conn, Topic: "gwnotices"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	processed := func() bool { return kafkatest.Lag(t, b.Addr(), "gwtest", "gwalerts") == 0 }
	want := map[string]string{} // id -> superevent
	batch := func(places [][2]float64, event string) {
		for _, pl := range places {
			if id := send(pl[0], pl[1]); event != "" {
				want[id] = event
			}
		}
	}

	run.until("S261129a applied", func() bool { return events.Len() == 1 })
	batch(inA, "S261129a")
	batch(inB, "") // B is not announced yet
	batch(outside, "")
	run.until("the first batch processed", processed)

	notice(igwn.Encode("S261129b", igwn.Initial, merger.Add(2*time.Hour), coneB))
	run.until("S261129b applied", func() bool { return events.Len() == 2 })
	batch(inA, "S261129a")
	batch(inB, "S261129b")
	batch(outside, "")
	run.until("the second batch processed", processed)

	notice(igwn.Encode("S261129a", igwn.Retraction, time.Time{}, nil))
	run.until("S261129a retracted", func() bool { return events.Len() == 1 })
	batch(inA, "") // retracted
	batch(inB, "S261129b")
	run.until("the third batch processed", processed)
	run.until("the bad notice dead-lettered", func() bool { return kafkatest.Messages(t, b.Addr(), deadletter.DefaultTopic) >= 1 })
	run.until("the notices' offsets committed", func() bool { return kafkatest.Lag(t, b.Addr(), "gwtest.gw", "gwnotices") == 0 })
	run.Stop()

	got := map[string]string{}
	for _, m := range kafkatest.ReadTopic(t, b.Addr(), "gw") {
		got[string(m.Key)] = headers(m)["gw.superevent_id"]
	}
	if fmt.Sprint(sorted(got)) != fmt.Sprint(sorted(want)) {
		t.Fatalf("gw output (id=event) %v, want %v", sorted(got), sorted(want))
	}
	dead := kafkatest.ReadTopic(t, b.Addr(), deadletter.DefaultTopic)
	if len(dead) != 1 || headers(dead[0])[deadletter.HeaderStage] != "gw-notice" {
		t.Fatalf("%d dead letters (%v), want the one bad notice", len(dead), dead)
	}
	t.Logf("kept %d of %d alerts; dead letter: %s", len(got), next-1, headers(dead[0])[deadletter.HeaderError])
}

func sorted(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, v := range m {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
