// Package fanout routes alerts to per-night topics, named as package
// schemas/alert names them (ztf_YYYYMMDD_programidN, lsst_YYYYMMDD).
package fanout
