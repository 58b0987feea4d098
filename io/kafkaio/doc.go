// Package kafkaio reads and writes Apache Kafka from Beam Go pipelines, on
// sarama. Beam Go has no native Kafka IO (its kafkaio needs a Java expansion
// service); this one is modelled on Beam's natsio and on the design of Beam
// Java's ReadFromKafkaDoFn:
//
//   - Read discovers topic partitions (listed, or matched by a pattern and
//     re-discovered periodically so tonight's new topic is picked up) and reads
//     each with a splittable DoFn over a growable offset range, self-
//     checkpointing with ResumeProcessingIn and holding a per-partition
//     watermark that advances when the partition is idle.
//   - Write produces with an idempotent producer to a topic chosen per element,
//     creating topics on demand, and emits an Ack for every message the broker
//     acknowledged.
//   - Commit commits consumer-group offsets only once every sink has
//     acknowledged every record below them (see commit.go).
package kafkaio
