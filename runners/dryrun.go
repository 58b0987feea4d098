package runners

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
)

// DryRunOutput is where a Dataflow --dry_run writes the job it would
// submit, as Dataflow's JSON: standard output.
var DryRunOutput io.Writer = os.Stdout

// DryRunLog receives the other messages Beam logs during a dry run (the
// pipeline's model among them), since the run replaces Beam's logger to
// catch the job: by default Beam's own structured logger.
var DryRunLog log.Logger = &log.Structural{}

// dryRunDataflow runs Beam's Dataflow dry run, which builds the job and
// only logs it, at INFO (not shown by default), and writes the job to
// DryRunOutput instead.
func dryRunDataflow(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	c := &jobCapture{next: DryRunLog}
	log.SetLogger(c)
	defer log.SetLogger(c.next)
	if _, err := dataflow.Execute(ctx, p); err != nil {
		return nil, err
	}
	if c.job == "" {
		return nil, errors.New("runners: the Dataflow dry run built no job")
	}
	_, err := fmt.Fprintln(DryRunOutput, c.job)
	return nil, err
}

// jobCapture keeps the job JSON that Beam's dry run logs and passes every
// other message on.
type jobCapture struct {
	next log.Logger
	job  string
}

func (c *jobCapture) Log(ctx context.Context, sev log.Severity, depth int, msg string) {
	if sev == log.SevInfo && strings.HasPrefix(msg, "{") && json.Valid([]byte(msg)) {
		c.job = msg
		return
	}
	c.next.Log(ctx, sev, depth+1, msg)
}
