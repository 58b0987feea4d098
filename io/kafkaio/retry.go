package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/IBM/sarama"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
)

// DefaultRetryTimeout is how long a transient Kafka error (a broker down,
// a leader election, a coordinator loading its offsets) is retried before
// the pipeline gives up: long enough for a broker restart or a rolling
// upgrade, short enough that a cluster that is really gone is reported.
const DefaultRetryTimeout = 5 * time.Minute

// Transient reports whether a Kafka error may go away by itself, so the
// operation is worth retrying: a broker that is down or restarting, a
// partition whose leader is being elected, too few in-sync replicas for
// now, a coordinator still loading offsets, a network failure. Every error
// is, but those no retry mends: authentication, an untrusted or expired
// certificate, authorization, a message too large, an invalid request or
// configuration, and a cancelled context. Retries are bounded in time
// (Config.RetryTimeout), so an error wrongly taken as transient costs a
// delay, never a hang. It is the one classifier every retry in this
// package uses.
func Transient(err error) bool {
	return err != nil && !fatal(err) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// fatal recognises the errors no retry mends, even wrapped in a transient
// one (sarama reports a failed TLS handshake as "out of brokers").
func fatal(err error) bool {
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		host      x509.HostnameError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		header    tls.RecordHeaderError
		cfgErr    sarama.ConfigurationError
	)
	switch {
	case errors.As(err, &unknownCA), errors.As(err, &invalid), errors.As(err, &host), errors.As(err, &verify),
		errors.As(err, &alert), errors.As(err, &header), errors.As(err, &cfgErr):
		return true
	}
	for _, k := range []sarama.KError{sarama.ErrSASLAuthenticationFailed, sarama.ErrUnsupportedSASLMechanism,
		sarama.ErrIllegalSASLState, sarama.ErrTopicAuthorizationFailed, sarama.ErrGroupAuthorizationFailed,
		sarama.ErrClusterAuthorizationFailed, sarama.ErrTransactionalIDAuthorizationFailed,
		sarama.ErrMessageSizeTooLarge, sarama.ErrInvalidTopic, sarama.ErrUnsupportedVersion,
		sarama.ErrInvalidRequiredAcks, sarama.ErrPolicyViolation,
		sarama.ErrInvalidReplicationFactor, sarama.ErrInvalidPartitions, sarama.ErrInvalidConfig} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

// backoff is the wait before retry number attempt (0-based): doubling from
// 250 ms to at most 10 s.
func backoff(attempt int) time.Duration {
	d := 250 * time.Millisecond << min(attempt, 6)
	return min(d, 10*time.Second)
}

// retry calls op until it succeeds, fails with an error that is not
// Transient, ctx ends, or timeout passes since the first failure. It logs
// one warning when op starts failing and one when it recovers, not one per
// attempt. what names the operation in those lines and in the error.
func retry(ctx context.Context, what string, timeout time.Duration, op func() error) error {
	if timeout <= 0 {
		timeout = DefaultRetryTimeout
	}
	var first time.Time
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil {
			if attempt > 0 {
				log.Warnf(ctx, "kafkaio: %s: recovered after %v", what, time.Since(first).Round(time.Millisecond))
			}
			return nil
		}
		if !Transient(err) {
			return fmt.Errorf("kafkaio: %s: %w", what, err)
		}
		if attempt == 0 {
			first = time.Now()
			log.Warnf(ctx, "kafkaio: %s: %v (retrying for up to %v)", what, err, timeout)
		}
		if time.Since(first) >= timeout {
			return fmt.Errorf("kafkaio: %s: still failing after %v: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kafkaio: %s: %w (after %v)", what, err, time.Since(first).Round(time.Millisecond))
		case <-time.After(backoff(attempt)):
		}
	}
}

// outage tracks whether something (a partition, a group's commits) is
// failing, so that a long outage is reported once when it starts and once
// when it ends, and given up on after a timeout.
type outage struct {
	mu    sync.Mutex
	since map[string]time.Time
}

// fail records a failure of key and reports how long key has been failing
// and whether this is the first failure of the outage.
func (o *outage) fail(key string) (d time.Duration, first bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since == nil {
		o.since = map[string]time.Time{}
	}
	s, ok := o.since[key]
	if !ok {
		o.since[key] = time.Now()
		return 0, true
	}
	return time.Since(s), false
}

// ok records a success of key and reports how long the outage it ends
// lasted, or 0 if key was not failing.
func (o *outage) ok(key string) time.Duration {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, failing := o.since[key]
	if !failing {
		return 0
	}
	delete(o.since, key)
	return time.Since(s)
}
