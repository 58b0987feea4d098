package broker

import (
	"cmp"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
)

// SaramaVersion is the sarama.Config.Version to use against the embedded
// broker: the newest version sarama v1.61.1 knows, every request of which
// the broker handles. (sarama's versions are structs, hence a variable.)
var SaramaVersion = sarama.V4_3_1_0

// Defaults for zero Options fields.
const (
	DefaultAddr            = "127.0.0.1:0"
	DefaultPartitions      = 16
	DefaultMaxMessageBytes = 16 << 20
)

// Options configure an embedded broker. The zero value is a usable
// in-memory broker on a free loopback port.
type Options struct {
	// Addr is the host:port to listen on; DefaultAddr (a free loopback
	// port) when empty. The broker advertises the address it listens on;
	// a wildcard host (0.0.0.0, ::) listens everywhere but advertises
	// 127.0.0.1, so only local clients can follow the metadata it returns.
	Addr string
	// DataDir persists the broker's state there and reloads it on the next
	// Start; "" keeps everything in memory.
	DataDir string
	// Partitions is the partition count of topics created without one
	// (auto-created on first produce or metadata request, or CreateTopics
	// with -1); DefaultPartitions when zero.
	Partitions int32
	// MaxMessageBytes is the largest record batch the broker accepts;
	// DefaultMaxMessageBytes when zero, so 100 KB+ alerts fit.
	MaxMessageBytes int
	// Topics are created at start with their partition counts (zero or
	// less means Partitions). Topics that already exist, for example
	// reloaded from DataDir, are left as they are.
	Topics map[string]int32
	// Logf receives the broker's warnings and errors (and its informational
	// messages, such as requests it could not handle); nil discards them.
	Logf func(format string, args ...any)
}

// ErrClosed is returned by Restart and CreateTopic after Close.
var ErrClosed = errors.New("broker: closed")

// Broker is a running embedded broker. Its methods are safe for concurrent
// use.
type Broker struct {
	opts Options // with defaults filled in
	host string  // the host to listen on, from opts.Addr
	addr string  // the advertised host:port, fixed for the broker's life

	mu      sync.Mutex
	cluster *kfake.Cluster
	closed  bool
	log     *logger
}

// Start starts a broker and creates opts.Topics. It returns once the broker
// accepts connections.
func Start(opts Options) (*Broker, error) {
	opts.Addr = cmp.Or(opts.Addr, DefaultAddr)
	opts.Partitions = cmp.Or(opts.Partitions, DefaultPartitions)
	opts.MaxMessageBytes = cmp.Or(opts.MaxMessageBytes, DefaultMaxMessageBytes)
	switch {
	case opts.Partitions < 0:
		return nil, fmt.Errorf("broker: Partitions %d: must be positive", opts.Partitions)
	case opts.MaxMessageBytes < 0:
		return nil, fmt.Errorf("broker: MaxMessageBytes %d: must be positive", opts.MaxMessageBytes)
	}
	host, port, err := splitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("broker: Addr: %w", err)
	}
	b := &Broker{opts: opts, host: host}
	if err := b.start(port); err != nil {
		return nil, err
	}
	return b, nil
}

// start runs a kfake cluster on port (0 for any) and records its address.
// The caller holds b.mu or has not yet shared b.
func (b *Broker) start(port int) error {
	lg := &logger{logf: b.opts.Logf}
	kopts := []kfake.Opt{
		// One node: every partition leader and group coordinator is the
		// address the user named, so nothing else needs to be reachable.
		kfake.Ports(port),
		// kfake always asks for 127.0.0.1; listen where the user asked.
		kfake.ListenFn(func(network, address string) (net.Listener, error) {
			_, p, err := net.SplitHostPort(address)
			if err != nil {
				return nil, err
			}
			return listen(network, net.JoinHostPort(b.host, p))
		}),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(int(b.opts.Partitions)),
		kfake.BrokerConfigs(map[string]string{
			"message.max.bytes": strconv.Itoa(b.opts.MaxMessageBytes),
		}),
		kfake.WithLogger(lg),
	}
	if b.opts.DataDir != "" {
		kopts = append(kopts, kfake.DataDir(b.opts.DataDir))
	}
	c, err := kfake.NewCluster(kopts...)
	if err != nil {
		return fmt.Errorf("broker: start: %w", err)
	}
	addrs := c.ListenAddrs()
	if len(addrs) != 1 {
		c.Close()
		return fmt.Errorf("broker: start: listening on %d addresses, want 1", len(addrs))
	}
	installOffsetFetchFix(c)
	b.cluster, b.log, b.addr = c, lg, addrs[0]
	for t, n := range b.opts.Topics {
		if err := b.createTopic(t, n, nil); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			c.Close()
			return fmt.Errorf("broker: create topic %q: %w", t, err)
		}
	}
	return nil
}

// Addr is the "host:port" clients dial, the same across Restart.
func (b *Broker) Addr() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.addr
}

// Options returns the options the broker runs with, defaults filled in.
func (b *Broker) Options() Options { return b.opts }

// CreateTopic creates a topic with partitions partitions (zero or less for
// Options.Partitions) and topic configs such as "retention.ms", without a
// client. An existing topic is an error that matches kerr.TopicAlreadyExists.
func (b *Broker) CreateTopic(topic string, partitions int32, configs map[string]string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	if err := b.createTopic(topic, partitions, configs); err != nil {
		return fmt.Errorf("broker: create topic %q: %w", topic, err)
	}
	return nil
}

func (b *Broker) createTopic(topic string, partitions int32, configs map[string]string) error {
	if partitions <= 0 {
		partitions = b.opts.Partitions
	}
	return b.cluster.CreateTopic(topic, partitions, configs)
}

// Close stops the broker, first saving its state when it has a DataDir.
// Clients see their connections drop. Close is idempotent; only the first
// call can report an error (a failure to persist).
func (b *Broker) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	return b.stop()
}

// stop closes the running cluster and reports the errors it logged while
// persisting. The caller holds b.mu.
func (b *Broker) stop() error {
	b.log.collect(true)
	b.cluster.Close()
	if errs := b.log.collect(false); len(errs) > 0 {
		return fmt.Errorf("broker: close: %w", errors.Join(errs...))
	}
	return nil
}

// Restart stops the broker and starts it again on the same address and data
// directory, as a broker process restart would: clients lose their
// connections and must reconnect. With a DataDir everything written before
// the restart is back; without one the broker comes back empty (except for
// Options.Topics). Another process may take the port in between, in which
// case Restart fails and the broker stays closed.
func (b *Broker) Restart() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return ErrClosed
	}
	stopErr := b.stop()
	_, port, err := net.SplitHostPort(b.addr)
	if err == nil {
		var p int
		if p, err = strconv.Atoi(port); err == nil {
			err = b.start(p)
		}
	}
	if err != nil {
		b.closed = true
		return errors.Join(stopErr, fmt.Errorf("broker: restart: %w", err))
	}
	return stopErr
}

// splitHostPort parses a listen address with a numeric port.
func splitHostPort(addr string) (host string, port int, err error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: port must be a number from 0 to 65535", addr)
	}
	return host, port, nil
}

// listen listens on address; a wildcard host listens on every interface but
// the listener reports (and the broker advertises) 127.0.0.1, since the
// wildcard itself is nothing a client could dial.
func listen(network, address string) (net.Listener, error) {
	ln, err := net.Listen(network, address)
	if err != nil {
		return nil, err
	}
	a, ok := ln.Addr().(*net.TCPAddr)
	if !ok || !a.IP.IsUnspecified() {
		return ln, nil
	}
	return advertised{ln, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: a.Port}}, nil
}

// advertised is a listener that reports another address than it is bound to.
type advertised struct {
	net.Listener
	addr net.Addr
}

func (a advertised) Addr() net.Addr { return a.addr }

// logger adapts kfake's leveled logger to Options.Logf and, while the
// broker closes, collects the errors kfake can only log (failures to save
// the data directory).
type logger struct {
	logf func(string, ...any)

	mu         sync.Mutex
	collecting bool
	errs       []error
}

func (l *logger) Logf(level kfake.LogLevel, format string, args ...any) {
	if level == kfake.LogLevelDebug || level == kfake.LogLevelNone {
		return
	}
	if level == kfake.LogLevelError {
		l.mu.Lock()
		if l.collecting {
			l.errs = append(l.errs, fmt.Errorf(format, args...))
		}
		l.mu.Unlock()
	}
	if l.logf != nil {
		l.logf("broker: "+level.String()+": "+format, args...)
	}
}

// collect starts collecting errors (on true) or stops and returns them.
func (l *logger) collect(on bool) []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.collecting = on
	errs := l.errs
	l.errs = nil
	return errs
}
