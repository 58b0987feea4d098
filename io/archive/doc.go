// Package archive keeps alerts forever in Avro object container files, one
// directory per survey, night and program, and reads them back as a stream.
//
// # Layout
//
//	<root>/ztf/<YYYYMMDD>/programid<N>/ztf_<YYYYMMDD>_programid<N>_<fp>_<seq>.avro
//	<root>/lsst/<dayObs>/lsst_<dayObs>_<fp>_<seq>.avro
//
// root is a local directory or gs://bucket/prefix. The night is the UTC date
// of candidate.jd for ZTF and Rubin's dayObs for LSST (transforms/fanout).
// Programs get their own directories so access can be granted per program.
// A file holds records of one writer schema, which its header carries, so
// any Avro reader reads it; fp is the first 16 hex digits of the SHA-256
// fingerprint of that schema's canonical form, seq a per-directory,
// per-schema sequence number. Each record is the datum exactly as it
// arrived, never re-encoded; each block holds one record. The header's
// metadata lists the file's alert ids (alertbeam.ids) and, for LSST, the
// registry id of the writer schema (alertbeam.schema_id).
//
// # Exactly once
//
// Write keeps payloads in fused stages: each bundle streams its records into
// temporary files under <root>/_temp/, which no night glob matches, and
// emits only small descriptions of them (ids, sizes, Kafka sources). Those
// are grouped per night, program and schema in event-time windows, and a
// commit step, run serially per group, copies the records into final files.
// A final file becomes visible atomically and only if its name is new
// (local: link(2) from a staging file; GCS: an upload with the DoesNotExist
// precondition). Before writing, the commit step reads the ids of every
// final file in the directory from their headers and leaves out the ids
// already there; because a file named seq N+1 can only be created by a
// writer that saw file N, every commit has seen every earlier one, and no
// id is stored twice even when separate jobs write the same night at once.
// (Sequence numbers are per writer schema, so the one race this leaves is
// one alert arriving under two writer schemas in two jobs at once; Verify
// finds it and Repair removes it.) Within a job the commits of a group run
// one at a time, so they never race at all. Acks are emitted only after the
// records are in final files.
//
// A failed job can leave temporary files behind; they are invisible to
// readers, Verify lists them as pending and Sweep removes them. Verify reads
// every record of a night and reports counts, duplicate ids and unreadable
// files; Repair removes duplicates that something bypassing this package
// put there. Read replays files as Kafka-framed records, each with a Source
// naming its file and index; Fetch reads records again by that Source.
//
// The store behind a root is the local filesystem or GCS through
// cloud.google.com/go/storage, not Beam's filesystem API, which can neither
// create a file only if it is absent nor read nested names back from the
// GCS emulator (see store.go).
package archive
