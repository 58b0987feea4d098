package consumer

import (
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// DefaultPort is the Kafka port a kafka:// URL implies when a broker has
// none, as in Genesis-style URLs (kafka://alerts.example.org/topic).
const DefaultPort = "9092"

// topicName is Kafka's rule for topic names; checking it here turns a typo
// into a clear message instead of a broker error code.
var topicName = regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)

// ParseURL splits a stream URL, kafka://host:port[,host:port...]/topic, into
// broker addresses and a topic. A broker without a port gets DefaultPort.
//
// Consumer groups are not part of the URL: Genesis wrote them as
// kafka://group@host/topic, which would put the group where Kafka URLs
// elsewhere carry credentials, so that form is refused with a pointer to
// Options.Group (--group).
func ParseURL(s string) (brokers []string, topic string, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("consumer: URL %q: %s", s, fmt.Sprintf(format, args...))
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return nil, "", bad("want kafka://host:port[,host:port...]/topic")
	}
	if !strings.EqualFold(scheme, "kafka") {
		return nil, "", bad("scheme %q, want kafka://", scheme)
	}
	if strings.ContainsAny(rest, "?#") {
		return nil, "", bad("query strings and fragments are not supported")
	}
	authority, topic, hasPath := strings.Cut(rest, "/")
	if strings.Contains(authority, "@") {
		return nil, "", bad("a consumer group or user before '@' is not supported; set the group with --group (Options.Group)")
	}
	if authority == "" {
		return nil, "", bad("no broker: want kafka://host:port/topic")
	}
	for _, a := range strings.Split(authority, ",") {
		addr, err := brokerAddr(a)
		if err != nil {
			return nil, "", bad("%v", err)
		}
		brokers = append(brokers, addr)
	}
	switch {
	case !hasPath || topic == "":
		return nil, "", bad("no topic: want kafka://host:port/topic")
	case strings.Contains(topic, "/"):
		return nil, "", bad("topic %q contains '/': name one topic", topic)
	case topic == "." || topic == ".." || !topicName.MatchString(topic):
		return nil, "", bad("%q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", topic)
	}
	return brokers, topic, nil
}

// brokerAddr checks one host[:port] of a URL and adds the default port.
func brokerAddr(a string) (string, error) {
	if a == "" {
		return "", errors.New("empty broker address in the list")
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		// No port: a plain host name, or a bracketed IPv6 address.
		host, port = strings.TrimSuffix(strings.TrimPrefix(a, "["), "]"), DefaultPort
		if strings.ContainsAny(host, "[]") || strings.Count(host, ":") == 1 {
			return "", fmt.Errorf("broker %q is not host or host:port", a)
		}
	}
	if host == "" {
		return "", fmt.Errorf("broker %q has no host", a)
	}
	if strings.ContainsAny(host, " \t/") {
		return "", fmt.Errorf("broker %q: host %q is not a host name or IP address", a, host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "", fmt.Errorf("broker %q: port %q must be a number from 1 to 65535", a, port)
	}
	return net.JoinHostPort(host, port), nil
}
