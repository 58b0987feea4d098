package runners

import (
	"flag"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultMemoryLimit is --memory_limit's default. A pipeline on the direct
// runner holds a bounded amount of alerts in flight (the reads' read-ahead,
// Fetch's, the producers' unanswered bytes, the archive's pending records:
// 150-250 MB of live heap at full speed on one machine), but Go's collector
// lets garbage grow to as much again before it runs, and how high a run's
// peak goes then depends on its length and on luck: without a limit a
// 10,000-alert qa run peaked at 400-500 MB RSS and a 50,000-alert one at
// 580-660 MB; with 400 MiB, 432 and 487 MB at the same alerts/s. Past the
// soft limit the collector runs sooner, so the peak stays near it.
const DefaultMemoryLimit = "400MiB"

const memoryUsage = "soft memory limit of this process: a `size` as Go's GOMEMLIMIT spells it (512MiB, 2GiB; off: none).\n" +
	"Past it the garbage collector runs more often (up to half the CPU) rather than the process growing; it\n" +
	"is not a cap: a pipeline that holds more keeps running. Raise it on a larger machine or when the\n" +
	"collector is busy. GOMEMLIMIT, when set, replaces the default; Flink and Dataflow workers size their own memory."

// memoryFlag is --memory_limit; it remembers whether it was given, since
// GOMEMLIMIT, when set, replaces only the default.
type memoryFlag struct {
	value string
	set   bool
}

func (f *memoryFlag) String() string { return f.value }

func (f *memoryFlag) Set(s string) error {
	if _, err := ParseMemory(s); err != nil {
		return err
	}
	f.value, f.set = s, true
	return nil
}

// DefineMemoryFlag defines --memory_limit in Go's global flag set, beside
// Beam's options.
func DefineMemoryFlag() {
	if flag.Lookup("memory_limit") == nil {
		flag.Var(&memoryFlag{value: DefaultMemoryLimit}, "memory_limit", memoryUsage)
	}
}

// MemoryLimitFlag returns --memory_limit's value and whether it was given,
// for a process that starts others (bench's phases) to pass it on.
func MemoryLimitFlag() (string, bool) {
	f, ok := flag.Lookup("memory_limit").Value.(*memoryFlag)
	if !ok {
		return "", false
	}
	return f.value, f.set
}

// ApplyMemoryLimit sets the process's soft memory limit from --memory_limit,
// leaving GOMEMLIMIT's when that is set and the flag was not given. It
// returns the limit in bytes (0: none).
func ApplyMemoryLimit() (int64, error) {
	f, ok := flag.Lookup("memory_limit").Value.(*memoryFlag)
	if !ok {
		return 0, fmt.Errorf("runners: --memory_limit is not defined (DefineMemoryFlag)")
	}
	if !f.set && os.Getenv("GOMEMLIMIT") != "" {
		return debug.SetMemoryLimit(-1), nil // the runtime read it at start
	}
	n, err := ParseMemory(f.value)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return 0, nil
	}
	debug.SetMemoryLimit(n)
	return n, nil
}

// ParseMemory reads a size as GOMEMLIMIT spells it (a number of bytes with
// an optional B, KiB, MiB, GiB or TiB suffix; also KB, MB, GB as powers of
// ten), or "off" or "0" for none.
func ParseMemory(s string) (int64, error) {
	t := strings.TrimSpace(s)
	if t == "off" || t == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   float64
	}{
		{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
	mult := 1.0
	for _, u := range units {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("runners: --memory_limit %q: want a size such as 512MiB or 2GiB, or off", s)
	}
	n := v * mult
	if n > math.MaxInt64/2 {
		return 0, fmt.Errorf("runners: --memory_limit %q is too large", s)
	}
	if n < 64<<20 {
		return 0, fmt.Errorf("runners: --memory_limit %q is below 64MiB: a pipeline needs more, and the collector would run without pause", s)
	}
	return int64(n), nil
}
