package filter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// TryConfig configures Try.
type TryConfig struct {
	Spec     string
	Survey   string
	Registry string   // schema registry URL (LSST)
	Catalogs []string // catalog specs for crossmatch filters
	// IDs is how many ids of kept alerts to report (default 5).
	IDs int
}

// TryResult is what a filter did with a sample of alerts.
type TryResult struct {
	Filter      string
	Alerts      int     // records tried
	Kept        int     // kept (or transformed)
	Dropped     int     // dropped, including those lacking a value the filter reads
	Failed      int     // the filter errored or panicked: a run dead-letters these
	Undecodable int     // records that are not alerts of the survey
	IDs         []int64 // the first kept alerts' ids, in record order
	FirstError  string  // the first failure's error, if any
	// Cost is the filter's own time per decoded alert (decoding apart),
	// and Decode the decoding's.
	Cost, Decode time.Duration
}

// Try runs a filter spec over records, as a filter run would, and counts
// what it keeps, publishing nothing: a sandbox for a filter before it is
// added (alertbeam filters try). A gw filter cannot be tried: it needs a
// run's notice topic.
func Try(ctx context.Context, recs []kafkaio.Record, cfg TryConfig) (TryResult, error) {
	cfg.IDs = cmp.Or(cfg.IDs, 5)
	f, err := Build(cfg.Spec, cfg.Survey)
	if err != nil {
		return TryResult{}, err
	}
	if usesGW([]*Filter{f}) {
		return TryResult{}, errors.New("filter: a gw filter cannot be tried alone: it matches alerts against a run's notice topic")
	}
	cats, err := OpenCatalogs(cfg.Catalogs)
	if err != nil {
		return TryResult{}, err
	}
	if err := cats.check([]*Filter{f}); err != nil {
		return TryResult{}, err
	}
	codec, err := framing.Open(cfg.Survey, cfg.Registry)
	if err != nil {
		return TryResult{}, err
	}
	res := TryResult{Filter: f.Name(), Alerts: len(recs)}
	var decoding, filtering time.Duration
	decoded := 0
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		t0 := time.Now()
		a := &Alert{}
		if cfg.Survey == schemas.ZTF {
			a.ZTF = &ztf.Alert{}
			err = codec.Decode(ctx, r.Value, a.ZTF)
		} else {
			a.LSST = &lsst.Alert{}
			err = codec.Decode(ctx, r.Value, a.LSST)
		}
		t1 := time.Now()
		decoding += t1.Sub(t0)
		if err != nil {
			if !framing.BadInput(err) {
				return res, fmt.Errorf("filter: %s: %w", r.Source, err)
			}
			res.Undecodable++
			continue
		}
		decoded++
		if len(cfg.Catalogs) > 0 {
			a.WithCatalogs(cats)
		}
		out, err := f.Apply(a)
		filtering += time.Since(t1)
		switch {
		case errors.Is(err, ErrMissing), err == nil && out == nil:
			res.Dropped++
		case err != nil:
			res.Failed++
			if res.FirstError == "" {
				res.FirstError = err.Error()
			}
		default:
			res.Kept++
			if len(res.IDs) < cfg.IDs {
				res.IDs = append(res.IDs, a.ID())
			}
		}
	}
	if decoded > 0 {
		res.Cost, res.Decode = filtering/time.Duration(decoded), decoding/time.Duration(decoded)
	}
	return res, nil
}
