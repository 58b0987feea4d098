package pipelines

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// Each Validate reports exactly the error its Try function would return
// for the config, before anything runs: it builds the graph in a
// pipeline of its own and discards it. Building contacts no broker,
// registry or storage (those are reached when a runner runs the graph), so
// a config is checked without the services it names; what building does
// read, it reads here too (crossmatch catalogs, filter specs).

// Validate reports what TryDistribute would return for c.
func (c DistributeConfig) Validate() error {
	_, err := TryDistribute(scratch(), c)
	return err
}

// Validate reports what TryFilter would return for c.
func (c FilterConfig) Validate() error {
	_, err := TryFilter(scratch(), c)
	return err
}

// Validate reports what TryArchive would return for c.
func (c ArchiveConfig) Validate() error { return TryArchive(scratch(), c) }

// Validate reports what TryReplay would return for c.
func (c ReplayConfig) Validate() error { return TryReplay(scratch(), c) }

// Validate reports what TryProduce would return for c.
func (c ProduceConfig) Validate() error {
	_, err := TryProduce(scratch(), c)
	return err
}

// scratch is the root of a pipeline built only to be checked.
func scratch() beam.Scope { return beam.NewPipeline().Root() }

// Validate reports what TryProduceFiles would return for c.
func (c ProduceFilesConfig) Validate() error {
	_, err := TryProduceFiles(scratch(), c)
	return err
}

// must is a Try function's result, or a panic with its error: the form
// Beam's own transforms take (beam.ParDo panics where beam.TryParDo
// returns the error), for callers whose config is known to be valid.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// check is must for a TryX that returns only an error.
func check(err error) {
	if err != nil {
		panic(err)
	}
}
