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
