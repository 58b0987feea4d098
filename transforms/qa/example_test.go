package qa_test

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func init() {
	register.Function1x0(printFlag)
}

func printFlag(f qa.Flag) {
	fmt.Printf("%s %s: %d alerts on units %v, %s\n", f.Check, f.Kind, f.Count, f.Units, f.Action)
}

// A generated ZTF night of three exposures, the last with a bleed trail
// beside a saturated star, read from a broker through the spatial check on
// the direct runner. Kept alerts are read back from the same broker once
// their exposure is decided.
func Example() {
	b, err := broker.Start(broker.Options{})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}

	night := sim.Defaults(sim.SurveyZTF)
	night.Night, night.Visits, night.AlertsPerVisit, night.NoCutouts = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC), 3, 50, true
	night.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 2, N: 8}}
	p, s := beam.NewPipelineWithRoot()
	pipelines.Produce(s, pipelines.ProduceConfig{Night: pipelines.SpecOf(night), Topic: "ztf", Write: kafkaio.WriteConfig{Config: conn}})
	if _, err := runners.Run(context.Background(), p); err != nil {
		panic(err)
	}

	p, s = beam.NewPipelineWithRoot()
	// QA groups exposures by observation time: read with the survey's
	// event-time policy.
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: conn, Topics: []string{"ztf"}, StopAtEnd: true, EventTime: "ztf"})
	out := qa.Apply(s, qa.Config{Survey: "ztf", Spatial: &qa.SpatialConfig{}, Reread: pipelines.RereadKafka(conn)}, recs)
	beam.ParDo0(s, printFlag, out.Flags)
	if _, err := runners.Run(context.Background(), p); err != nil {
		panic(err)
	}
	// Output: spatial bleed-trail: 8 alerts on units [10], reject
}

func ExampleParseSpec() {
	rate, spatial, err := qa.ParseSpec("rate=5000:throttle=100,spatial=k=5:r=20")
	if err != nil {
		panic(err)
	}
	fmt.Printf("rate: over %d alerts, %s to %d\n", rate.Limit, rate.Action, rate.Throttle)
	fmt.Printf("spatial: over %d candidates within %g arcsec\n", spatial.K, spatial.Radius)
	_, _, err = qa.ParseSpec("rate=3x:trottle=100")
	fmt.Println(err)
	// Output:
	// rate: over 5000 alerts, throttle to 100
	// spatial: over 5 candidates within 20 arcsec
	// qa: rate: unknown option "trottle=100" (want a threshold N or Fx, reject, flag, throttle=K, by=exposure|ccd|quadrant, min=N, pick=snr|hash, history=N, span=DURATION)
}

// Ten candidates 3 arcsec apart down one pixel column of readout quadrant
// 12, on both sides of a star, are a bleed trail.
func ExampleFindGroups() {
	var pts []qa.Point
	for i := range 10 {
		m := float64(i/2 + 1)
		if i%2 == 1 {
			m = -m
		}
		pts = append(pts, qa.Point{ID: int64(i + 1), RA: 150, Dec: 2 + 3*m/3600, Unit: 12, X: 1500, Y: float32(2000 + 3*m)})
	}
	pts = append(pts, qa.Point{ID: 99, RA: 150.2, Dec: 2.1, Unit: 12, X: float32(math.NaN()), Y: float32(math.NaN())})
	for _, g := range qa.FindGroups(pts, qa.SpatialConfig{}) {
		fmt.Printf("%s of %d, %.0f arcsec long, on units %v\n", g.Kind, len(g.Members), g.Length, g.Units)
	}
	// Output: bleed-trail of 10, 30 arcsec long, on units [12]
}
