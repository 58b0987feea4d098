// Package framing turns Kafka message values into Avro datums and back, for the
// two framings alert streams use:
//
//   - ZTF: each message is a whole Avro object container file holding one
//     record, with its writer schema in the header (Container, ParseContainer).
//   - LSST: the Confluent wire format, a zero magic byte, a 4-byte big-endian
//     schema id and the Avro binary datum (AppendWire, ParseWire), with the
//     schema resolved through a schema registry.
//
// Codec decodes either framing into Go structs, resolving older writer schemas
// to the current reader schema and caching every parsed writer schema.
//
// Every failure is a *Error whose Kind is one of the Err* sentinels, so callers
// route bad input to a dead-letter output by kind (errors.Is) and never panic.
package framing
