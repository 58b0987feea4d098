package kafkaio

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Transient sorts errors into what a broker outage causes (retried) and
// what no retry mends (fails at once), also when sarama wraps them.
func TestTransient(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"no leader", sarama.ErrNotLeaderForPartition, true},
		{"leader not available", sarama.ErrLeaderNotAvailable, true},
		{"not enough replicas", sarama.ErrNotEnoughReplicas, true},
		{"coordinator loading", sarama.ErrOffsetsLoadInProgress, true},
		{"connection refused", refused, true},
		{"out of brokers, refused", sarama.Wrap(sarama.ErrOutOfBrokers, refused), true},
		{"wrapped by a producer error", fmt.Errorf("producing to t: %w", sarama.ErrNotEnoughReplicasAfterAppend), true},
		{"wrong password", sarama.ErrSASLAuthenticationFailed, false},
		{"untrusted CA behind out of brokers", sarama.Wrap(sarama.ErrOutOfBrokers, &net.OpError{Op: "remote error", Err: x509.UnknownAuthorityError{}}), false},
		{"expired certificate", x509.CertificateInvalidError{Reason: x509.Expired}, false},
		{"message too large", sarama.ErrMessageSizeTooLarge, false},
		{"topic authorization", sarama.ErrTopicAuthorizationFailed, false},
		{"cancelled", context.Canceled, false},
		{"nil", nil, false},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

// retry gives up at once on an error no retry mends, retries a transient
// one until it succeeds, and stops with the error when the timeout passes.
func TestRetry(t *testing.T) {
	ctx := context.Background()
	calls := 0
	err := retry(ctx, "op", time.Minute, func() error { calls++; return sarama.ErrSASLAuthenticationFailed })
	if !errors.Is(err, sarama.ErrSASLAuthenticationFailed) || calls != 1 {
		t.Errorf("fatal error: %v after %d calls, want it after 1", err, calls)
	}
	calls = 0
	err = retry(ctx, "op", time.Minute, func() error {
		if calls++; calls < 3 {
			return sarama.ErrNotLeaderForPartition
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("transient error: %v after %d calls, want success on the 3rd", err, calls)
	}
	calls = 0
	err = retry(ctx, "op", time.Nanosecond, func() error { calls++; return sarama.ErrNotLeaderForPartition })
	if !errors.Is(err, sarama.ErrNotLeaderForPartition) || calls != 1 {
		t.Errorf("timed out: %v after %d calls, want the error after 1", err, calls)
	}
}
