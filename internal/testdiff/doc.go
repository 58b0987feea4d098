// Package testdiff says how two results of a test differ in a line short
// enough for a failure message. Only tests import it.
package testdiff
