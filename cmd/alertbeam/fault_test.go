package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// The fault tests run `alertbeam distribute --archive` as its own process
// on real Kafka, over an ingest stream in which 1% of the messages are
// corrupt, and break something mid-night. Afterwards: every good alert is
// in its per-night topic (at least once: topics are at-least-once), in the
// archive exactly once, every corrupt message is in the dead-letter topic
// with its error, and the counts add up exactly.

var (
	faultBinOnce sync.Once
	faultBin     string
)

// alertbeamBinary builds the CLI once, as make build does, for the tests
// that run it as users do.
func alertbeamBinary(t *testing.T) string {
	faultBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "alertbeam-fault-")
		if err != nil {
			t.Fatal(err)
		}
		faultBin = filepath.Join(dir, "alertbeam")
		goBuild(t, faultBin, "github.com/alertbeam/alertbeam/cmd/alertbeam")
	})
	return faultBin
}

type faultNight struct {
	t       *testing.T
	addr    string // host:port[,host:port...]
	bin     string
	name    string // test's own prefix of topics and groups
	shape   faultShape
	nights  []string
	days    [2]int
	root    string
	ingest  string
	dlq     string
	total   int             // messages in ingest
	corrupt map[string]bool // "partition/offset" of each corrupt message
	good    map[string]bool // ids of the good alerts
}

// faultShape is how many alerts each of a fault test's two nights has, and
// how its ingest topic is replicated.
type faultShape struct {
	visits, perVisit int
	replication      int16
}

// faultDefault is 1,500 alerts a night in three visits, on one broker.
var faultDefault = faultShape{visits: 3, perVisit: 500, replication: 1}

// perNight is the number of alerts in each night.
func (s faultShape) perNight() int { return s.visits * s.perVisit }

// newFaultNight prepares a test's topics and archive; feed fills the
// ingest topic.
func newFaultNight(t *testing.T, name string, days [2]int) *faultNight {
	addr := os.Getenv("ALERTBEAM_KAFKA")
	if addr == "" {
		t.Fatal("ALERTBEAM_KAFKA is not set: run with `make integration`, which starts real Kafka")
	}
	return newFaultNightAt(t, addr, name, days)
}

// newFaultNightAt is newFaultNight on the broker at addr.
func newFaultNightAt(t *testing.T, addr, name string, days [2]int) *faultNight {
	return newShapedNight(t, addr, name, days, faultDefault)
}

// newShapedNight is newFaultNight on the brokers at addr (a comma-separated
// list), with nights of the given shape.
func newShapedNight(t *testing.T, addr, name string, days [2]int, shape faultShape) *faultNight {
	f := &faultNight{t: t, addr: addr, bin: alertbeamBinary(t), name: name, shape: shape, root: t.TempDir(), days: days,
		ingest: name + "_ingest", dlq: name + "_deadletter", corrupt: map[string]bool{}, good: map[string]bool{}}
	for _, day := range days {
		f.nights = append(f.nights, fmt.Sprintf("202610%02d", day))
	}
	// The ingest topic exists before the pipeline starts, as a survey's
	// does; a topic created later is found by discovery, more slowly.
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: f.brokers()})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(f.brokers(), sc)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if err := admin.CreateTopic(f.ingest, &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: shape.replication}, false); err != nil {
		t.Fatal(err)
	}
	return f
}

// brokers is the list of broker addresses.
func (f *faultNight) brokers() []string { return strings.Split(f.addr, ",") }

// produce publishes one simulated night (by default 1,500 alerts with
// cutouts in three visits) at speed × real time (0: at once), then 1% as
// many corrupt messages. It returns when the broker has them all.
func (f *faultNight) produce(i int, speed string) error {
	args := []string{"produce", "--brokers", f.addr, "--topic", f.ingest, "--partitions", "4",
		"--visits", strconv.Itoa(f.shape.visits), "--alerts-per-visit", strconv.Itoa(f.shape.perVisit),
		"--speed", speed, "--night", fmt.Sprintf("2026-10-%02d", f.days[i]), "--seed", strconv.Itoa(f.days[i])}
	if out, err := exec.Command(f.bin, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("alertbeam produce: %v\n%s", err, out)
	}
	return f.sendCorrupt(f.shape.perNight()/100, i)
}

// feeding is a feed in progress.
type feeding struct {
	done chan struct{}
	err  error // set before done closes
}

// feed publishes night i in the background at speed.
func (f *faultNight) feed(i int, speed string) *feeding {
	fd := &feeding{done: make(chan struct{})}
	go func() {
		defer close(fd.done)
		fd.err = f.produce(i, speed)
	}()
	return fd
}

// warmUp publishes the second night at once and waits until the streaming
// pipeline has delivered it, so that the first night, fed next, arrives
// at a pipeline that is running.
func (f *faultNight) warmUp() {
	f.t.Helper()
	if err := f.produce(1, "0"); err != nil {
		f.t.Fatal(err)
	}
	f.waitDelivered(int64(f.shape.perNight()), 3*time.Minute)
}

// fed waits for the feed to finish.
func (f *faultNight) fed(fd *feeding) {
	f.t.Helper()
	<-fd.done
	if fd.err != nil {
		f.t.Fatal(fd.err)
	}
}

// classify reads the ingest topic, whole: the truth the checks compare
// with.
func (f *faultNight) classify() {
	for _, m := range f.read(f.ingest) {
		f.total++
		if strings.HasPrefix(string(m.Key), "corrupt-") {
			f.corrupt[fmt.Sprintf("%d/%d", m.Partition, m.Offset)] = true
			continue
		}
		f.good[string(m.Key)] = true
	}
	if n := f.shape.perNight(); len(f.good) != 2*n || len(f.corrupt) != 2*(n/100) {
		f.t.Fatalf("ingest holds %d good alerts and %d corrupt messages, want %d and %d", len(f.good), len(f.corrupt), 2*n, 2*(n/100))
	}
}

// sendCorrupt publishes n corrupt messages of three kinds: not Avro, a
// container cut short, a bad magic byte.
func (f *faultNight) sendCorrupt(n, batch int) error {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: f.brokers()})
	if err != nil {
		return err
	}
	sc.Producer.Return.Successes = true
	// Acknowledged by every in-sync replica: a leader killed right after
	// answering (the cluster test) must not take acknowledged messages
	// with it, as it did with sarama's default of the leader alone.
	sc.Producer.RequiredAcks = sarama.WaitForAll
	// The broker may be restarting (the broker fault test): wait for it.
	sc.Producer.Retry.Max, sc.Producer.Retry.Backoff = 60, 500*time.Millisecond
	var p sarama.SyncProducer
	if !watch.Until(time.Minute, func() bool { p, err = sarama.NewSyncProducer(f.brokers(), sc); return err == nil }) {
		return err
	}
	defer p.Close()
	for i := range n {
		var v []byte
		switch i % 3 {
		case 0:
			v = []byte("not an alert at all")
		case 1:
			v = []byte("Obj\x01\x04\x14avro.codec\x08null")
		default:
			v = []byte("Obj\x07 bad magic")
		}
		key := fmt.Sprintf("corrupt-%d-%d", batch, i)
		if _, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: f.ingest, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(v)}); err != nil {
			return err
		}
	}
	return nil
}

// read returns every message of a topic, from the start to its end now
// (none if it does not exist).
func (f *faultNight) read(topic string) []*sarama.ConsumerMessage {
	f.t.Helper()
	return kafkatest.ReadTopic(f.t, f.addr, topic)
}

// hasTopic reports whether topic exists, from the client's metadata: asking
// sarama for the partitions of a missing topic retries for seconds.
func hasTopic(cl sarama.Client, topic string) bool {
	topics, err := cl.Topics()
	return err == nil && slices.Contains(topics, topic)
}

// readNight reads every program topic of a night.
func (f *faultNight) readNight(night string) []*sarama.ConsumerMessage {
	var out []*sarama.ConsumerMessage
	for _, prog := range []int{1, 2, 3} {
		out = append(out, f.read(fmt.Sprintf("ztf_%s_programid%d", night, prog))...)
	}
	return out
}

// delivered counts the messages in the night topics now.
func (f *faultNight) delivered() int64 {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: f.brokers()})
	if err != nil {
		f.t.Fatal(err)
	}
	cl, err := sarama.NewClient(f.brokers(), sc)
	if err != nil {
		return 0 // the broker may be restarting
	}
	defer cl.Close()
	var n int64
	for _, night := range f.nights {
		for _, prog := range []int{1, 2, 3} {
			topic := fmt.Sprintf("ztf_%s_programid%d", night, prog)
			if !hasTopic(cl, topic) {
				continue // not yet created
			}
			parts, _ := cl.Partitions(topic)
			for _, p := range parts {
				end, _ := cl.GetOffset(topic, p, sarama.OffsetNewest)
				n += end
			}
		}
	}
	return n
}

// distribute starts `alertbeam distribute --archive` over the ingest
// stream: a streaming run, or bounded at the stream's end now.
func (f *faultNight) distribute(bounded bool) (*exec.Cmd, *watch.Output) {
	args := []string{"distribute", "--brokers", f.addr, "--topic", f.ingest, "--group", f.name,
		"--archive", f.root, "--dead-letter-topic", f.dlq}
	if bounded {
		args = append(args, "--stop-at-end")
	}
	return launch(f.t, f.bin, args...)
}

// launch starts `bin args...` in the background, with its stdout and
// stderr together in the returned output.
func launch(t testing.TB, bin string, args ...string) (*exec.Cmd, *watch.Output) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	return cmd, startWith(t, cmd)
}

// startWith starts cmd with its stdout and stderr together in the returned
// output.
func startWith(t testing.TB, cmd *exec.Cmd) *watch.Output {
	t.Helper()
	out := &watch.Output{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return out
}

// waitDelivered waits until n messages are in the night topics.
func (f *faultNight) waitDelivered(n int64, within time.Duration) {
	f.t.Helper()
	if !watch.Until(within, func() bool { return f.delivered() >= n }) {
		f.t.Fatalf("%d of %d messages in the night topics after %v", f.delivered(), n, within)
	}
}

// midNight starts a streaming distribute, warms it up and feeds night 0
// at speed in the background, returning once the first visit and some of
// the second (1,700 alerts) are in the night topics: where faults strike.
func (f *faultNight) midNight(speed string) (*exec.Cmd, *watch.Output, *feeding) {
	f.t.Helper()
	cmd, out := f.distribute(false)
	f.warmUp()
	fd := f.feed(0, speed)
	f.waitDelivered(1500+200, 3*time.Minute)
	return cmd, out, fd
}

// ongoing fails the test if production has finished: the fault must
// strike mid-night.
func (f *faultNight) ongoing(fd *feeding) {
	f.t.Helper()
	select {
	case <-fd.done:
		f.t.Fatal("the night was fully produced before the fault: not mid-night")
	default:
	}
}

// wait waits for a run to finish successfully.
func (f *faultNight) wait(cmd *exec.Cmd, out *watch.Output) {
	f.t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			f.t.Fatalf("distribute: %v\n%s", err, out)
		}
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		f.t.Fatalf("distribute did not finish within 5 minutes\n%s", out)
	}
}

// check asserts that nothing was lost and the counts add up, and returns
// how many alerts the night topics hold more than once.
func (f *faultNight) check() (duplicates int) {
	t := f.t
	t.Helper()
	ids, copies := map[string]int{}, 0
	for _, night := range f.nights {
		for _, m := range f.readNight(night) {
			ids[string(m.Key)]++
			copies++
		}
	}
	for id := range f.good {
		if ids[id] == 0 {
			t.Fatalf("alert %s is in no night topic (%d of %d there)", id, len(ids), len(f.good))
		}
	}
	if len(ids) != len(f.good) {
		t.Fatalf("the night topics hold %d distinct ids, want %d", len(ids), len(f.good))
	}
	var archived int64
	for _, night := range f.nights {
		rep, err := archive.Verify(context.Background(), f.root, "ztf", night)
		if err != nil {
			t.Fatal(err)
		}
		if !rep.OK() {
			t.Fatalf("archive night %s: %d duplicates, unreadable %v, problems %v", night, len(rep.Duplicates), rep.Unreadable, rep.Problems)
		}
		archived += rep.Records
	}
	if archived != int64(len(f.good)) {
		t.Fatalf("the archive holds %d alerts, want each of the %d exactly once", archived, len(f.good))
	}
	dead := map[string]bool{}
	for _, m := range f.read(f.dlq) {
		h := map[string]string{}
		for _, rh := range m.Headers {
			h[string(rh.Key)] = string(rh.Value)
		}
		src := h[deadletter.HeaderPartition] + "/" + h[deadletter.HeaderOffset]
		if h[deadletter.HeaderError] == "" || h[deadletter.HeaderTopic] != f.ingest || !f.corrupt[src] {
			t.Fatalf("dead letter %s with headers %v is not one of the corrupt messages, or carries no error", src, h)
		}
		dead[src] = true
	}
	if len(dead) != len(f.corrupt) {
		t.Fatalf("%d corrupt messages dead-lettered, want all %d", len(dead), len(f.corrupt))
	}
	if len(ids)+len(dead) != f.total {
		t.Fatalf("%d routed + %d dead-lettered != %d read", len(ids), len(dead), f.total)
	}
	t.Logf("%d messages: %d alerts routed (%d copies: %d redelivered after the fault), archived once each; %d dead-lettered",
		f.total, len(ids), copies, copies-len(ids), len(dead))
	return copies - len(ids)
}

// kill -9 the streaming pipeline while the night is arriving; once the
// night is in, a bounded run resumes from the committed offsets.
func TestIntegrationFaultKillAndRestart(t *testing.T) {
	f := newFaultNight(t, "fault_kill", [2]int{3, 4})
	cmd, _, produced := f.midNight("3") // visits 15 s apart
	f.ongoing(produced)
	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup at all
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Logf("killed with %d alerts in the night topics", f.delivered())
	f.fed(produced)
	f.classify()
	cmd, out := f.distribute(true)
	f.wait(cmd, out)
	f.check()
}

// The broker stops for a while as the night arrives and comes back: the
// streaming pipeline (and the producer) ride it out and deliver the whole
// night; a bounded run then closes the archive's files.
func TestIntegrationFaultBrokerRestart(t *testing.T) {
	ctl := os.Getenv("ALERTBEAM_KAFKA_CTL")
	if ctl == "" {
		t.Fatal("ALERTBEAM_KAFKA_CTL is not set: run with `make integration`")
	}
	f := newFaultNight(t, "fault_broker", [2]int{5, 6})
	cmd, _, produced := f.midNight("1") // visits 45 s apart: new night topics take a while to show their first alerts
	f.ongoing(produced)
	if b, err := exec.Command(ctl, "stop").CombinedOutput(); err != nil {
		t.Fatalf("stopping the broker: %v\n%s", err, b)
	}
	time.Sleep(3 * time.Second) // the outage itself, not a wait for a condition
	if b, err := exec.Command(ctl, "start").CombinedOutput(); err != nil {
		t.Fatalf("starting the broker: %v\n%s", err, b)
	}
	f.fed(produced)
	f.classify()
	// The streaming run delivers every alert without a restart.
	f.waitDelivered(int64(len(f.good)), 3*time.Minute)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	t.Log("the streaming run delivered the whole night through the outage")
	cmd, out := f.distribute(true)
	f.wait(cmd, out)
	f.check()
}

// No fault but the corrupt 1%: one bounded run, no redelivery.
func TestIntegrationFaultCorruptOnePercent(t *testing.T) {
	f := newFaultNight(t, "fault_corrupt", [2]int{7, 8})
	f.fed(f.feed(0, "0"))
	f.fed(f.feed(1, "0"))
	f.classify()
	cmd, out := f.distribute(true)
	f.wait(cmd, out)
	f.check()
}
