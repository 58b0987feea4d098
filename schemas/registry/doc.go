// Package registry is a client for the Confluent schema-registry REST API (the
// API Rubin's alert stream uses for its Avro schemas) with a cache of parsed
// schemas, and an in-process registry server seeded with alertbeam's schema
// versions for tests and the zero-setup demo.
package registry
