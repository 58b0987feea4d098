// Package bench measures alertbeam's pipelines against the floor a user could
// write by hand: a plain sarama consumer decoding every packet with
// hamba/avro, on the same broker, in the same run.
//
// Each phase can run in a child process (the alertbeam binary re-executed
// with --phase), so its peak RSS is the pipeline's own, not the broker's or
// the loader's.
package bench
