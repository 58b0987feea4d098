package runners

// The direct runner: prism's job server in this process, and the pipeline's
// workers in this process too (LOOPBACK).
//
// Beam's own path (prism.Execute, then universal.Execute) is not used for
// two reasons it cannot be told about. When the caller's context ends it
// stops waiting and stops the workers, but never cancels the job: prism
// keeps the job "running" with bundles whose worker is gone, and two of its
// progress loops then spin on a closed channel, two cores' worth, for the
// rest of the process (a test process running several pipelines starved the
// ones after). And each run leaves an empty beamloopbackworker-* file in
// the temporary directory, staged as the worker "binary" LOOPBACK never
// uses. Here a cancelled run cancels its job, waits for prism to wind it
// down, and only then stops the workers; the staged file is removed.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/metrics"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/graphx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/metricsx"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/runtime/xlangx"
	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
	pipepb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/pipeline_v1"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/extworker"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/universal/runnerlib"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/vet"
)

var (
	directMu sync.Mutex
	// directJobs is the in-process prism job server the first direct run
	// started; later direct runs in the process submit to it too.
	directJobs jobpb.JobServiceClient
)

func directJobService() (jobpb.JobServiceClient, error) {
	directMu.Lock()
	defer directMu.Unlock()
	if directJobs == nil {
		// The server lives as long as the process: its context is not the
		// run's.
		c, err := prism.CreateJobServer(context.Background(), prism.Options{})
		if err != nil {
			return nil, fmt.Errorf("runners: starting prism's job server: %w", err)
		}
		directJobs = c
	}
	return directJobs, nil
}

// cancelWait bounds how long a cancelled run waits for prism to stop its
// job before the workers stop regardless.
const cancelWait = 30 * time.Second

// runDirect runs p on prism in this process and waits for it to end; when
// ctx ends first, the job is cancelled and the error is ctx's.
func runDirect(ctx context.Context, p *beam.Pipeline) (beam.PipelineResult, error) {
	if !beam.Initialized() {
		return nil, errors.New("runners: beam.Init() was not called before the pipeline was built")
	}
	if *jobopts.Strict {
		// --beam_strict: Beam's checks of the pipeline's functions first.
		if _, err := vet.Execute(ctx, p); err != nil {
			return nil, fmt.Errorf("runners: --beam_strict: %w", err)
		}
	}
	client, err := directJobService()
	if err != nil {
		return nil, err
	}
	edges, _, err := p.Build()
	if err != nil {
		return nil, err
	}
	// The workers outlive ctx so that a cancelled job winds down before
	// they go (see the package's note above).
	workerCtx := context.WithoutCancel(ctx)
	pool, err := extworker.StartLoopback(workerCtx, 0)
	if err != nil {
		return nil, fmt.Errorf("runners: starting the in-process worker pool: %w", err)
	}
	defer pool.Stop(workerCtx)

	xlangx.ResolveArtifacts(ctx, edges, nil)
	env, err := graphx.CreateEnvironment(ctx, "beam:env:external:v1", pool.EnvironmentConfig)
	if err != nil {
		return nil, fmt.Errorf("runners: the pipeline's environment: %w", err)
	}
	pipe, err := graphx.Marshal(edges, &graphx.Options{Environment: env, PipelineResourceHints: jobopts.GetPipelineResourceHints()})
	if err != nil {
		return nil, fmt.Errorf("runners: encoding the pipeline: %w", err)
	}
	// Submitted whatever ctx does meanwhile: prism starts the job before
	// its Run call returns, so a submission cut short by ctx would leave a
	// running job with no id to cancel it by. A cancelled ctx is handled
	// once there is one.
	jobID, err := submitLoopback(workerCtx, client, pipe)
	if err != nil {
		return nil, err
	}
	err = runnerlib.WaitForCompletion(ctx, client, jobID)
	if ctx.Err() != nil {
		cancelJob(workerCtx, client, jobID)
		err = ctx.Err()
	}
	return jobResult(workerCtx, client, jobID, pipe), err
}

// submitLoopback prepares, stages and runs the pipeline; LOOPBACK workers
// run this process's code, so the worker "binary" staged is an empty file,
// removed once staged.
func submitLoopback(ctx context.Context, client jobpb.JobServiceClient, pipe *pipepb.Pipeline) (string, error) {
	f, err := os.CreateTemp("", "alertbeam-loopback-*")
	if err != nil {
		return "", fmt.Errorf("runners: %w", err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := runnerlib.UpdateGoEnvironmentWorker(f.Name(), pipe); err != nil {
		return "", err
	}
	opt := &runnerlib.JobOptions{
		Name:        jobopts.GetJobName(),
		Experiments: jobopts.GetExperiments(),
		Parallelism: *jobopts.Parallelism,
		Loopback:    true,
	}
	prep, artifacts, token, err := runnerlib.Prepare(ctx, client, pipe, opt)
	if err != nil {
		return "", err
	}
	if token, err = runnerlib.Stage(ctx, prep, artifacts, f.Name(), token); err != nil {
		return "", err
	}
	return runnerlib.Submit(ctx, client, prep, token)
}

// cancelJob cancels a job and waits, up to cancelWait, until prism has
// stopped it.
func cancelJob(ctx context.Context, client jobpb.JobServiceClient, jobID string) {
	ctx, cancel := context.WithTimeout(ctx, cancelWait)
	defer cancel()
	if _, err := client.Cancel(ctx, &jobpb.CancelJobRequest{JobId: jobID}); err != nil {
		return
	}
	for {
		st, err := client.GetState(ctx, &jobpb.GetJobStateRequest{JobId: jobID})
		if err != nil {
			return
		}
		switch st.GetState() {
		case jobpb.JobState_CANCELLED, jobpb.JobState_DONE, jobpb.JobState_FAILED, jobpb.JobState_DRAINED, jobpb.JobState_UPDATED:
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// directResult is a finished direct run: its job and the metrics prism
// gathered.
type directResult struct {
	jobID   string
	metrics *metrics.Results
}

func (r directResult) Metrics() metrics.Results { return *r.metrics }
func (r directResult) JobID() string            { return r.jobID }

func jobResult(ctx context.Context, client jobpb.JobServiceClient, jobID string, pipe *pipepb.Pipeline) directResult {
	res := directResult{jobID: jobID, metrics: metricsx.FromMonitoringInfos(pipe, nil, nil)}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if m, err := client.GetJobMetrics(ctx, &jobpb.GetJobMetricsRequest{JobId: jobID}); err == nil {
		res.metrics = metricsx.FromMonitoringInfos(pipe, m.GetMetrics().GetAttempted(), m.GetMetrics().GetCommitted())
	}
	return res
}
