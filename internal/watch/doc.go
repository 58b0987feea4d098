// Package watch is how tests follow what comes true on its own schedule.
// Until polls a condition: a message reaching a topic, a group's lag
// reaching zero, a process printing a line. Start runs a streaming pipeline
// or a command in the background, and its Until fails the test at once if
// the run ends before the condition holds. Output collects what a running
// process prints, so the test can read it meanwhile.
//
// The limits guard against a hang; they never measure speed.
package watch
