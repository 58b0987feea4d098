package pipelines

import "github.com/apache/beam/sdks/v2/go/pkg/beam"

// Each Validate reports exactly the error its pipeline function would
// return for the config, before anything runs: it builds the graph in a
// pipeline of its own and discards it. Building contacts no broker,
// registry or storage (those are reached when a runner runs the graph), so
// a config is checked without the services it names; what building does
// read, it reads here too (crossmatch catalogs, filter specs).

// Validate reports what Distribute would return for c.
func (c DistributeConfig) Validate() error {
	_, err := Distribute(scratch(), c)
	return err
}

// Validate reports what Filter would return for c.
func (c FilterConfig) Validate() error {
	_, err := Filter(scratch(), c)
	return err
}

// Validate reports what Archive would return for c.
func (c ArchiveConfig) Validate() error { return Archive(scratch(), c) }

// Validate reports what Replay would return for c.
func (c ReplayConfig) Validate() error { return Replay(scratch(), c) }

// Validate reports what Produce would return for c.
func (c ProduceConfig) Validate() error {
	_, err := Produce(scratch(), c)
	return err
}

// scratch is the root of a pipeline built only to be checked.
func scratch() beam.Scope { return beam.NewPipeline().Root() }
