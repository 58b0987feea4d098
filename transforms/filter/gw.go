package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/alertbeam/alertbeam/io/igwn"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// The gw filter matches alerts against the gravitational-wave events of
// IGWN notices (io/igwn) that the pipeline follows (Config.GW, --gw-topic):
// a notice applies to the alerts processed after it was read, a retraction
// removes its event.

func init() {
	RegisterFactory("gw", "inside the cl% credible region of a gravitational-wave event's sky map (ZTF candidate.ra/dec, "+
		"LSST diaSource.ra/dec), the observation being at most before ahead of the event and at most after behind it. "+
		"Events come from IGWN notices on the pipeline's --gw-topic, each applying to the alerts processed after it is read; "+
		"a RETRACTION removes its event. Kept alerts carry headers gw.superevent_id, gw.credible_level and gw.probdensity "+
		"(per steradian) of the event of lowest credible level.",
		[]Param{
			{Name: "cl", Default: "90", Doc: "credible region, percent (0 to 100]"},
			{Name: "before", Default: "1d", Doc: "how long before the event an observation still counts (d, h, m or s)"},
			{Name: "after", Default: "6d", Doc: "how long after the event an observation still counts (d, h, m or s)"},
		}, nil, gwFilter)
}

// days parses a duration with a d (days), h, m or s suffix.
func days(p Params, name string) (time.Duration, error) {
	v := strings.TrimSpace(p[name])
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'h': time.Hour, 'm': time.Minute, 's': time.Second}
	if v == "" || unit[v[len(v)-1]] == 0 {
		return 0, fmt.Errorf("parameter %s=%q: want a number with d, h, m or s, e.g. 1d", name, p[name])
	}
	x, err := strconv.ParseFloat(v[:len(v)-1], 64)
	if err != nil || x < 0 || math.IsInf(x, 0) {
		return 0, fmt.Errorf("parameter %s=%q: want a non-negative number with d, h, m or s, e.g. 1d", name, p[name])
	}
	return time.Duration(x * float64(unit[v[len(v)-1]])), nil
}

func gwFilter(_ string, p Params) (*Filter, error) {
	cl, err := rangeParam(p, "cl", 0, 100)
	if err != nil {
		return nil, err
	}
	if cl == 0 {
		return nil, fmt.Errorf("parameter cl=0: the 0%% credible region holds nothing")
	}
	before, err := days(p, "before")
	if err != nil {
		return nil, err
	}
	after, err := days(p, "after")
	if err != nil {
		return nil, err
	}
	doc := fmt.Sprintf("inside the %v%% credible region of a GW event, observed from %s before to %s after it", cl, before, after)
	f := NewTransform("gw", doc, func(a *Alert) (*Alert, error) {
		if a.gw == nil {
			return nil, fmt.Errorf("the gw filter needs gravitational-wave notices: give the pipeline --gw-topic (Config.GW), or call Alert.WithGW")
		}
		ra, dec := a.Position()
		m, ok := a.gw.Match(ra, dec, a.Time(), before, after, cl/100)
		if !ok {
			return nil, nil
		}
		return a.Annotated(
			kafkaio.Header{Key: "gw.superevent_id", Value: []byte(m.SupereventID)},
			kafkaio.Header{Key: "gw.credible_level", Value: []byte(strconv.FormatFloat(m.Level, 'g', 6, 64))},
			kafkaio.Header{Key: "gw.probdensity", Value: []byte(strconv.FormatFloat(m.Density, 'g', 6, 64))},
		), nil
	})
	f.needs = []catalogRef{gwRef}
	return f, nil
}

// WithGW makes gravitational-wave events available to the gw filters that
// run on a, and returns a. Pipelines do it for every alert when they
// follow a notice topic; call it yourself to run gw on an alert in Go.
func (a *Alert) WithGW(e *igwn.Events) *Alert {
	a.gw = e
	return a
}

// usesGW reports whether any of fs reads gravitational-wave events.
func usesGW(fs []*Filter) bool {
	return slices.Contains(needsOf(fs), gwRef)
}
