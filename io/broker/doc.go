// Package broker runs an embedded Kafka-protocol broker inside the process,
// for alertbeam's zero-setup default (--brokers=embedded), its demos and its
// tests.
//
// The broker is franz-go's kfake: a single node that speaks the Kafka wire
// protocol over TCP, so every alertbeam client (sarama) talks to it exactly
// as it talks to a real cluster. Topics are auto-created on first use with
// Options.Partitions partitions. With Options.DataDir set, topics, records,
// committed group offsets and producer ids are written to disk and reloaded
// by the next Start on the same directory; without it everything lives in
// memory and disappears on Close.
//
// # Clients
//
// sarama v1.61.1 works against it; set Config.Version = SaramaVersion. The
// tests exercise idempotent producing, partition consuming from an offset,
// ClusterAdmin topic creation with configs, metadata refresh that finds
// later topics and partitions, offset commits for a group nobody joins,
// GetOffset, 100 KB+ records, record headers, and restarts. What was found
// on the way:
//
//   - Versions. kfake implements Kafka 4.x request versions and, like Kafka
//     4.0, no longer accepts the oldest (Produce below v3, Fetch below v4).
//     sarama's Config.Version caps what it sends and sarama clamps each
//     request further to what the broker advertises, so every version the
//     tests try works, from V2_1_0_0 (alertbeam's floor) to V4_3_1_0, which
//     is sarama v1.61.1's MaxVersion. SaramaVersion is that newest one.
//   - Unknown groups. Kafka answers an OffsetFetch for a group that has
//     never committed with offset -1; kfake answered GROUP_ID_NOT_FOUND,
//     which fails sarama's OffsetManager.ManagePartition, so every new
//     consumer group's first run failed. The broker intercepts those
//     requests and answers as Kafka does (see installOffsetFetchFix).
//   - Sizes. The broker accepts record batches up to Options.MaxMessageBytes
//     (16 MiB by default), but sarama refuses to send more than its own
//     Producer.MaxMessageBytes (1,000,000 by default): raise both for
//     bigger records. Consumers need nothing: the broker returns a whole
//     batch even when it exceeds the fetch size asked for, as Kafka does.
//   - Retention. kfake applies retention.ms only to topics that set it, and
//     only every log.cleaner.backoff.ms (an hour by default), where real
//     Kafka checks every five minutes: a record written with a years-old
//     timestamp survives here long after real Kafka has deleted it. Do not
//     take the embedded broker's silence as proof (docs/design.md, "Time").
//
// The embedded broker is for one machine: it is a single node with
// replication factor 1, and it is measured at a few thousand 60 KB alerts
// per second. Benchmarks are judged on real Kafka.
package broker
