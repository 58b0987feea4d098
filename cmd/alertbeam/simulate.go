package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

func init() {
	register(&command{
		name:    "simulate",
		summary: "generate a realistic simulated night of alerts into packet files",
		usage: `

Writes one Avro container file per alert (<candid>.avro for ZTF,
<diaSourceId>.avro for LSST) into --out, in visit order, seeded and
reproducible: the same flags give the same bytes. Artefacts for QA tests can
be injected into chosen visits.

Example:
  alertbeam simulate --out /tmp/night --visits 5 --alerts-per-visit 200 --bleed 2:25`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			o := addSimFlags(fs)
			out := fs.String("out", "", "directory to write the packets to (created if missing; required)")
			return func(ctx context.Context, e *env) error {
				if *out == "" {
					return errors.New("--out DIR is required")
				}
				cfg, err := o.config()
				if err != nil {
					return err
				}
				return simulateToDir(ctx, e, cfg, *out)
			}
		},
	})
}

// simFlags are the generator settings shared by simulate and produce.
type simFlags struct {
	survey, night, spike, bleed, streak *string
	seed                                *int64
	visits, perVisit                    *int
	cadence                             *time.Duration
	noCutouts                           *bool
}

func addSimFlags(fs *flag.FlagSet) *simFlags {
	return &simFlags{
		survey:    fs.String("survey", "ztf", "ztf or lsst"),
		night:     fs.String("night", "", "the night as YYYY-MM-DD (ZTF: the UTC date; LSST: the dayObs); default today"),
		seed:      fs.Int64("seed", 1, "random seed: the same seed gives the same alerts"),
		visits:    fs.Int("visits", 10, "number of visits (exposures)"),
		perVisit:  fs.Int("alerts-per-visit", 0, "alerts per visit before artefacts (default 1000 for ZTF, 10000 for LSST)"),
		cadence:   fs.Duration("cadence", 0, "time between visits (default 45s for ZTF, 39s for LSST)"),
		noCutouts: fs.Bool("no-cutouts", false, "leave the three FITS cutouts out (small, fast packets)"),
		spike:     fs.String("spike", "", "inject a rate spike: VISIT:FACTOR (that visit gets FACTOR times the alerts)"),
		bleed:     fs.String("bleed", "", "inject a bleed trail: VISIT:N (N bogus candidates along a bright star's column)"),
		streak:    fs.String("streak", "", "inject a satellite streak: VISIT:N (N bogus candidates along a great circle)"),
	}
}

func (o *simFlags) config() (sim.Config, error) {
	cfg := sim.Defaults(*o.survey)
	cfg.Seed, cfg.Visits, cfg.AlertsPerVisit, cfg.Cadence, cfg.NoCutouts = *o.seed, *o.visits, *o.perVisit, *o.cadence, *o.noCutouts
	if *o.night != "" {
		t, err := time.Parse("2006-01-02", *o.night)
		if err != nil {
			return cfg, fmt.Errorf("--night %q is not YYYY-MM-DD", *o.night)
		}
		cfg.Night = t
	}
	for _, a := range []struct {
		flag, spec string
		make       func(v, n int) sim.Artefact
	}{
		{"--spike", *o.spike, func(v, n int) sim.Artefact { return sim.RateSpike{Visit: v, Factor: n} }},
		{"--bleed", *o.bleed, func(v, n int) sim.Artefact { return sim.BleedTrail{Visit: v, N: n} }},
		{"--streak", *o.streak, func(v, n int) sim.Artefact { return sim.Streak{Visit: v, N: n} }},
	} {
		if a.spec == "" {
			continue
		}
		vs, ns, ok := strings.Cut(a.spec, ":")
		v, err1 := strconv.Atoi(vs)
		n, err2 := strconv.Atoi(ns)
		if !ok || err1 != nil || err2 != nil {
			return cfg, fmt.Errorf("%s %q is not VISIT:N", a.flag, a.spec)
		}
		cfg.Artefacts = append(cfg.Artefacts, a.make(v, n))
	}
	if err := cfg.Validate(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// fileCodec frames alerts as container files; encoding needs no registry.
func fileCodec(survey string) (*framing.Codec, error) { return framing.New(survey, nil) }

func simulateToDir(ctx context.Context, e *env, cfg sim.Config, dir string) error {
	g, err := sim.New(cfg)
	if err != nil {
		return err
	}
	codec, err := fileCodec(cfg.Survey)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	total := g.Total()
	fmt.Fprintf(e.stderr, "simulating %s night %s: %d visits, %d alerts, seed %d\n",
		cfg.Survey, cfg.Night.Format("2006-01-02"), g.Visits(), total, cfg.Seed)
	start := time.Now()
	var n, bytes int
	artefacts := map[string]int{}
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		if err := ctx.Err(); err != nil {
			return err
		}
		v, id := a.Packet()
		msg, err := codec.EncodeContainer(v)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%d.avro", id)), msg, 0o644); err != nil {
			return err
		}
		n++
		bytes += len(msg)
		if a.Artefact != "" {
			artefacts[a.Artefact]++
		}
		if n%1000 == 0 || n == total {
			fmt.Fprintf(e.stderr, "\r  %d/%d alerts (%.0f/s)", n, total, float64(n)/time.Since(start).Seconds())
		}
	}
	fmt.Fprintln(e.stderr)
	fmt.Fprintf(e.stdout, "wrote %d %s alerts (%.1f MB, mean %.1f KB) to %s", n, cfg.Survey, float64(bytes)/1e6, float64(bytes)/float64(max(n, 1))/1e3, dir)
	for k, c := range artefacts {
		fmt.Fprintf(e.stdout, "; %d %s", c, k)
	}
	fmt.Fprintln(e.stdout)
	return nil
}
