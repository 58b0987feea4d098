// Package kafkatest is the Kafka side of alertbeam's tests: it starts the
// embedded broker (io/broker) for one test, writes to a topic, reads a topic
// back and asks for a group's committed offsets, with plain sarama clients so
// that what a test checks does not go through the code under test. Every
// helper takes a testing.TB, fails the test with a message naming what it
// was doing, and closes what it opened with t.Cleanup or before returning.
//
// Only tests import it. Package io/broker's in-package tests cannot (import
// cycle).
package kafkatest
