package runners

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/gcpopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

// RunnerUsage describes the --runner flag.
const RunnerUsage = "where to run: direct|prism (in-process prism, lossless settings), flink|portable|universal (Beam job server at --endpoint), dataflow (Google Cloud Dataflow: --project, --region, --staging_location; --dry_run writes the job and its pipeline to stdout as JSON instead of submitting it)"

// DefineRunnerFlag defines --runner in Go's global flag set, where Beam keeps
// its options, unless something (ptest, beamx) already did.
func DefineRunnerFlag() {
	if flag.Lookup("runner") == nil {
		flag.String("runner", "direct", RunnerUsage)
	}
}

// RunnerName is the runner --runner names, "direct" when unset.
func RunnerName() string {
	if f := flag.Lookup("runner"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return "direct"
}

// InProcess reports whether --runner runs the pipeline on prism in this
// process (direct, prism), the runner that gives each stage's elements to
// one bundle at a time.
func InProcess() bool {
	switch strings.ToLower(RunnerName()) {
	case "direct", "prism":
		return true
	}
	return false
}

// SafePrismExperiment stops prism from dynamically splitting splittable
// DoFns, the setting under which prism lost elements.
const SafePrismExperiment = "prism_disable_sdf_split"

// Check reports a runner choice that cannot work before anything starts.
func Check() error {
	name := strings.ToLower(RunnerName())
	switch name {
	case "", "direct", "prism":
		return nil
	case "flink", "portable", "universal":
		if _, canStart := jobServerCommand(); *jobopts.Endpoint == "" && !canStart {
			return fmt.Errorf("runners: --runner=%s needs --endpoint=HOST:PORT of a Beam job server (for Flink: Beam's Flink job server), or --job_server=CMD / --flink_job_server_jar=PATH to start one", name)
		}
		return nil
	case "dataflow":
		var missing []string
		for _, f := range []struct{ name, value string }{
			{"--project", *gcpopts.Project}, {"--region", *gcpopts.Region}, {"--staging_location", flagValue("staging_location")},
		} {
			if f.value == "" {
				missing = append(missing, f.name)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("runners: --runner=dataflow needs %s (e.g. --project my-project --region us-central1 --staging_location gs://bucket/staging)", strings.Join(missing, ", "))
		}
		if loc := flagValue("staging_location"); !strings.HasPrefix(loc, "gs://") {
			return fmt.Errorf("runners: --staging_location %q must be a gs:// path", loc)
		}
		return nil
	default:
		return fmt.Errorf("runners: unknown --runner=%q (want direct, prism, flink, portable, universal or dataflow)", name)
	}
}

// Run executes p on the runner chosen by --runner and waits for it to finish.
func Run(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	if err := Check(); err != nil {
		return nil, err
	}
	switch strings.ToLower(RunnerName()) {
	case "flink", "portable", "universal":
		stop, err := endpointOrJobServer(ctx)
		if err != nil {
			return nil, err
		}
		defer stop()
		if *jobopts.EnvironmentType == "" {
			*jobopts.EnvironmentType = "LOOPBACK"
		}
		return universal.Execute(ctx, p)
	case "dataflow":
		useOwnBinaryAsWorker()
		if flagValue("dry_run") == "true" {
			return dryRunDataflow(ctx, p)
		}
		return dataflow.Execute(ctx, p)
	default:
		AddExperiment(SafePrismExperiment)
		return runDirect(ctx, p)
	}
}

func flagValue(name string) string {
	if f := flag.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

// useOwnBinaryAsWorker stages the running binary as the Dataflow worker when
// it can serve as one (linux/amd64, built without cgo: make crosscompile),
// instead of compiling the program again at launch.
func useOwnBinaryAsWorker() {
	if *jobopts.WorkerBinary != "" || runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	for _, s := range info.Settings {
		if s.Key == "CGO_ENABLED" && s.Value == "0" {
			if exe, err := os.Executable(); err == nil {
				*jobopts.WorkerBinary = exe
			}
			return
		}
	}
}

// AddExperiment appends an experiment to Beam's --experiments unless present.
func AddExperiment(exp string) {
	cur := *jobopts.Experiments
	for _, e := range strings.Split(cur, ",") {
		if strings.TrimSpace(e) == exp {
			return
		}
	}
	if cur == "" {
		*jobopts.Experiments = exp
	} else {
		*jobopts.Experiments = cur + "," + exp
	}
}
