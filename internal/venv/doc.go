// Package venv finds, for tests, the Python of the project's cached
// virtualenv, where .ci/deps installs the tools that recompute alertbeam's
// results independently (fastavro, astropy, scipy).
package venv
