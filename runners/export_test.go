package runners

import (
	"context"

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
