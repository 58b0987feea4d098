// Package gcstest runs the GCS emulator (fake-gcs-server) in the test
// process, behind a TCP proxy that a test can take down and bring back to
// play a storage outage. The real storage client talks to it through
// STORAGE_EMULATOR_HOST, which every client the archive creates, in DoFns
// too, picks up.
package gcstest
