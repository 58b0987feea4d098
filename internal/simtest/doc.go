// Package simtest gives tests a realistic alert to vary: one simulated
// packet that a test copies and moves to the places, or gives the values,
// it checks. Only tests import it.
package simtest
