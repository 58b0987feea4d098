package fanout

import "testing"

// Route panics with what Validate returns, after the same defaults.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Survey: "ztf"}, ""},
		{Config{Survey: "lsst", Registry: "http://127.0.0.1:8081"}, ""},
		{Config{Survey: "ptf"}, `fanout: unknown survey "ptf" (want ztf or lsst)`},
		{Config{Survey: "lsst"}, "fanout: LSST needs a schema registry URL"},
		{Config{Survey: "ztf", Units: -1}, "fanout: Units must be positive, got -1"},
	} {
		got := ""
		if err := tc.cfg.Validate(); err != nil {
			got = err.Error()
		}
		if got != tc.want {
			t.Errorf("%+v: Validate() = %q, want %q", tc.cfg, got, tc.want)
		}
	}
	d := Config{Survey: "ztf"}.withDefaults()
	if d.DeadLetterTopic != "alertbeam-deadletter" || d.Units != 1 {
		t.Errorf("defaults: dead-letter topic %q, units %d; want alertbeam-deadletter, 1", d.DeadLetterTopic, d.Units)
	}
}
