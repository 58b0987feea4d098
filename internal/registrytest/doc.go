// Package registrytest gives a test an in-process Confluent-style schema
// registry seeded with the LSST schema versions alertbeam ships, and the
// LSST codec that resolves wire-format ids through it. Only tests import it.
package registrytest
