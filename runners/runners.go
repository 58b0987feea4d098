// Package runners runs alertbeam pipelines on the runner named by --runner.
//
// alertbeam's names differ from Beam Go's registry on purpose: in Beam Go
// v2.77 "direct" is the old direct runner (it drops splittable-DoFn
// continuations) and plain "prism" splits splittable DoFns dynamically, which
// lost 23–50% of Kafka records in windowed pipelines. Here "direct" (the
// default) and "prism" both mean prism in-process with SDF splitting
// disabled, so the Kafka read is lossless.
package runners

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal"
)

// Runner is the --runner flag, in Beam's global flag set like Beam's own
// options, so every subcommand accepts it spelled the Beam way.
var Runner = flag.String("runner", "direct",
	"where to run: direct|prism (in-process prism, lossless settings), flink|portable|universal (Beam job server at --endpoint), dataflow")

// SafePrismExperiment stops prism from dynamically splitting splittable
// DoFns, the setting under which prism lost elements.
const SafePrismExperiment = "prism_disable_sdf_split"

// Run executes p on the runner chosen by --runner and waits for it to finish.
func Run(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	name := strings.ToLower(*Runner)
	switch name {
	case "", "direct", "prism":
		AddExperiment(SafePrismExperiment)
		return prism.Execute(ctx, p)
	case "flink", "portable", "universal":
		if *jobopts.Endpoint == "" {
			return nil, fmt.Errorf("runners: --runner=%s needs --endpoint=HOST:PORT of a Beam job server (for Flink: Beam's Flink job server)", name)
		}
		if *jobopts.EnvironmentType == "" {
			*jobopts.EnvironmentType = "LOOPBACK"
		}
		return universal.Execute(ctx, p)
	case "dataflow":
		return nil, fmt.Errorf("runners: --runner=dataflow is not wired in this build yet")
	default:
		return nil, fmt.Errorf("runners: unknown --runner=%q (want direct, prism, flink, portable, universal or dataflow)", *Runner)
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
