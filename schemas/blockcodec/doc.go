// Package blockcodec compresses and decompresses the blocks of Avro object
// container files with the codecs the Avro specification names (null,
// deflate, snappy, zstandard). ZTF frames every alert as a one-record
// container file (schemas/framing) and the archive keeps alerts in
// container files (io/archive); both read blocks that may come from
// anyone, so decompression has one bound, MaxBlock, against a hostile
// block that would expand to gigabytes.
package blockcodec
