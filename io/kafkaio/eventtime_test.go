package kafkaio

import (
	"context"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/internal/simtest"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// The survey event-time policies are built in and read the observation
// time from the packet: the shared ZTF sample's jd, a generated LSST
// alert's midpointMjdTai.
func TestObservationEventTime(t *testing.T) {
	for _, survey := range []string{schemas.ZTF, schemas.LSST} {
		cfg := ReadConfig{Config: Config{Brokers: []string{"x:1"}}, Topics: []string{"t"}, EventTime: survey}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("the %s policy is not built in: %v", survey, err)
		}
	}
	msg := samples.Read(t, "data", "ztf", "2019_01_10_739260766315010006.avro")
	got, err := observationTime(schemas.ZTF)(Record{Value: msg})
	if err != nil {
		t.Fatal(err)
	}
	// The truth from a full decode of the packet.
	zc, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	var full ztf.Alert
	if err := zc.Decode(context.Background(), msg, &full); err != nil {
		t.Fatal(err)
	}
	if want := alert.JDTime(full.Candidate.Jd); !got.Equal(want) || got.Year() != 2019 {
		t.Fatalf("ztf event time %v, want %v (jd %v)", got, want, full.Candidate.Jd)
	}
	if _, err := observationTime(schemas.ZTF)(Record{Value: []byte("junk")}); err == nil {
		t.Fatal("junk has an observation time")
	}

	c := sim.Defaults(sim.SurveyLSST)
	c.Night, c.Visits, c.AlertsPerVisit, c.NoCutouts = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), 1, 1, true
	g := simtest.New(t, c)
	a, _ := g.Next()
	codec, err := framing.NewLSST(nil)
	if err != nil {
		t.Fatal(err)
	}
	wire, err := codec.Encode(a.LSST)
	if err != nil {
		t.Fatal(err)
	}
	got, err = observationTime(schemas.LSST)(Record{Value: wire})
	if want := alert.MJDTAITime(a.LSST.DiaSource.MidpointMjdTai); err != nil || !got.Equal(want) {
		t.Fatalf("lsst event time %v (%v), want %v", got, err, want)
	}
}
