// Package runners runs alertbeam pipelines on the runner named by --runner.
//
// alertbeam's names differ from Beam Go's registry on purpose: in Beam Go
// v2.77 "direct" is the old direct runner (it drops splittable-DoFn
// continuations) and plain "prism" splits splittable DoFns dynamically, which
// lost 23–50% of Kafka records in windowed pipelines. Here "direct" (the
// default) and "prism" both mean prism in-process with SDF splitting
// disabled, so the Kafka read is lossless.
package runners
