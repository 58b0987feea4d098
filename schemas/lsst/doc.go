// Package lsst holds the Go types of a Rubin/LSST alert packet (schema
// 10.0), as hamba/avro decodes them. lsst_gen.go is generated from the .avsc
// files in schemas/avsc/lsst by `go generate ./schemas` (see
// schemas/generate.go); edit the schemas, not the generated file.
package lsst
