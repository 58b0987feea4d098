package consumer_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/alertbeam/alertbeam/io/consumer"
)

func ExampleParseURL() {
	brokers, topic, err := consumer.ParseURL("kafka://kafka1:9092,kafka2/ztf_20261124_programid1")
	if err != nil {
		panic(err)
	}
	fmt.Println(brokers, topic)
	// Output: [kafka1:9092 kafka2:9092] ztf_20261124_programid1
}

// Read 25 alerts, then later the rest: the group's committed offsets make
// the second call start where the first stopped (Genesis's stream.commit(),
// done for you after each printed line).
func ExampleConsume() {
	brokers, topic, err := consumer.ParseURL("kafka://localhost:9092/ztf_20261124_programid1")
	if err != nil {
		panic(err)
	}
	opts := consumer.Options{Brokers: brokers, Topic: topic, Group: "my-demo", Limit: 25, Progress: os.Stderr}
	first, err := consumer.Consume(context.Background(), opts, os.Stdout)
	if err != nil {
		panic(err)
	}
	opts.Limit, opts.Timeout = 0, 10*time.Second
	rest, err := consumer.Consume(context.Background(), opts, os.Stdout)
	if err != nil {
		panic(err)
	}
	fmt.Fprintln(os.Stderr, first.Alerts+rest.Alerts, "alerts")
}
