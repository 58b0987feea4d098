// Package linefile carries a test pipeline's outputs back to the test: a
// sink DoFn collects a bundle's elements as lines and writes them, when the
// bundle finishes, to a new file of their kind in a directory; the test
// reads every file back by kind once the pipeline has run. Files rather
// than memory, because on a portable runner a DoFn runs in a worker that
// shares nothing with the test.
package linefile
