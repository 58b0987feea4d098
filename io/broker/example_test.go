package broker_test

import (
	"context"
	"fmt"
	"log"

	"github.com/IBM/sarama"

	"github.com/alertbeam/alertbeam/io/broker"
)

// A broker for a test or a demo, and a sarama producer and consumer on it.
func Example() {
	b, err := broker.Start(broker.Options{Topics: map[string]int32{"alerts": 4}})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	cfg := sarama.NewConfig()
	cfg.Version = broker.SaramaVersion
	cfg.Producer.Idempotent = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Return.Successes = true
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	client, err := sarama.NewClient([]string{b.Addr()}, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: "alerts", Partition: 3, Value: sarama.StringEncoder("ZTF26aaaaaaa")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote partition %d offset %d\n", part, off)

	c, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	pc, err := c.ConsumePartition("alerts", 3, sarama.OffsetOldest)
	if err != nil {
		log.Fatal(err)
	}
	defer pc.Close()
	m := <-pc.Messages()
	fmt.Printf("read %q at offset %d\n", m.Value, m.Offset)
	// Output:
	// wrote partition 3 offset 0
	// read "ZTF26aaaaaaa" at offset 0
}

// Resolve is how a subcommand turns its --brokers flag into addresses.
func ExampleResolve() {
	addrs, stop, err := broker.Resolve(context.Background(), "kafka-1:9092, kafka-2:9092", broker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop()
	fmt.Println(addrs)

	addrs, stop, err = broker.Resolve(context.Background(), "embedded", broker.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer stop() // closes the embedded broker
	fmt.Println(len(addrs))

	_, _, err = broker.Resolve(context.Background(), "kafka-1", broker.Options{})
	fmt.Println(err)
	// Output:
	// [kafka-1:9092 kafka-2:9092]
	// 1
	// broker: brokers "kafka-1": "kafka-1" is not host:port
}
