package qa_test

import (
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		spec    string
		rate    *qa.RateConfig
		spatial *qa.SpatialConfig
	}{
		{"", nil, nil},
		{"rate=3x", &qa.RateConfig{Factor: 3}, nil},
		{"rate=2.5x:flag", &qa.RateConfig{Factor: 2.5, Action: qa.ActionFlag}, nil},
		{"rate=5000:throttle=100", &qa.RateConfig{Limit: 5000, Action: qa.ActionThrottle, Throttle: 100, Pick: qa.PickSNR}, nil},
		{"rate=3x:by=quadrant:min=20:history=20:span=1h", &qa.RateConfig{Factor: 3, By: qa.ByQuadrant, Min: 20, History: 20, Span: time.Hour}, nil},
		{"rate=4x:throttle=50:pick=hash:by=ccd", &qa.RateConfig{Factor: 4, Action: qa.ActionThrottle, Throttle: 50, Pick: qa.PickHash, By: qa.ByCCD}, nil},
		{"spatial", nil, &qa.SpatialConfig{}},
		{"spatial=k=5:r=20", nil, &qa.SpatialConfig{K: 5, Radius: 20}},
		{"spatial=line=12:width=0.5:gap=300:flag", nil, &qa.SpatialConfig{Line: 12, Width: 0.5, Gap: 300, Action: qa.ActionFlag}},
		{"spatial=line=off:r=15arcsec", nil, &qa.SpatialConfig{Line: -1, Radius: 15}},
		{" rate=3x , spatial=k=5:r=20 ", &qa.RateConfig{Factor: 3}, &qa.SpatialConfig{K: 5, Radius: 20}},
	} {
		rate, spatial, err := qa.ParseSpec(tc.spec)
		if err != nil {
			t.Errorf("%q: %v", tc.spec, err)
			continue
		}
		if !eq(rate, tc.rate) || !eq(spatial, tc.spatial) {
			t.Errorf("%q = %+v, %+v; want %+v, %+v", tc.spec, rate, spatial, tc.rate, tc.spatial)
		}
	}
}

func eq[T comparable](a, b *T) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

// Every mistake is named, with what would be right.
func TestParseSpecErrors(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		{"rate", "rate needs a threshold"},
		{"rate=", "options missing"},
		{"rate=0", "positive count"},
		{"rate=-3x", "positive multiple"},
		{"rate=3y", "unknown option or threshold"},
		{"rate=3x:5000", "threshold given twice"},
		{"rate=3x:trottle=100", `unknown option "trottle=100"`},
		{"rate=3x:throttle=0", "positive integer"},
		{"rate=3x:throttle=10:flag", "two actions"},
		{"rate=3x:by=field", "by=field: want exposure, ccd or quadrant"},
		{"rate=3x:pick=hash", "add throttle=K"},
		{"rate=3x:span=soon", "span=soon"},
		{"rate=3x,rate=4x", "rate given twice"},
		{"rate=3x::flag", "empty option"},
		{"spatial=k=0", "k=0"},
		{"spatial=r=-1", "positive number of arcseconds"},
		{"spatial=k=5:k=6", "k given twice"},
		{"spatial=line=1", "line=1"},
		{"spatial=throttle", "throttle is a rate action"},
		{"spatial=radius=20", `unknown option "radius=20"`},
		{"spatial=reject:flag", "two actions"},
		{"spatial=gap=7200", "at most 3600"},
		{"sptial=k=5", `unknown check "sptial"`},
		{"rate=3x,,spatial", "empty check"},
	} {
		_, _, err := qa.ParseSpec(tc.spec)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "qa: ") {
			t.Errorf("%q: error %v, want one containing %q", tc.spec, err, tc.want)
		}
	}
}

// Apply reports bad configurations before anything runs.
func TestApplyConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  qa.Config
		want string
	}{
		{qa.Config{Survey: "ztf"}, "no check"},
		{qa.Config{Survey: "hst", Spatial: &qa.SpatialConfig{}}, "unknown survey"},
		{qa.Config{Survey: "lsst", Spatial: &qa.SpatialConfig{}}, "registry"},
		{qa.Config{Survey: "ztf", Rate: &qa.RateConfig{}}, "exactly one threshold"},
		{qa.Config{Survey: "ztf", Rate: &qa.RateConfig{Limit: 10, Factor: 2}}, "exactly one threshold"},
		{qa.Config{Survey: "ztf", Rate: &qa.RateConfig{Limit: 10, Action: qa.ActionThrottle}}, "how many alerts to keep"},
		{qa.Config{Survey: "ztf", Spatial: &qa.SpatialConfig{Action: qa.ActionThrottle}}, "rate action"},
		{qa.Config{Survey: "ztf", Spatial: &qa.SpatialConfig{}, Window: -time.Second}, "Window"},
		{qa.Config{Survey: "ztf", Spatial: &qa.SpatialConfig{}, AllowedLateness: -time.Second}, "AllowedLateness"},
		{qa.Config{Survey: "ztf", Spatial: &qa.SpatialConfig{}}, "read kept records back"},
	} {
		_, s := beam.NewPipelineWithRoot()
		recs := beam.CreateList(s, []kafkaio.Record{})
		if _, err := qa.TryApply(s, tc.cfg, recs); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}
