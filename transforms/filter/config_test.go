package filter_test

import (
	"testing"

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
