// Package alert is the alert model every stage shares, low in the import
// graph so that IO (the archive) and the transforms agree on it without
// importing one another: which night and program an alert belongs to
// (Identity, Identify), the surveys' time scales, and the per-night topic
// names.
//
// Topic names follow ZTF's public streams: ztf_YYYYMMDD_programidN, where the
// date is the UTC date of the exposure (candidate.jd; Palomar's nights fall
// inside one UTC date) and N the program (1 public, 2 partnership, 3
// Caltech), so access can be granted per program. LSST alerts go to
// lsst_YYYYMMDD, where the date is Rubin's dayObs: the date of the
// observation time, converted from TAI to UTC, minus 12 hours, so one Chilean
// night is one topic.
package alert

import (
	"fmt"
	"math"
	"time"
)

const (
	// unixEpochJD is the Julian date of 1970-01-01T00:00:00 UTC.
	unixEpochJD = 2440587.5
	// unixEpochMJD is the modified Julian date of the Unix epoch.
	unixEpochMJD = 40587.0
	// taiMinusUTC is TAI−UTC since 2017-01-01 (no leap second since).
	taiMinusUTC = 37 * time.Second
	// dayObsOffset: Rubin's observing day rolls over at noon UTC−12.
	dayObsOffset = 12 * time.Hour
)

// JDTime converts a (UTC) Julian date to a time, to the millisecond.
func JDTime(jd float64) time.Time {
	return time.UnixMilli(int64(math.Round((jd - unixEpochJD) * 86400e3))).UTC()
}

// MJDTAITime converts a TAI modified Julian date to UTC.
func MJDTAITime(mjdTAI float64) time.Time {
	tai := time.UnixMilli(int64(math.Round((mjdTAI - unixEpochMJD) * 86400e3))).UTC()
	return tai.Add(-taiMinusUTC)
}

// ZTFNight is the night (UTC date) of a ZTF exposure.
func ZTFNight(jd float64) time.Time { return day(JDTime(jd)) }

// LSSTDayObs is Rubin's dayObs of an observation.
func LSSTDayObs(mjdTAI float64) time.Time { return day(MJDTAITime(mjdTAI).Add(-dayObsOffset)) }

func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// ZTFTopic is the per-night topic of a ZTF alert.
func ZTFTopic(jd float64, programid int) string { return ztfTopic(ZTFNight(jd), programid) }

// LSSTTopic is the per-night topic of an LSST alert.
func LSSTTopic(mjdTAI float64) string { return lsstTopic(LSSTDayObs(mjdTAI)) }

func ztfTopic(night time.Time, programid int) string {
	return fmt.Sprintf("ztf_%s_programid%d", night.Format("20060102"), programid)
}

func lsstTopic(night time.Time) string { return "lsst_" + night.Format("20060102") }
