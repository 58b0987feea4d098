package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	beamlog "github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/runners"
	// Registers the worker-harness hook that beam.Init runs in worker mode.
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/harness/init"
)

func init() {
	runners.DefineRunnerFlag()
	runners.DefineMemoryFlag()
}

func main() {
	// Dataflow and PROCESS/DOCKER environments start this binary with Beam's
	// worker flags and no subcommand. Hand those to Beam before any
	// subcommand parsing: beam.Init runs the worker harness and exits.
	if isWorker(os.Args[1:]) {
		flag.Parse()
		beam.Init()
		fmt.Fprintln(os.Stderr, "alertbeam: worker harness returned")
		os.Exit(1)
	}
	// Prism and the Beam SDK log every job step at INFO; users see warnings
	// and errors unless they ask for more.
	// ALERTBEAM_LOG=info|debug shows them.
	level := os.Getenv("ALERTBEAM_LOG")
	if level == "" {
		level = "warn"
	}
	beamlog.SetupLogging(level, "text")
	ctx, cancel := context.WithCancel(context.Background())
	stopSignals := handleSignals(os.Args[1:], cancel, os.Stderr)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stopSignals()
	cancel()
	os.Exit(code)
}

// handleSignals makes the first SIGINT or SIGTERM stop the command
// gracefully and a second one exit at once. A pipeline command drains
// (kafkaio.Drain): its reads stop, what is in flight reaches its sinks,
// offsets are committed, and it exits 0; any other command's context is
// cancelled.
func handleSignals(args []string, cancel context.CancelFunc, stderr io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
		case <-done:
			return
		}
		c := lookupCommand(args)
		if c != nil && c.beam {
			fmt.Fprintln(stderr, "\nalertbeam: stopping: finishing the alerts in flight and committing offsets (signal again to exit at once)")
			kafkaio.Drain()
		}
		if c == nil || !c.beam || c.orchestrates {
			// Its own loops (and child processes, which get SIGINT) stop
			// on the context.
			cancel()
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "alertbeam: exiting at once; uncommitted alerts are read again by the next run")
			os.Exit(130)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// lookupCommand finds the subcommand args name, two-word ones ("archive
// verify") first, or nil.
func lookupCommand(args []string) *command {
	if len(args) == 0 {
		return nil
	}
	if len(args) > 1 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c
		}
	}
	return commands[args[0]]
}

func isWorker(args []string) bool {
	for _, a := range args {
		switch strings.TrimLeft(a, "-") {
		case "worker", "worker=true":
			return strings.HasPrefix(a, "-")
		}
	}
	return false
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	// beam marks pipeline subcommands, which also accept Beam's options.
	beam bool
	// orchestrates marks a pipeline command that also runs loops of its
	// own or child processes (bench, demo): a stop cancels its context as
	// well as draining its pipelines.
	orchestrates bool
	// setup declares the subcommand's flags and returns what runs it.
	setup func(fs *flag.FlagSet) func(ctx context.Context, env *env) error
	usage string // extra usage text: arguments and examples
	// usageFn, when set, makes the extra usage text instead, when help is
	// shown: for text read from a library (what CEL expressions can call)
	// that would otherwise be built at every start.
	usageFn func() string
}

// env is what a running subcommand sees.
type env struct {
	args   []string
	stdout io.Writer
	stderr io.Writer
}

var commands = map[string]*command{}

func register(c *command) { commands[c.name] = c }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if len(args) > 1 {
			if c, ok := commands[args[1]]; ok {
				fs, _ := newFlagSet(c, stderr)
				fs.SetOutput(stdout)
				fs.Usage()
				return 0
			}
		}
		topUsage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c := lookupCommand(args)
	if c == nil {
		fmt.Fprintf(stderr, "alertbeam: unknown command %q\n\n", args[0])
		topUsage(stderr)
		return 2
	}
	if strings.Contains(c.name, " ") {
		args = args[1:] // a two-word command ("archive verify")
	}
	fs, exec := newFlagSet(c, stderr)
	positional, err := parseInterspersed(fs, args[1:])
	if err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if c.beam {
		// A runner that cannot work fails before any broker or pipeline starts.
		if err := runners.Check(); err != nil {
			fmt.Fprintf(stderr, "alertbeam %s: %v\n", c.name, err)
			return 2
		}
		if _, err := runners.ApplyMemoryLimit(); err != nil {
			fmt.Fprintf(stderr, "alertbeam %s: %v\n", c.name, err)
			return 2
		}
		beam.Init()
	}
	if err := exec(ctx, &env{args: positional, stdout: stdout, stderr: stderr}); err != nil {
		if errors.Is(err, errStopped) {
			fmt.Fprintf(stderr, "alertbeam %s: stopped before the end, as asked\n", c.name)
			return 0
		}
		fmt.Fprintf(stderr, "alertbeam %s: %v\n", c.name, err)
		return 1
	}
	return 0
}

// errStopped ends a command that a stop signal cut short after it drained
// what it had in flight: not a failure, so it exits 0.
var errStopped = errors.New("stopped by a signal")

func topUsage(w io.Writer) {
	fmt.Fprint(w, `alertbeam runs astronomical alert streams (ZTF, Rubin/LSST) as Apache Beam pipelines.

Usage:
  alertbeam COMMAND [flags] [args]

Commands:
`)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, commands[n].summary)
	}
	fmt.Fprint(w, `
Run 'alertbeam COMMAND --help' for a command's flags. Pipeline commands also take
Beam's options, spelled as Beam spells them (--runner, --endpoint, --job_name, ...).
`)
}

// newFlagSet builds a subcommand's flag set: its own flags, plus, for
// pipeline commands, every flag in Go's global set (where Beam registers its
// options), sharing their values so Beam sees what the user passed.
func newFlagSet(c *command, stderr io.Writer) (*flag.FlagSet, func(context.Context, *env) error) {
	fs := flag.NewFlagSet("alertbeam "+c.name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	own := map[string]bool{}
	exec := c.setup(fs)
	fs.VisitAll(func(f *flag.Flag) { own[f.Name] = true })
	if c.beam {
		flag.CommandLine.VisitAll(func(f *flag.Flag) {
			if !own[f.Name] && !hiddenBeamFlag(f.Name) {
				fs.Var(f.Value, f.Name, f.Usage)
			}
		})
	}
	fs.Usage = func() {
		w := fs.Output()
		usage := c.usage
		if c.usageFn != nil {
			usage = c.usageFn()
		}
		fmt.Fprintf(w, "alertbeam %s: %s\n\nUsage:\n  alertbeam %s [flags]%s\n\nFlags:\n", c.name, c.summary, c.name, usage)
		printFlags(w, fs, func(n string) bool { return own[n] })
		if c.beam {
			fmt.Fprint(w, "\nStopping: the first Ctrl-C (SIGINT or SIGTERM) drains: reads stop, what is in flight reaches its\n"+
				"outputs, offsets are committed, and the command exits 0; a second one exits at once (130).\n"+
				"Transient broker errors are retried for --kafka-retry-timeout before the command fails.\n")
			fmt.Fprint(w, "\nBeam pipeline options (see Beam's documentation):\n")
			printFlags(w, fs, func(n string) bool { return !own[n] })
		}
	}
	return fs, exec
}

// hiddenBeamFlag leaves out the worker-harness flags, which users never set.
func hiddenBeamFlag(name string) bool {
	switch name {
	case "worker", "id", "logging_endpoint", "control_endpoint", "semi_persist_dir", "options",
		"status_endpoint", "artifact_endpoint", "provision_endpoint":
		return true
	}
	return strings.HasPrefix(name, "test.")
}

func printFlags(w io.Writer, fs *flag.FlagSet, keep func(string) bool) {
	fs.VisitAll(func(f *flag.Flag) {
		if !keep(f.Name) {
			return
		}
		name, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if name != "" {
			line += " " + name
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "[]" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "%s\n    \t%s%s\n", line, strings.ReplaceAll(usage, "\n", "\n    \t"), def)
	})
}

// parseInterspersed parses flags wherever they stand among the arguments
// (alertbeam show FILE --compact), as users of other CLIs expect; "--" ends
// the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
