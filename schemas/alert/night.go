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
