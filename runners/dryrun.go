package runners

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
)

// DryRunOutput is where a Dataflow --dry_run writes the job it would
// submit (see DryRunUsage): standard output.
var DryRunOutput io.Writer = os.Stdout

// DryRunLog receives the other messages Beam logs during a dry run, since
// the run replaces Beam's logger to catch the job: by default Beam's own
// structured logger.
var DryRunLog log.Logger = &log.Structural{}

// DryRunUsage replaces the usage of Beam's --dry_run flag, which says
// "print the job" but only logs it at INFO, hidden at alertbeam's default
// log level.
const DryRunUsage = "with --runner=dataflow: build the Dataflow job offline (no credentials needed), submit nothing, and " +
	`write it to stdout as one JSON document, {"job": Dataflow's job request, "pipeline": the Beam pipeline it runs}; ` +
	`jq -r '.pipeline.components.transforms[].uniqueName' lists the transforms`

func init() {
	if f := flag.Lookup("dry_run"); f != nil {
		f.Usage = DryRunUsage
	}
}

// DryRun is what a Dataflow dry run writes to DryRunOutput. Dataflow's
// portable submission (runner v2, the only one Beam Go uses) sends the job
// request without steps and stages the pipeline model beside it, so the job
// alone does not show what would run: the model goes with it.
type DryRun struct {
	// Job is the Dataflow job request, as Beam would send it.
	Job json.RawMessage `json:"job"`
	// Pipeline is the Beam pipeline model, as Beam would stage it, in
	// protobuf's JSON mapping.
	Pipeline json.RawMessage `json:"pipeline"`
}

// dryRunDataflow runs Beam's Dataflow dry run, which builds the job and the
// model and only logs them at INFO, and writes both to DryRunOutput.
func dryRunDataflow(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	c := &jobCapture{next: DryRunLog}
	log.SetLogger(c)
	defer log.SetLogger(c.next)
	if _, err := dataflow.Execute(ctx, p); err != nil {
		return nil, err
	}
	if c.job == "" || c.model == "" {
		return nil, errors.New("runners: the Dataflow dry run built no job (has Beam's dry-run logging changed?)")
	}
	// Beam logs the model in protobuf's text form; JSON is what jq and
	// every other tool read.
	var model pipepb.Pipeline
	if err := (prototext.UnmarshalOptions{DiscardUnknown: true}).Unmarshal([]byte(c.model), &model); err != nil {
		return nil, fmt.Errorf("runners: reading the dry run's pipeline model: %w", err)
	}
	pipeline, err := protojson.Marshal(&model)
	if err != nil {
		return nil, fmt.Errorf("runners: the dry run's pipeline model as JSON: %w", err)
	}
	out, err := json.MarshalIndent(DryRun{Job: json.RawMessage(c.job), Pipeline: pipeline}, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("runners: the dry run's job as JSON: %w", err)
	}
	_, err = fmt.Fprintf(DryRunOutput, "%s\n", out)
	return nil, err
}

// dryRunNotice is the INFO line with which Beam's dry run starts; the
// next INFO line is the pipeline model.
const dryRunNotice = "Dry-run: not submitting job!"

// jobCapture keeps the model and the job JSON that Beam's dry run logs and
// passes every other message on.
type jobCapture struct {
	next       log.Logger
	afterStart bool // the last message was dryRunNotice
	model, job string
}

func (c *jobCapture) Log(ctx context.Context, sev log.Severity, depth int, msg string) {
	switch {
	case sev == log.SevInfo && msg == dryRunNotice:
		c.afterStart = true
		c.next.Log(ctx, sev, depth+1, msg)
	case sev == log.SevInfo && c.afterStart && c.model == "":
		c.model = msg
	case sev == log.SevInfo && c.model != "" && strings.HasPrefix(msg, "{") && json.Valid([]byte(msg)):
		c.job = msg
	default:
		c.next.Log(ctx, sev, depth+1, msg)
	}
}

// DryRunSummary is what a dry run says in brief: the job's name, project
// and type, and the unique names of the pipeline's transforms, sorted.
type DryRunSummary struct {
	Name, ProjectID, Type string
	Transforms            []string
}

// Has reports whether the pipeline holds a transform of that unique name.
func (s DryRunSummary) Has(transform string) bool {
	_, ok := slices.BinarySearch(s.Transforms, transform)
	return ok
}

// SummarizeDryRun reads what a dry run wrote (see DryRun).
func SummarizeDryRun(b []byte) (DryRunSummary, error) {
	var d struct {
		Job struct {
			Name      string `json:"name"`
			ProjectID string `json:"projectId"`
			Type      string `json:"type"`
		} `json:"job"`
		Pipeline struct {
			Components struct {
				Transforms map[string]struct {
					UniqueName string `json:"uniqueName"`
				} `json:"transforms"`
			} `json:"components"`
		} `json:"pipeline"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return DryRunSummary{}, fmt.Errorf("runners: not a dry run's JSON: %w", err)
	}
	s := DryRunSummary{Name: d.Job.Name, ProjectID: d.Job.ProjectID, Type: d.Job.Type}
	for _, t := range d.Pipeline.Components.Transforms {
		s.Transforms = append(s.Transforms, t.UniqueName)
	}
	slices.Sort(s.Transforms)
	return s, nil
}
