package sim_test

import (
	"fmt"
	"time"

	"github.com/alertbeam/alertbeam/io/sim"
)

func Example() {
	cfg := sim.Defaults(sim.SurveyZTF)
	cfg.Night = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cfg.Visits, cfg.AlertsPerVisit = 3, 100
	cfg.Artefacts = []sim.Artefact{sim.BleedTrail{Visit: 2, N: 6}}
	g, err := sim.New(cfg)
	if err != nil {
		panic(err)
	}
	trail := 0
	for {
		a, ok := g.Next()
		if !ok {
			break
		}
		if a.Artefact == sim.ArtefactBleedTrail {
			trail++
		}
	}
	fmt.Println(g.Total(), "alerts,", trail, "from the bleed trail; first exposure at", g.VisitTime(0).Format(time.RFC3339))
	// Output: 306 alerts, 6 from the bleed trail; first exposure at 2026-11-24T03:00:00Z
}
