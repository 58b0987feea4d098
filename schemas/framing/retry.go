package framing

import (
	"context"
	"errors"
	"time"
)

// BadInput says whether err is the message's fault: a *Error (not framed
// as the survey frames alerts, a schema id the registry does not know, a
// datum that does not decode). Such a message goes to the dead-letter
// output; any other error (a registry that does not answer) is worth
// retrying.
func BadInput(err error) bool {
	var fe *Error
	return errors.As(err, &fe)
}

// Retry policy of Retry: five attempts, 200 ms before the second, doubling.
const (
	retryAttempts = 5
	retryFirst    = 200 * time.Millisecond
)

// Retry runs try until it succeeds, fails with bad input (BadInput), ctx
// ends, or five attempts have failed, waiting 200 ms after the first
// failure and twice as long after each next one (3 s in all). The
// pipelines decode with it because prism fails the whole job on a bundle
// error, so a schema registry that blinks must cost a few seconds, not the
// stream.
func Retry[T any](ctx context.Context, try func() (T, error)) (T, error) {
	var zero T
	var err error
	for attempt := range retryAttempts {
		var v T
		if v, err = try(); err == nil {
			return v, nil
		}
		if BadInput(err) || attempt == retryAttempts-1 {
			break
		}
		select {
		case <-ctx.Done():
			return zero, ctx.Err()
		case <-time.After(retryFirst << attempt):
		}
	}
	return zero, err
}
