// Package consumer reads an alert stream from Kafka as an end user does:
// it joins a consumer group, decodes each ZTF or LSST packet, prints one
// JSON summary line per alert and optionally saves each packet's bytes,
// the way Genesis (mjuric/petascale-streaming-demo) lets an astronomer
// stream a topic with a progress bar, a limit and an idle timeout.
//
// Delivery is at least once. A message's offset is marked for commit only
// after its line has been written to the output (and its packet file
// fsync'd and renamed into place when saving), and Consume commits
// synchronously and checks the group's committed offsets before it returns.
// A crash can therefore repeat alerts, never skip them. Messages that do
// not decode print an error line and are committed like alerts: they would
// fail again on every run.
package consumer
