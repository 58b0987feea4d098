// Package discard ends the PCollections a pipeline does not read further
// (the acknowledgements of a write nothing commits, commit reports), in a
// stage of their own.
//
// Why a pipeline needs this: prism (Beam v2.77) waits for a bundle by
// polling, with no pause, a channel that is closed from the start when the
// bundle's stage has no outputs. A stage whose results nobody reads (a
// Kafka write whose acks are dropped, the offset commit) therefore keeps a
// core busy for as long as each of its bundles runs: all of a replay or a
// produce run, every commit's round trip to the broker. On this project's
// 2-core benchmark machine that was about a fifth of the CPU of a live run
// and 40% of the latency to the per-night topics. Reading such a
// PCollection after a Reshuffle gives its stage an output; on prism the
// Reshuffle moves nothing (it only starts a new stage), and on other
// runners it shuffles the small acknowledgements and reports it is given.
package discard
