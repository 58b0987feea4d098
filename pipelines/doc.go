// Package pipelines wires alertbeam's transforms into runnable graphs: each
// function builds one pipeline that cmd/alertbeam runs on the runner chosen by
// --runner.
package pipelines
