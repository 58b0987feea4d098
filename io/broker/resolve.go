package broker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Embedded is the --brokers value that asks for an embedded broker.
const Embedded = "embedded"

// Resolve turns a --brokers flag into addresses clients can dial.
//
// For Embedded it starts a broker with opts and returns its address; stop
// closes it, and so does cancelling ctx, so the broker (and its DataDir)
// is shut down cleanly even on a path that never reaches stop. Resolving
// happens where the pipeline is built: DoFns only ever see the plain
// address, never "embedded".
//
// Anything else is a comma-separated list of host:port, returned trimmed
// and in order, with a no-op stop; a malformed entry is an error naming it.
// opts is unused then.
func Resolve(ctx context.Context, brokers string, opts Options) (addrs []string, stop func() error, err error) {
	if strings.TrimSpace(brokers) == Embedded {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("broker: %w", err)
		}
		b, err := Start(opts)
		if err != nil {
			return nil, nil, err
		}
		// Close when ctx ends; stop unregisters that and closes now.
		// Close is idempotent, so the two can race harmlessly.
		unregister := context.AfterFunc(ctx, func() {
			if err := b.Close(); err != nil && opts.Logf != nil {
				opts.Logf("broker: %v", err)
			}
		})
		return []string{b.Addr()}, func() error {
			unregister()
			return b.Close()
		}, nil
	}
	if strings.TrimSpace(brokers) == "" {
		return nil, nil, errors.New(`broker: no brokers: name host:port[,host:port...] or "embedded"`)
	}
	for _, a := range strings.Split(brokers, ",") {
		a = strings.TrimSpace(a)
		if err := checkBrokerAddr(a); err != nil {
			return nil, nil, fmt.Errorf("broker: brokers %q: %w", brokers, err)
		}
		addrs = append(addrs, a)
	}
	return addrs, func() error { return nil }, nil
}

// checkBrokerAddr accepts what a Kafka client can dial: a non-empty host and
// a port from 1 to 65535.
func checkBrokerAddr(a string) error {
	if a == "" {
		return errors.New("empty address in the list")
	}
	if a == Embedded {
		return fmt.Errorf("%q cannot be combined with other brokers", Embedded)
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not host:port", a)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", a)
	}
	if strings.ContainsAny(host, "/ ") {
		return fmt.Errorf("%q: host %q is not a host name or IP address (no scheme or path)", a, host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q: port %q must be a number from 1 to 65535", a, port)
	}
	return nil
}
