package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/watch"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// These tests run the CLI as its own processes against real Kafka: over
// SASL_SSL with real certificates on the single broker of .ci/with-kafka,
// and through broker and process failures on the three-node cluster of
// .ci/with-kafka-cluster.

// runBounded runs the CLI with extra environment and a deadline that stops
// a hung process (and fails the test): its exit code, stdout and stderr.
func runBounded(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, alertbeamBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("alertbeam %s still running after 2 minutes (retrying what no retry mends?)\n%s", args[0], stderr.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("alertbeam %s: %v", args[0], err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}

// Rubin's way in: SASL_SSL with SCRAM-SHA-512 and a CA file. produce and
// consume round-trip through it; a CA that did not sign the broker's
// certificate, an expired certificate and a wrong password each stop
// produce, consume and distribute at once with one line that names the
// problem.
func TestIntegrationSASLSSL(t *testing.T) {
	env := map[string]string{}
	for _, k := range []string{"SASL_SSL", "EXPIRED", "CA", "WRONG_CA", "USER", "PASSWORD"} {
		if env[k] = os.Getenv("ALERTBEAM_KAFKA_" + k); env[k] == "" {
			t.Fatalf("ALERTBEAM_KAFKA_%s is not set: run with `make integration`, whose broker has a SASL_SSL listener", k)
		}
	}
	const topic, alerts = "sasl_ssl_ingest", 40
	sec := func(ca string) []string {
		return []string{"--security-protocol", "SASL_SSL", "--sasl-mechanism", "SCRAM-SHA-512", "--username", env["USER"], "--ca-file", ca}
	}
	commands := map[string]func(addr, ca string) []string{
		"produce": func(addr, ca string) []string {
			return append([]string{"produce", "--brokers", addr, "--topic", topic, "--partitions", "2", "--visits", "1",
				"--alerts-per-visit", strconv.Itoa(alerts), "--speed", "0", "--night", "2026-10-20"}, sec(ca)...)
		},
		"consume": func(addr, ca string) []string {
			return append(append([]string{"consume"}, sec(ca)...), "--group", "sasl_ssl", "--limit", strconv.Itoa(alerts+1),
				"--timeout", "5s", "--quiet", "kafka://"+addr+"/"+topic)
		},
		"distribute": func(addr, ca string) []string {
			return append([]string{"distribute", "--brokers", addr, "--topic", topic, "--group", "sasl_ssl", "--stop-at-end"}, sec(ca)...)
		},
	}

	// The password comes from $ALERTBEAM_KAFKA_PASSWORD, as the flag's
	// help advises.
	if code, _, errOut := runBounded(t, nil, commands["produce"](env["SASL_SSL"], env["CA"])...); code != 0 {
		t.Fatalf("produce over SASL_SSL exited %d:\n%s", code, errOut)
	}
	code, out, errOut := runBounded(t, nil, commands["consume"](env["SASL_SSL"], env["CA"])...)
	if got := strings.Count(out, "\n") - strings.Count(out, `{"error"`); code != 0 || got != alerts {
		t.Fatalf("consume over SASL_SSL read %d alerts (exit %d), want the %d produced:\n%s", got, code, alerts, errOut)
	}

	for _, tc := range []struct {
		name, addr, ca, password string
		problem                  *regexp.Regexp
	}{
		{"wrong-ca", env["SASL_SSL"], env["WRONG_CA"], env["PASSWORD"], regexp.MustCompile(`certificate signed by unknown authority`)},
		{"expired-certificate", env["EXPIRED"], env["CA"], env["PASSWORD"], regexp.MustCompile(`certificate has expired`)},
		{"wrong-password", env["SASL_SSL"], env["CA"], "not-the-password", regexp.MustCompile(`(?i)authentication failed`)},
	} {
		for _, name := range []string{"produce", "consume", "distribute"} {
			t.Run(tc.name+"/"+name, func(t *testing.T) {
				code, _, errOut := runBounded(t, []string{"ALERTBEAM_KAFKA_PASSWORD=" + tc.password}, commands[name](tc.addr, tc.ca)...)
				if code == 0 {
					t.Fatalf("exited 0, want a failure:\n%s", errOut)
				}
				var naming []string
				for _, line := range strings.Split(errOut, "\n") {
					if tc.problem.MatchString(line) {
						naming = append(naming, line)
					}
				}
				if len(naming) != 1 {
					t.Fatalf("want one stderr line saying %q, got %d in %d lines of stderr:\n%s",
						tc.problem, len(naming), strings.Count(errOut, "\n"), errOut)
				}
				t.Logf("exit %d: %s", code, naming[0])
			})
		}
	}
}

// clusterEnv is the three-node cluster's bootstrap list and control script.
func clusterEnv(t *testing.T) (addr, ctl string) {
	addr, ctl = os.Getenv("ALERTBEAM_KAFKA_CLUSTER"), os.Getenv("ALERTBEAM_KAFKA_CLUSTER_CTL")
	if addr == "" || ctl == "" {
		msg := "ALERTBEAM_KAFKA_CLUSTER is not set: run with `make integration`, or " +
			"`.ci/with-kafka-cluster go test -run '^TestIntegrationCluster' ./cmd/alertbeam`, which start a three-node Kafka cluster"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return addr, ctl
}

// A night streams at visit cadence through `distribute --archive` and
// `filter --filter purity`, each its own process, on a three-node cluster
// (topics replicated 3 times, min.insync.replicas 2). Mid-night the broker
// leading most ingest partitions is killed with kill -9, then distribute
// is killed with kill -9 and restarted, then the broker restarts. When the
// night is in, the streaming runs are stopped with SIGINT, and: every good
// alert is in its night topic, every one purity keeps in the filter's topic
// (at least once each: topics are at-least-once), the archive holds each
// exactly once, each corrupt message (1%) is dead-lettered exactly once,
// and the group has committed the end of every ingest partition.
// ALERTBEAM_SOAK=1 (make soak) makes it 20,000 alerts, and
// ALERTBEAM_SOAK_SPEED=N publishes the night at N times real time (default
// 3: visits 15 s apart; 90 puts 500-alert visits 0.5 s apart, 1,000
// alerts/s). It needs a cluster of its own: its topics and nights have
// fixed names.
func TestIntegrationClusterBrokerKill(t *testing.T) {
	addr, ctl := clusterEnv(t)
	shape := faultShape{visits: 6, perVisit: 200, replication: 3} // 2 × 1,200 alerts, 1% corrupt
	if os.Getenv("ALERTBEAM_SOAK") == "1" {
		shape = faultShape{visits: 20, perVisit: 500, replication: 3} // 2 × 10,000
	}
	f := newShapedNight(t, addr, "cluster_kill", [2]int{17, 18}, shape)
	c := &clusterRun{t: t, f: f, ctl: ctl, filterTopic: f.name + "_purity", filterDLQ: f.name + "_filter_deadletter", start: time.Now()}
	t.Cleanup(c.stopAll)
	c.distribute()
	c.filter()

	if err := f.produce(1, "0"); err != nil { // the warm-up night, at once
		t.Fatal(err)
	}
	c.until("the warm-up night delivered", 3*time.Minute, func() bool { return f.delivered() >= int64(shape.perNight()) })
	c.logf("the warm-up night (%d alerts) delivered; the night starts", shape.perNight())
	speed := cmp.Or(os.Getenv("ALERTBEAM_SOAK_SPEED"), "3") // 3: visits 15 s apart
	c.feed = f.feed(0, speed)
	c.until("the night's first alerts delivered", 3*time.Minute, func() bool { return f.delivered() > int64(shape.perNight()) })
	f.ongoing(c.feed)

	// kill -9 the broker that leads most ingest partitions, as the night's
	// first visit is being distributed.
	node, led := c.busiestLeader()
	before, delivered := c.ends(f.ingest), f.delivered()
	killed := time.Now()
	c.control("kill", node)
	c.logf("killed broker %d (leader of %d of 4 ingest partitions) with %d alerts in the night topics", node, led, delivered)
	c.until(fmt.Sprintf("everything ingested before broker %d was killed committed", node), 3*time.Minute, func() bool { return c.committed(before) })
	c.logf("recovered from the broker kill: everything ingested before it routed, archived and committed %v after it", since(killed))

	// kill -9 distribute while it distributes the next visit (with work not
	// yet committed), the broker still down, and start it again on the two
	// brokers left.
	delivered = f.delivered()
	c.until("the next visit being distributed", time.Minute, func() bool { return f.delivered() > delivered })
	f.ongoing(c.feed)
	before, delivered = c.ends(f.ingest), f.delivered()
	c.dist.kill(t)
	killed = time.Now()
	c.logf("killed distribute with %d alerts in the night topics", delivered)
	c.distribute()
	c.until("everything ingested before distribute was killed committed", 3*time.Minute, func() bool { return c.committed(before) })
	c.logf("recovered from the distribute kill: everything ingested before it routed, archived and committed %v after it", since(killed))

	started := time.Now()
	c.control("start", node)
	c.until(fmt.Sprintf("broker %d back in every ingest partition's ISR", node), 3*time.Minute, func() bool { return c.inSync(node) })
	c.logf("restarted broker %d: back in the ISR of every ingest partition %v after the start", node, since(started))

	// The night ends; the streaming runs finish it.
	c.until("the night produced", time.Duration(shape.visits)*15*time.Second+3*time.Minute, func() bool {
		select {
		case <-c.feed.done:
			return true
		default:
			return false
		}
	})
	f.fed(c.feed)
	c.logf("the night is in")
	f.classify()
	end := c.ends(f.ingest)
	c.until("every ingest partition committed to its end", 3*time.Minute, func() bool { return c.committed(end) })
	c.logf("distribute committed the end of every ingest partition")
	nights := map[string]map[int32]int64{}
	for _, night := range f.nights {
		for prog := 1; prog <= 3; prog++ {
			topic := fmt.Sprintf("ztf_%s_programid%d", night, prog)
			nights[topic] = c.ends(topic)
		}
	}
	c.until("the filter committed every night topic to its end", 3*time.Minute, func() bool {
		for topic, e := range nights {
			if e != nil && !c.committedBy(f.name+"_filter", topic, e) {
				return false
			}
		}
		return true
	})
	c.logf("the filter committed the end of every night topic")
	c.dist.interrupt(t)
	c.filt.interrupt(t)
	c.logf("both stopped with SIGINT")

	dups := f.check() // night topics, archive exactly once, dead letters, counts
	dead := len(f.read(f.dlq))
	if dead != len(f.corrupt) {
		t.Errorf("the dead-letter topic holds %d messages for %d corrupt ones: some were dead-lettered twice", dead, len(f.corrupt))
	}
	kept, filterDups := c.checkFilter()
	c.logf("figures: %d produced (%d alerts, %d corrupt); night topics %d alerts, %d duplicated; filter %d kept by purity, %d duplicated; archived %d once each; %d dead-lettered",
		f.total, len(f.good), len(f.corrupt), len(f.good), dups, kept, filterDups, len(f.good), dead)
}

// clusterRun is the processes of a cluster test and what it asks the
// cluster.
type clusterRun struct {
	t                      *testing.T
	start                  time.Time
	f                      *faultNight
	ctl                    string
	dist, filt             *running
	feed                   *feeding
	filterTopic, filterDLQ string
}

// logf logs with the time since the test started.
func (c *clusterRun) logf(format string, args ...any) {
	c.t.Helper()
	c.t.Logf("[%5.1fs] "+format, append([]any{time.Since(c.start).Seconds()}, args...)...)
}

// running is a streaming pipeline process the test watches.
type running struct {
	name string
	cmd  *exec.Cmd
	out  *watch.Output
	done chan struct{}
	err  error // set before done closes
}

func track(name string, cmd *exec.Cmd, out *watch.Output) *running {
	r := &running{name: name, cmd: cmd, out: out, done: make(chan struct{})}
	go func() {
		r.err = cmd.Wait()
		close(r.done)
	}()
	return r
}

func (r *running) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// kill kills the process with SIGKILL: no cleanup at all.
func (r *running) kill(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-r.done
}

// interrupt stops the process with SIGINT, as an operator would: it must
// drain and exit 0.
func (r *running) interrupt(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.done:
	case <-time.After(2 * time.Minute):
		_ = r.cmd.Process.Kill()
		t.Fatalf("%s still running 2 minutes after SIGINT\n%s", r.name, tail(r.out.String()))
	}
	if code := r.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited %d after SIGINT, want 0 (drained)\n%s", r.name, code, tail(r.out.String()))
	}
}

// distribute starts (or restarts) the streaming distribute.
func (c *clusterRun) distribute() {
	cmd, out := c.f.distribute(false)
	c.dist = track("distribute", cmd, out)
}

// filter starts the streaming purity filter over the test's night topics.
func (c *clusterRun) filter() {
	f := c.f
	cmd, out := launch(c.t, f.bin, "filter", "--brokers", f.addr, "--group", f.name+"_filter",
		"--topic-pattern", "^ztf_("+strings.Join(f.nights, "|")+")_programid[0-9]+$",
		"--filter", "purity", "--topic-prefix", f.name+"_", "--dead-letter-topic", c.filterDLQ, "--partitions", "4")
	c.filt = track("filter", cmd, out)
}

// stopAll kills what still runs when the test ends early.
func (c *clusterRun) stopAll() {
	for _, r := range []*running{c.dist, c.filt} {
		if r != nil && !r.exited() {
			_ = r.cmd.Process.Kill()
			<-r.done
		}
	}
	if c.feed != nil {
		<-c.feed.done // produce stops on its own (its retries are bounded)
	}
}

// until polls cond until it holds, failing the test after within, or at
// once when a pipeline process or the feed dies meanwhile.
func (c *clusterRun) until(what string, within time.Duration, cond func() bool) {
	c.t.Helper()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(within)
	for !cond() {
		for _, r := range []*running{c.dist, c.filt} {
			if r != nil && r.exited() {
				c.t.Fatalf("%s exited (%v) while waiting for %s:\n%s", r.name, r.err, what, tail(r.out.String()))
			}
		}
		if c.feed != nil {
			select {
			case <-c.feed.done:
				if c.feed.err != nil {
					c.t.Fatalf("the night's producer failed while waiting for %s: %v", what, c.feed.err)
				}
			default:
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("no %s within %v (%d alerts in the night topics)\ndistribute:\n%s\nfilter:\n%s",
				what, within, c.f.delivered(), tail(c.dist.out.String()), tail(c.filt.out.String()))
		}
		<-tick.C
	}
}

// control runs the cluster's control script: kill, stop or start node n.
func (c *clusterRun) control(step string, node int32) {
	c.t.Helper()
	if b, err := exec.Command(c.ctl, step, strconv.Itoa(int(node))).CombinedOutput(); err != nil {
		c.t.Fatalf("%s broker %d: %v\n%s", step, node, err, b)
	}
}

// client connects to the cluster, or returns nil while it cannot.
func (c *clusterRun) client() sarama.Client {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: c.f.brokers()})
	if err != nil {
		c.t.Fatal(err)
	}
	cl, err := sarama.NewClient(c.f.brokers(), sc)
	if err != nil {
		return nil
	}
	return cl
}

// busiestLeader is the broker leading most ingest partitions (node ids are
// broker ids), and how many it leads.
func (c *clusterRun) busiestLeader() (node int32, led int) {
	c.t.Helper()
	cl := c.client()
	if cl == nil {
		c.t.Fatal("the cluster does not answer")
	}
	defer cl.Close()
	parts, err := cl.Partitions(c.f.ingest)
	if err != nil {
		c.t.Fatal(err)
	}
	count := map[int32]int{}
	for _, p := range parts {
		b, err := cl.Leader(c.f.ingest, p)
		if err != nil {
			c.t.Fatal(err)
		}
		if count[b.ID()]++; count[b.ID()] > led || (count[b.ID()] == led && b.ID() < node) {
			node, led = b.ID(), count[b.ID()]
		}
	}
	return node, led
}

// ends is the end offset of each partition of topic now (nil if the topic
// does not exist or the cluster does not answer).
func (c *clusterRun) ends(topic string) map[int32]int64 {
	c.t.Helper()
	var e map[int32]int64
	c.until("the end offsets of "+topic, time.Minute, func() bool {
		var err error
		e, err = c.tryEnds(topic)
		return err == nil
	})
	return e
}

func (c *clusterRun) tryEnds(topic string) (map[int32]int64, error) {
	cl := c.client()
	if cl == nil {
		return nil, errors.New("no broker answers")
	}
	defer cl.Close()
	if !hasTopic(cl, topic) {
		return nil, nil
	}
	return kafkatest.EndOffsets(cl, topic)
}

// committed reports whether distribute's group has committed at least
// the offsets in want on the ingest topic.
func (c *clusterRun) committed(want map[int32]int64) bool {
	return c.committedBy(c.f.name, c.f.ingest, want)
}

// committedBy reports whether group has committed at least want on topic.
func (c *clusterRun) committedBy(group, topic string, want map[int32]int64) bool {
	sc, err := kafkaio.SaramaConfig(kafkaio.Config{Brokers: c.f.brokers()})
	if err != nil {
		c.t.Fatal(err)
	}
	admin, err := sarama.NewClusterAdmin(c.f.brokers(), sc)
	if err != nil {
		return false
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: slices.Collect(maps.Keys(want))})
	if err != nil || resp.Err != sarama.ErrNoError {
		return false
	}
	for p, end := range want {
		b := resp.GetBlock(topic, p)
		if end == 0 {
			continue
		}
		if b == nil || b.Err != sarama.ErrNoError || b.Offset < end {
			return false
		}
	}
	return true
}

// inSync reports whether broker node is in the ISR of every ingest
// partition.
func (c *clusterRun) inSync(node int32) bool {
	cl := c.client()
	if cl == nil {
		return false
	}
	defer cl.Close()
	parts, err := cl.Partitions(c.f.ingest)
	if err != nil {
		return false
	}
	for _, p := range parts {
		isr, err := cl.InSyncReplicas(c.f.ingest, p)
		if err != nil || !contains(isr, node) {
			return false
		}
	}
	return true
}

func contains(ids []int32, id int32) bool {
	for _, i := range ids {
		if i == id {
			return true
		}
	}
	return false
}

// checkFilter compares the filter's topic and dead letters with purity
// applied to the good alerts as they were ingested: each alert purity keeps
// is there at least once and nothing else is. It returns how many purity
// keeps and how many copies are extra.
func (c *clusterRun) checkFilter() (kept, duplicates int) {
	t, f := c.t, c.f
	t.Helper()
	codec, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	purity, err := filter.Build("purity", "ztf")
	if err != nil {
		t.Fatal(err)
	}
	want, wantDead := map[string]bool{}, map[string]bool{}
	for _, m := range f.read(f.ingest) {
		if !f.good[string(m.Key)] {
			continue
		}
		a := &ztf.Alert{}
		if err := codec.Decode(context.Background(), m.Value, a); err != nil {
			t.Fatalf("alert %s does not decode: %v", m.Key, err)
		}
		switch keep, err := purity.Keep(filter.OfZTF(a)); {
		case err != nil:
			wantDead[string(m.Key)] = true
		case keep:
			want[string(m.Key)] = true
		}
	}
	got := map[string]int{}
	for _, m := range f.read(c.filterTopic) {
		got[string(m.Key)]++
		duplicates += max(0, got[string(m.Key)]-1)
	}
	var missing, extra []string
	for id := range want {
		if got[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra) > 0 || len(want) == 0 {
		sort.Strings(missing)
		sort.Strings(extra)
		t.Errorf("filter topic %s: %d of the %d alerts purity keeps are missing (%.5v), %d alerts it drops are there (%.5v)",
			c.filterTopic, len(missing), len(want), missing, len(extra), extra)
	}
	dead := map[string]bool{}
	for _, m := range f.read(c.filterDLQ) {
		for _, h := range m.Headers {
			if string(h.Key) == deadletter.HeaderError && len(h.Value) == 0 {
				t.Errorf("filter dead letter %s carries no error", m.Key)
			}
		}
		dead[string(m.Key)] = true
	}
	if len(dead) != len(wantDead) {
		t.Errorf("the filter dead-lettered %d alerts, purity fails on %d", len(dead), len(wantDead))
	}
	return len(want), duplicates
}

// since is the time since start, rounded for the log.
func since(start time.Time) time.Duration { return time.Since(start).Round(100 * time.Millisecond) }

// tail is the last lines of a process's output.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 40 {
		lines = append([]string{fmt.Sprintf("... (%d lines before)", len(lines)-40)}, lines[len(lines)-40:]...)
	}
	return strings.Join(lines, "\n")
}
