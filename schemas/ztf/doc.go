// Package ztf holds the Go types of a ZTF alert packet (schema 4.02), as
// hamba/avro decodes them. ztf_gen.go is generated from the .avsc files in
// schemas/avsc/ztf by `go generate ./schemas` (see schemas/generate.go);
// edit the schemas, not the generated file.
package ztf
