package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
	"testing"

	"github.com/IBM/sarama"
)

// A connection that no broker accepted says what the brokers said, once
// each, on one line, and keeps its errors for Transient and errors.As.
func TestPlainConnectionError(t *testing.T) {
	untrusted := &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}
	err := plain(sarama.Wrap(sarama.ErrOutOfBrokers, untrusted, untrusted, untrusted))
	if want := "tls: failed to verify certificate: x509: certificate signed by unknown authority"; err.Error() != want {
		t.Errorf("three brokers with one certificate: %q, want %q", err, want)
	}
	var ua x509.UnknownAuthorityError
	if Transient(err) || !errors.As(err, &ua) || !errors.Is(err, sarama.ErrOutOfBrokers) {
		t.Errorf("%v lost the errors it wraps", err)
	}
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	if err := plain(sarama.Wrap(sarama.ErrOutOfBrokers, refused, untrusted)); err.Error() != refused.Error()+"; "+untrusted.Error() {
		t.Errorf("two different answers: %q", err)
	}
	if err := plain(sarama.ErrOutOfBrokers); err != sarama.ErrOutOfBrokers {
		t.Errorf("nothing to unwrap: %v", err)
	}
	if err := plain(sarama.ErrNotLeaderForPartition); err != sarama.ErrNotLeaderForPartition {
		t.Errorf("other errors pass as they are: %v", err)
	}
}

// Check is quiet about brokers that do not answer (the pipeline retries
// them) and refuses a configuration that cannot work.
func TestCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	if err := Check(context.Background(), Config{Brokers: []string{addr}}); err != nil {
		t.Errorf("no broker answering: %v, want nil", err)
	}
	if err := Check(context.Background(), Config{Brokers: []string{addr}, Security: Security{Protocol: "SASL_SSL"}}); err == nil {
		t.Error("SASL_SSL without a mechanism passed")
	}
}
