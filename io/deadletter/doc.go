// Package deadletter carries the alerts a pipeline could not process, with
// their error, to a dead-letter topic, so bad input never stops or poisons a
// stream and nothing is dropped silently.
//
// A dead-letter message keeps the original bytes as its value and says what
// happened in its headers: error, stage, source.topic, source.partition and
// source.offset.
package deadletter
