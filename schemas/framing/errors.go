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

import (
	"errors"
	"fmt"
)

// Kinds of bad input. Test with errors.Is.
var (
	ErrTruncated     = errors.New("truncated message")
	ErrBadMagic      = errors.New("wrong magic bytes")
	ErrUnknownSchema = errors.New("unknown schema id")
	ErrRecordCount   = errors.New("container does not hold exactly one record")
	ErrBadSchema     = errors.New("unusable writer schema")
	ErrBadCodec      = errors.New("unsupported or corrupt compression")
	ErrCorrupt       = errors.New("corrupt Avro datum")
	ErrIncompatible  = errors.New("writer schema cannot be resolved to the reader schema")
)

// Error describes why a message could not be framed or decoded.
type Error struct {
	Kind   error  // one of the Err* sentinels
	Format string // "ocf" or "wire"
	Detail string
	Err    error // underlying cause, if any
}

func (e *Error) Error() string {
	msg := "framing: " + e.Format + ": " + e.Kind.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

func newErr(format string, kind error, cause error, detail string, args ...any) *Error {
	return &Error{Kind: kind, Format: format, Detail: fmt.Sprintf(detail, args...), Err: cause}
}
