package runners

import (
	"context"
	"flag"

	jobpb "github.com/apache/beam/sdks/v2/go/pkg/beam/model/jobmanagement_v1"
)

// DirectJobState is the state prism's in-process job server gives a job.
func DirectJobState(ctx context.Context, jobID string) (string, error) {
	c, err := directJobService()
	if err != nil {
		return "", err
	}
	st, err := c.GetState(ctx, &jobpb.GetJobStateRequest{JobId: jobID})
	if err != nil {
		return "", err
	}
	return st.GetState().String(), nil
}

// UnsetMemoryFlag puts --memory_limit back to its default, as if not given.
func UnsetMemoryFlag() {
	DefineMemoryFlag()
	f := flag.Lookup("memory_limit").Value.(*memoryFlag)
	f.value, f.set = DefaultMemoryLimit, false
}
