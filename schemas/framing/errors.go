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
