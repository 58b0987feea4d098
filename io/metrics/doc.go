// Package metrics holds the Prometheus metrics of the pipelines running in
// this process and serves them over HTTP (--metrics-addr). The IO and
// transforms update them as they work, so on the direct runner, where every
// DoFn runs in the alertbeam process, /metrics shows the whole pipeline
// live. On Dataflow and Flink the DoFns run in worker processes that serve
// nothing: there the same counts are Beam counters (the alertbeam
// namespace), which the runner's own monitoring shows.
//
// Names follow Prometheus conventions: counters end in _total, durations
// are histograms in _seconds, and every metric is alertbeam_*. Labels name
// only things the code or the command line fixes (topics, stages, filters,
// output kinds, nights of the archive), never an alert.
package metrics
