package qa_test

import (
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
	"github.com/alertbeam/alertbeam/transforms/qa"
)

// Validate returns the error Apply would, without building a pipeline.
func TestConfigValidate(t *testing.T) {
	reread := pipelines.RereadKafka(kafkaio.Config{Brokers: []string{"127.0.0.1:9092"}})
	rate := &qa.RateConfig{Limit: 5000}
	for _, tc := range []struct {
		name string
		cfg  qa.Config
		want string
	}{
		{"ok", qa.Config{Survey: "ztf", Rate: rate, Reread: reread}, ""},
		{"no check", qa.Config{Survey: "ztf", Reread: reread}, "qa: no check to apply (set Rate, Spatial or both)"},
		{"survey", qa.Config{Survey: "ptf", Rate: rate, Reread: reread}, `qa: unknown survey "ptf" (want ztf or lsst)`},
		{"registry", qa.Config{Survey: "lsst", Rate: rate, Reread: reread}, "qa: LSST needs a schema registry URL"},
		{"window", qa.Config{Survey: "ztf", Rate: rate, Reread: reread, Window: time.Microsecond}, "qa: Window must be at least 1ms; AllowedLateness and Units must not be negative"},
		{"reread", qa.Config{Survey: "ztf", Rate: rate}, "qa: no way to read kept records back (set Reread, e.g. pipelines.RereadKafka or pipelines.RereadArchive)"},
	} {
		got := ""
		if err := tc.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%s: Validate() = %q, want %q", tc.name, got, tc.want)
		}
	}
}
