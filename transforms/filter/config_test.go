package filter_test

import (
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Validate returns the error Apply would, without building a pipeline.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  filter.Config
		want string
	}{
		{filter.Config{Survey: "ztf", Filters: []string{"rb", "bright"}}, ""},
		{filter.Config{Survey: "ztf"}, "filter: no filters to apply"},
		{filter.Config{Survey: "ptf", Filters: []string{"rb"}}, `filter: unknown survey "ptf" (want ztf or lsst)`},
		{filter.Config{Survey: "lsst", Filters: []string{"rb"}}, "filter: LSST needs a schema registry URL"},
		{filter.Config{Survey: "ztf", Filters: []string{"rb"}, CapPerVisit: -1}, "filter: negative Units, CapPerVisit or CapWindow"},
		{filter.Config{Survey: "ztf", Filters: []string{"rb"}, Definitions: &filter.Definitions{}}, "filter: Definitions without a topic"},
	} {
		got := ""
		if err := tc.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: Validate() = %q, want %q", tc.cfg, got, tc.want)
		}
	}
	// A spec that does not build fails Validate as it fails Apply.
	if err := (filter.Config{Survey: "ztf", Filters: []string{"nosuchfilter"}}).Validate(); err == nil {
		t.Error("Validate accepted an unknown filter name")
	}
}

// CapConfig.Validate returns the error Cap would.
func TestCapConfigValidate(t *testing.T) {
	reread := filter.Reread(func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return kafkaio.Fetch(s, kafkaio.Config{Brokers: []string{"127.0.0.1:1"}}, refs) // never dialled: nothing runs
	})
	for _, tc := range []struct {
		cfg  filter.CapConfig
		want string
	}{
		{filter.CapConfig{N: 20, Reread: reread}, ""},
		{filter.CapConfig{N: -1, Reread: reread}, "filter: Cap with a negative N or Window"},
		{filter.CapConfig{N: 20, Window: -time.Second, Reread: reread}, "filter: Cap with a negative N or Window"},
		{filter.CapConfig{N: 20}, "filter: a per-visit cap needs Reread, to read kept alerts back once their visit is decided"},
	} {
		got := ""
		if err := tc.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("N %d Window %v: Validate() = %q, want %q", tc.cfg.N, tc.cfg.Window, got, tc.want)
		}
		_, s := beam.NewPipelineWithRoot()
		if _, err := filter.TryCap(s, tc.cfg, beam.Create(s, filter.Kept{})); (err == nil) != (tc.want == "") {
			t.Errorf("N %d Window %v: Cap returned %v, Validate %q", tc.cfg.N, tc.cfg.Window, err, tc.want)
		}
	}
}
