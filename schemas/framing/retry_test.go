package framing_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/alertbeam/alertbeam/schemas/framing"
)

func TestRetry(t *testing.T) {
	_, _, bad := framing.ParseWire([]byte{1, 2})
	if !framing.BadInput(bad) || !framing.BadInput(fmt.Errorf("wrapped: %w", bad)) {
		t.Fatalf("BadInput(%v) = false, want true (also wrapped)", bad)
	}
	down := errors.New("registry: connection refused")
	if framing.BadInput(down) {
		t.Fatal("BadInput(a network error) = true")
	}
	for _, c := range []struct {
		name      string
		errs      []error // what each call returns, nil for success
		wantCalls int
		wantErr   error
	}{
		{"bad input at once", []error{bad}, 1, bad},
		{"registry back on the third try", []error{down, down, nil}, 3, nil},
		{"registry down throughout", []error{down, down, down, down, down, down}, 5, down},
		{"bad input after a blink", []error{down, bad}, 2, bad},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			v, err := framing.Retry(context.Background(), func() (int, error) {
				e := c.errs[calls]
				calls++
				if e != nil {
					return -1, e
				}
				return 42, nil
			})
			if calls != c.wantCalls || !errors.Is(err, c.wantErr) && err != c.wantErr {
				t.Fatalf("%d calls, error %v; want %d calls, error %v", calls, err, c.wantCalls, c.wantErr)
			}
			if want := map[bool]int{true: 42, false: 0}[c.wantErr == nil]; v != want {
				t.Fatalf("value %d, want %d", v, want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	if _, err := framing.Retry(ctx, func() (int, error) { calls++; return 0, down }); !errors.Is(err, context.Canceled) || calls != 1 {
		t.Fatalf("cancelled: %d calls, error %v; want 1 call, context.Canceled", calls, err)
	}
}
