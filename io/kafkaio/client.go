package kafkaio

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/IBM/sarama"
	gometrics "github.com/rcrowley/go-metrics"
	"github.com/xdg-go/scram"
)

func init() {
	// sarama keeps go-metrics meters and histograms per broker and per topic
	// for every client (a 1,028-sample reservoir each), and a pipeline
	// opens a client per DoFn instance and writes to dozens of topics:
	// memory and CPU for figures nothing reads. alertbeam's own metrics
	// (io/metrics) are what it serves. sarama's documented switch:
	gometrics.UseNilMetrics = true
}

// KafkaVersion is the protocol version alertbeam speaks: new enough for
// idempotent producers and record headers, old enough for the embedded broker
// and every Kafka 2.x–4.x.
var KafkaVersion = sarama.V2_8_0_0

// SaramaConfig turns a Config into a sarama configuration with the settings
// every alertbeam client shares (protocol version, security, fetch sizes),
// for code that talks to Kafka outside a pipeline.
func SaramaConfig(c Config) (*sarama.Config, error) {
	if err := c.Security.validate(); err != nil {
		return nil, err
	}
	return saramaConfig(c)
}

// saramaConfig turns a Config into a sarama configuration with the settings
// every alertbeam client shares.
func saramaConfig(c Config) (*sarama.Config, error) {
	sc := sarama.NewConfig()
	sc.Version = KafkaVersion
	sc.ClientID = c.ClientID
	if sc.ClientID == "" {
		sc.ClientID = "alertbeam"
	}
	sc.Net.DialTimeout = 10 * time.Second
	sc.Metadata.Retry.Max = 10
	sc.Metadata.Retry.Backoff = 500 * time.Millisecond
	// Looking a topic up must not create it with the broker's defaults:
	// Write creates topics with the partitions and retention asked for.
	sc.Metadata.AllowAutoTopicCreation = false
	// Alerts reach 150 KB; a fetch must hold at least one.
	sc.Consumer.Fetch.Default = 8 << 20
	sc.Consumer.Fetch.Max = 64 << 20
	// A fetch long-polls this long for partitions with nothing new; a
	// partition consumer added meanwhile waits for it. Kafka's 500 ms
	// default shows in alert latency and in reads of many partitions.
	sc.Consumer.MaxWaitTime = 100 * time.Millisecond
	if err := applySecurity(sc, c.Security); err != nil {
		return nil, err
	}
	return sc, nil
}

func applySecurity(sc *sarama.Config, s Security) error {
	proto := strings.ToUpper(s.Protocol)
	if proto == "SSL" || proto == "SASL_SSL" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.InsecureSkipVerify} //nolint:gosec // opt-in for tests
		if s.CAFile != "" {
			pem, err := os.ReadFile(s.CAFile)
			if err != nil {
				return fmt.Errorf("kafkaio: CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("kafkaio: CA file %s holds no PEM certificate", s.CAFile)
			}
			tc.RootCAs = pool
		}
		sc.Net.TLS.Enable = true
		sc.Net.TLS.Config = tc
	}
	if proto == "SASL_PLAINTEXT" || proto == "SASL_SSL" {
		sc.Net.SASL.Enable = true
		sc.Net.SASL.Handshake = true
		sc.Net.SASL.User = s.Username
		sc.Net.SASL.Password = s.Password
		switch strings.ToUpper(s.Mechanism) {
		case "PLAIN":
			sc.Net.SASL.Mechanism = sarama.SASLTypePlaintext
		case "SCRAM-SHA-256":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA256
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA256} }
		case "SCRAM-SHA-512":
			sc.Net.SASL.Mechanism = sarama.SASLTypeSCRAMSHA512
			sc.Net.SASL.SCRAMClientGeneratorFunc = func() sarama.SCRAMClient { return &scramClient{hash: scram.SHA512} }
		}
	}
	return nil
}

// scramClient adapts xdg-go/scram to sarama's SCRAMClient.
type scramClient struct {
	hash scram.HashGeneratorFcn
	conv *scram.ClientConversation
}

func (c *scramClient) Begin(user, password, authzID string) error {
	cl, err := c.hash.NewClient(user, password, authzID)
	if err != nil {
		return err
	}
	c.conv = cl.NewConversation()
	return nil
}

func (c *scramClient) Step(challenge string) (string, error) { return c.conv.Step(challenge) }

func (c *scramClient) Done() bool { return c.conv.Done() }

// newClient connects to the cluster, retrying for c's RetryTimeout while
// no broker answers (a cluster restarting), and failing at once on what no
// retry mends (a wrong password, an untrusted certificate).
func newClient(ctx context.Context, c Config, sc *sarama.Config) (sarama.Client, error) {
	var cl sarama.Client
	err := retry(ctx, fmt.Sprintf("connecting to %s", strings.Join(c.Brokers, ",")), c.retryTimeout(), func() error {
		var err error
		cl, err = sarama.NewClient(c.Brokers, sc)
		return plain(err)
	})
	return cl, err
}

// Check connects to c's brokers once and returns the error no retry mends
// (an untrusted or expired certificate, failed authentication, a bad
// configuration), so that a command refuses to start instead of failing
// inside a running pipeline. Anything else, such as no broker answering
// yet, is not Check's business: it returns nil and the pipeline's own
// retries deal with it.
func Check(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sc, err := saramaConfig(c)
	if err != nil {
		return err
	}
	sc.Metadata.Retry.Max = 0 // each broker once
	cl, err := sarama.NewClient(c.Brokers, sc)
	if err == nil {
		return cl.Close()
	}
	if err := plain(err); !Transient(err) {
		return fmt.Errorf("kafkaio: %s: %w", strings.Join(c.Brokers, ","), err)
	}
	return nil
}

// plain takes sarama's "client has run out of available brokers to talk
// to" off a failed connection's error and keeps what each broker said,
// once each, on one line: "tls: failed to verify certificate: x509:
// certificate signed by unknown authority". The error still wraps the
// originals, for Transient and errors.As.
func plain(err error) error {
	if err == nil || !errors.Is(err, sarama.ErrOutOfBrokers) {
		return err
	}
	inner := errors.Unwrap(err)
	if inner == nil {
		return err
	}
	causes := []error{inner}
	if j, ok := inner.(interface{ Unwrap() []error }); ok {
		causes = j.Unwrap()
	}
	var msgs []string
	seen := map[string]bool{}
	for _, c := range causes {
		if m := c.Error(); !seen[m] {
			seen[m] = true
			msgs = append(msgs, m)
		}
	}
	if len(msgs) == 0 {
		return err
	}
	return &brokersError{msg: strings.Join(msgs, "; "), err: err}
}

// brokersError is what the brokers said when none could be used.
type brokersError struct {
	msg string
	err error
}

func (e *brokersError) Error() string { return e.msg }

func (e *brokersError) Unwrap() error { return e.err }
