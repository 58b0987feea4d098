// Command alertbeam runs astronomical alert streams (ZTF, Rubin/LSST) as Apache
// Beam pipelines: produce, distribute per night, filter, archive and replay.
//
// Run `alertbeam help` for the subcommands and `alertbeam CMD --help` for the
// flags of one. Beam's own pipeline options (--runner, --endpoint, --job_name,
// --environment_type, ...) are accepted by every pipeline subcommand.
package main
