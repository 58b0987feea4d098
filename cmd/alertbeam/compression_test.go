package main

import (
	"flag"
	"strings"
	"testing"
)

// --compression reaches the WriteConfig of every topic a command writes,
// and a name no producer knows is refused before anything runs.
func TestCompressionFlag(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	sec := addSecurityFlags(fs)
	if err := fs.Parse([]string{"--compression", "lz4"}); err != nil {
		t.Fatal(err)
	}
	if w := sec.write([]string{"127.0.0.1:9092"}, 4); w.Compression != "lz4" || w.Partitions != 4 {
		t.Errorf("write config: compression %q, partitions %d; want lz4, 4", w.Compression, w.Partitions)
	}
	code, _, stderr := runCLI(t, "distribute", "--brokers", "127.0.0.1:1", "--topic", "ingest", "--compression", "brotli")
	want := `kafkaio: unknown compression "brotli" (want none, gzip, snappy, lz4 or zstd)`
	if code == 0 || !strings.Contains(stderr, want) {
		t.Errorf("distribute --compression brotli: exit %d, stderr %q; want a failure saying %q", code, stderr, want)
	}
}
