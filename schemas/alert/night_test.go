package alert_test

import (
	"testing"

	"github.com/alertbeam/alertbeam/schemas/alert"
)

// Expected dates computed independently (Python datetime) from the values.
func TestTopicNames(t *testing.T) {
	for _, tc := range []struct {
		name, got, want string
	}{
		// The shared sample 2019_01_10_739260766315010006.avro (programid 1).
		{"ztf sample 3.2", alert.ZTFTopic(2458493.7607639, 1), "ztf_20190110_programid1"},
		// The shared sample 472263571115115000.avro (programid 3).
		{"ztf sample 3.3", alert.ZTFTopic(2458226.7635764, 3), "ztf_20180418_programid3"},
		// Rubin's sample: 2025-08-15 23:49:44 UTC, dayObs 2025-08-15.
		{"lsst sample", alert.LSSTTopic(60902.993305483615), "lsst_20250815"},
		// 09:35 UTC on the 16th is still the night of dayObs 15th in Chile.
		{"lsst after midnight", alert.LSSTTopic(60903.4), "lsst_20250815"},
		// 37 s of TAI−UTC decide the day at noon UTC.
		{"lsst at the dayObs boundary, before", alert.LSSTTopic(60903.5 + 36.0/86400), "lsst_20250815"},
		{"lsst at the dayObs boundary, after", alert.LSSTTopic(60903.5 + 38.0/86400), "lsst_20250816"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: got %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}
