// Package samples locates the project's shared sample alerts and official
// reference schemas (the ../shared folder beside the repository), for tests and
// for demos that publish real packets.
//
// The shared folder is never copied into the repository. On a laptop without
// it, tests that need it skip with a clear message; under CI (CI=true) its
// absence is a failure, so a green CI always means the samples were used.
package samples
