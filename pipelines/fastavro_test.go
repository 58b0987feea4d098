package pipelines_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/alertbeam/alertbeam/internal/kafkatest"
	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/archive"
	"github.com/alertbeam/alertbeam/io/broker"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/pipelines"
)

// fastavroScript prints the candid of every record of every file given.
const fastavroScript = `
import sys, fastavro
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        for rec in fastavro.reader(f):
            print(rec["candid"])
`

func python(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ALERTBEAM_PYTHON"); p != "" {
		return p
	}
	cache := os.Getenv("CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "alertbeam")
	}
	p := filepath.Join(cache, "venv", "bin", "python")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no Python with fastavro at %s: `make integration` installs it (.ci/deps)", p)
	}
	return p
}

// Python's fastavro, an independent Avro reader, reads every record the
// archive wrote (zstd-coded, per writer schema) and finds exactly the ids.
func TestIntegrationFastavroReadsArchive(t *testing.T) {
	py := python(t)
	b := kafkatest.Start(t, broker.Options{Partitions: 2})
	conn := kafkaio.Config{Brokers: []string{b.Addr()}}
	want, perTopic := produceAndDistribute(t, b.Addr(), "ingest", "d", nightOn(24, 11))
	var topics []string
	for topic := range perTopic {
		topics = append(topics, topic)
	}
	root := t.TempDir()
	p, s := beam.NewPipelineWithRoot()
	pipelines.Archive(s, pipelines.ArchiveConfig{
		Read:    kafkaio.ReadConfig{Config: conn, Topics: topics, Group: "arch", StopAtEnd: true},
		Archive: archive.Config{Root: root, Survey: "ztf", Codec: "zstd"}, Write: kafkaio.WriteConfig{Config: conn},
	})
	runPipeline(t, p)

	files, _ := filepath.Glob(filepath.Join(root, "ztf", "20261124", "programid*", "*.avro"))
	if len(files) == 0 {
		t.Fatal("no archive files")
	}
	out, err := exec.Command(py, append([]string{"-c", fastavroScript}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("fastavro: %v\n%s", err, out)
	}
	var got []int64
	for _, f := range strings.Fields(string(out)) {
		id, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("fastavro printed %q, not a candid", f)
		}
		got = append(got, id)
	}
	slices.Sort(got)
	if d := testdiff.IDs(got, slices.Sorted(maps.Keys(want))); d != "" {
		t.Fatalf("fastavro read %d files, want exactly the archived ids: %s", len(files), d)
	}
}
