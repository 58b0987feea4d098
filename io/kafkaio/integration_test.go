package kafkaio_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// These tests run against real Apache Kafka started by .ci/with-kafka
// (make integration), which exports the broker's addresses.
func realKafka(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run integration tests with `make integration`, which starts real Kafka")
	}
	return addr
}

// alertValue is a ZTF-size (60 KB) value whose first 4 bytes are its id.
func alertValue(i int) []byte {
	v := make([]byte, 60<<10)
	binary.BigEndian.PutUint32(v, uint32(i))
	for j := 4; j < len(v); j += 8 {
		binary.LittleEndian.PutUint32(v[j:], uint32(i*31+j))
	}
	return v
}

func uniqueTopic(prefix string) string {
	return fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
}

// forwardTo copies records to Topic, acknowledging their source.
type forwardTo struct{ Topic string }

func (f *forwardTo) ProcessElement(r kafkaio.Record) kafkaio.Message {
	return kafkaio.Message{Topic: f.Topic, Key: r.Key, Value: r.Value, Source: r.Source, Units: 1}
}

func init() {
	beam.RegisterType(reflectTypeOf[forwardTo]())
}

// copyPipeline reads topic in (unbounded, group g, from committed offsets),
// writes every record to out and commits what out acknowledged.
func copyPipeline(addr, in, out, group string) *beam.Pipeline {
	p, s := beam.NewPipelineWithRoot()
	base := kafkaio.Config{Brokers: []string{addr}}
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: base, Topics: []string{in}, Group: group, Start: kafkaio.StartCommitted})
	acks := kafkaio.Write(s, kafkaio.WriteConfig{Config: base, Partitions: 4}, beam.ParDo(s, &forwardTo{Topic: out}, recs))
	kafkaio.Commit(s, kafkaio.CommitConfig{Config: base, Group: group, Units: 1}, acks)
	return p
}

// checkCopy asserts out holds exactly keys k0..k(n-1) (each at least once)
// with values identical to alertValue.
func checkCopy(t *testing.T, addr, out string, n int) {
	t.Helper()
	got := kafkatest.ReadN(t, addr, out, n, time.Minute)
	seen := map[string]bool{}
	for _, m := range got {
		var i int
		fmt.Sscanf(string(m.Key), "k%d", &i)
		if sha256.Sum256(m.Value) != sha256.Sum256(alertValue(i)) {
			t.Fatalf("%s: value of %s differs from what was produced", out, m.Key)
		}
		seen[string(m.Key)] = true
	}
	if len(seen) != n {
		t.Fatalf("%s: %d distinct keys, want %d", out, len(seen), n)
	}
	if dups := len(got) - n; dups > 0 {
		t.Logf("%s: %d records delivered twice (at-least-once after a restart)", out, dups)
	}
}

func TestIntegrationReadWrite10kAlerts(t *testing.T) {
	addr := realKafka(t)
	in, out := uniqueTopic("ingest"), uniqueTopic("copy")
	const n = 10000
	produce(t, addr, in, 4, 0, n, alertValue)

	p, s := beam.NewPipelineWithRoot()
	base := kafkaio.Config{Brokers: []string{addr}}
	recs := kafkaio.Read(s, kafkaio.ReadConfig{Config: base, Topics: []string{in}, StopAtEnd: true})
	acks := kafkaio.Write(s, kafkaio.WriteConfig{Config: base, Partitions: 4}, beam.ParDo(s, &forwardTo{Topic: out}, recs))
	passert.Count(s, acks, "acks", n)
	passert.Count(s, recs, "records", n)
	start := time.Now()
	if err := run(t, context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Logf("read and wrote %d 60 KB records in %v", n, time.Since(start))
	checkCopy(t, addr, out, n)
}

// Stop the pipeline mid-stream, while alerts are still being published,
// start it again with the same group: every record arrives.
func TestIntegrationStopAndResume(t *testing.T) {
	addr := realKafka(t)
	in, out, group := uniqueTopic("ingest"), uniqueTopic("copy"), uniqueTopic("g")
	// Bursts are published until the first run has stopped, then two more:
	// the run is stopped while alerts are still arriving, and records
	// published after it stopped cannot have been copied by it.
	const burst = 250
	produce(t, addr, in, 4, 0, burst, alertValue)
	stopped := make(chan struct{})
	type result struct {
		n   int
		err error
	}
	produced := make(chan result, 1)
	go func() {
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		from, extra := burst, 2
		for extra > 0 {
			<-tick.C
			if from >= 40*burst && extra == 2 {
				<-stopped // enough while running: wait for the stop
			}
			select {
			case <-stopped:
				extra--
			default:
			}
			if err := produceErr(addr, in, 4, from, burst, alertValue); err != nil {
				produced <- result{from, err}
				return
			}
			from += burst
		}
		produced <- result{from, nil}
	}()

	first := startRun(t, copyPipeline(addr, in, out, group))
	first.Until(t, 2*time.Minute, "a first part copied", func() bool { return len(kafkatest.ReadN(t, addr, out, 2*burst, time.Second)) >= 2*burst })
	first.Stop()
	close(stopped)
	res := <-produced
	if res.err != nil {
		t.Fatal(res.err)
	}
	n := res.n
	copied := len(distinct(keysOf(kafkatest.ReadN(t, addr, out, n, 2*time.Second))))
	if copied >= n {
		t.Fatalf("the first run copied everything (%d) although %d records came after it stopped", copied, 2*burst)
	}
	t.Logf("first run copied %d of %d before it was stopped", copied, n)

	second := startRun(t, copyPipeline(addr, in, out, group))
	second.Until(t, 2*time.Minute, "every record copied", func() bool {
		got := len(distinct(keysOf(kafkatest.ReadN(t, addr, out, n, 2*time.Second))))
		t.Logf("second run: %d distinct copied; committed to end: %v", got, kafkatest.CommittedToEnd(t, addr, group, in))
		return got >= n
	})
	second.Stop()
	checkCopy(t, addr, out, n)
}

// Stop and restart the broker mid-stream: the pipeline rides it out and no
// record is lost.
func TestIntegrationBrokerRestart(t *testing.T) {
	addr := realKafka(t)
	ctl := os.Getenv("ALERTBEAM_KAFKA_CTL")
	if ctl == "" {
		t.Fatal("ALERTBEAM_KAFKA_CTL is not set: run with `make integration`")
	}
	in, out, group := uniqueTopic("ingest"), uniqueTopic("copy"), uniqueTopic("g")
	const n = 3000
	produce(t, addr, in, 4, 0, n/2, alertValue)

	r := startRun(t, copyPipeline(addr, in, out, group))
	r.Until(t, 2*time.Minute, "records flowing", func() bool { return len(kafkatest.ReadN(t, addr, out, 200, 2*time.Second)) >= 200 })

	for _, step := range []string{"stop", "start"} {
		if b, err := exec.Command(ctl, step).CombinedOutput(); err != nil {
			t.Fatalf("broker %s: %v\n%s", step, err, b)
		}
	}
	produce(t, addr, in, 4, n/2, n/2, alertValue)
	last := -1
	r.Until(t, 2*time.Minute, "every record copied after the restart", func() bool {
		got := len(distinct(keysOf(kafkatest.ReadN(t, addr, out, n, 2*time.Second))))
		if got != last { // what a timeout leaves: copied, and committed or not
			t.Logf("after the restart: %d distinct copied; committed to end: %v", got, kafkatest.CommittedToEnd(t, addr, group, in))
			last = got
		}
		return got >= n
	})
	r.Stop()
	checkCopy(t, addr, out, n)
}

// The security settings reach sarama: each listener of the real broker
// accepts a write and a read with the right settings, and refuses a wrong
// password.
func TestIntegrationSecurity(t *testing.T) {
	realKafka(t)
	saslAddr, tlsAddr := os.Getenv("ALERTBEAM_KAFKA_SASL"), os.Getenv("ALERTBEAM_KAFKA_TLS")
	user, pass, ca := os.Getenv("ALERTBEAM_KAFKA_USER"), os.Getenv("ALERTBEAM_KAFKA_PASSWORD"), os.Getenv("ALERTBEAM_KAFKA_CA")
	if saslAddr == "" || tlsAddr == "" || user == "" || ca == "" {
		t.Fatal("SASL/TLS listener settings are missing: run with `make integration`")
	}
	cases := []struct {
		name string
		addr string
		sec  kafkaio.Security
	}{
		{"sasl-plain", saslAddr, kafkaio.Security{Protocol: "SASL_PLAINTEXT", Mechanism: "PLAIN", Username: user, Password: pass}},
		{"scram-sha-256", saslAddr, kafkaio.Security{Protocol: "SASL_PLAINTEXT", Mechanism: "SCRAM-SHA-256", Username: user, Password: pass}},
		{"scram-sha-512", saslAddr, kafkaio.Security{Protocol: "SASL_PLAINTEXT", Mechanism: "SCRAM-SHA-512", Username: user, Password: pass}},
		{"tls", tlsAddr, kafkaio.Security{Protocol: "SSL", CAFile: ca}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafkaio.Config{Brokers: []string{tc.addr}, Security: tc.sec}
			topic := uniqueTopic("sec")
			var msgs []kafkaio.Message
			for i := 0; i < 20; i++ {
				msgs = append(msgs, kafkaio.Message{Topic: topic, Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v")})
			}
			p, s := beam.NewPipelineWithRoot()
			kafkaio.Write(s, kafkaio.WriteConfig{Config: cfg, Partitions: 2}, beam.CreateList(s, msgs))
			if err := run(t, context.Background(), p); err != nil {
				t.Fatalf("write: %v", err)
			}
			p, s = beam.NewPipelineWithRoot()
			keys := beam.ParDo(s, recordKey, kafkaio.Read(s, kafkaio.ReadConfig{Config: cfg, Topics: []string{topic}, StopAtEnd: true}))
			passert.Equals(s, keys, anySlice(keyRange(0, 20))...)
			if err := run(t, context.Background(), p); err != nil {
				t.Fatalf("read: %v", err)
			}
		})
	}
	t.Run("wrong-password", func(t *testing.T) {
		cfg := kafkaio.Config{Brokers: []string{saslAddr}, Security: kafkaio.Security{
			Protocol: "SASL_PLAINTEXT", Mechanism: "SCRAM-SHA-512", Username: user, Password: "not-the-password"}}
		p, s := beam.NewPipelineWithRoot()
		kafkaio.Write(s, kafkaio.WriteConfig{Config: cfg}, beam.CreateList(s, []kafkaio.Message{{Topic: uniqueTopic("sec"), Value: []byte("v")}}))
		err := run(t, context.Background(), p)
		if err == nil || !strings.Contains(strings.ToLower(err.Error()), "auth") {
			t.Fatalf("a wrong password must fail with an authentication error, got %v", err)
		}
	})
}
