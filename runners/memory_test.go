package runners_test

import (
	"flag"
	"math"
	"runtime/debug"
	"testing"

	"github.com/alertbeam/alertbeam/runners"
)

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{
		"400MiB": 400 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40, "65536KiB": 64 << 20,
		"800MB": 800e6, "1.5GB": 1.5e9, " 512 MiB ": 512 << 20, "104857600": 100 << 20, "100000000B": 1e8,
		"off": 0, "0": 0,
	} {
		if got, err := runners.ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "lots", "-1GiB", "12", "63MiB", "1PiB", "NaNGiB", "1e30"} {
		if got, err := runners.ParseMemory(in); err == nil {
			t.Errorf("ParseMemory(%q) = %d, want an error", in, got)
		}
	}
}

// The default applies unless GOMEMLIMIT is set; a --memory_limit given
// applies always; off lifts the limit.
func TestApplyMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer runners.UnsetMemoryFlag()
	runners.UnsetMemoryFlag()

	t.Setenv("GOMEMLIMIT", "300MiB") // as if the runtime had read it at start
	debug.SetMemoryLimit(300 << 20)
	if n, err := runners.ApplyMemoryLimit(); err != nil || n != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Fatalf("with GOMEMLIMIT and no flag: %d, %v, limit %d; want GOMEMLIMIT's 300 MiB kept", n, err, debug.SetMemoryLimit(-1))
	}

	t.Setenv("GOMEMLIMIT", "")
	if n, err := runners.ApplyMemoryLimit(); err != nil || n != 400<<20 || debug.SetMemoryLimit(-1) != 400<<20 {
		t.Fatalf("default: %d, %v, limit %d; want 400 MiB", n, err, debug.SetMemoryLimit(-1))
	}

	t.Setenv("GOMEMLIMIT", "300MiB")
	if err := flag.Set("memory_limit", "1GiB"); err != nil {
		t.Fatal(err)
	}
	if n, err := runners.ApplyMemoryLimit(); err != nil || n != 1<<30 || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Fatalf("--memory_limit=1GiB over GOMEMLIMIT: %d, %v, limit %d", n, err, debug.SetMemoryLimit(-1))
	}

	if err := flag.Set("memory_limit", "off"); err != nil {
		t.Fatal(err)
	}
	if n, err := runners.ApplyMemoryLimit(); err != nil || n != 0 || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Fatalf("--memory_limit=off: %d, %v, limit %d", n, err, debug.SetMemoryLimit(-1))
	}

	if err := flag.Set("memory_limit", "10MiB"); err == nil {
		t.Fatal("--memory_limit=10MiB was accepted")
	}
}
