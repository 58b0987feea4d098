package filter_test

import (
	"context"
	"sort"
	"testing"

	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

// Per-alert cost of each built-in and of expressions, over a generated ZTF
// night (1,600 alerts with cutouts), decoding excluded; the decode
// benchmark gives the cost filters share. Run: go test -bench . -run '^$'
// ./transforms/filter/
func benchFilter(b *testing.B, n *night, spec string) {
	f, err := filter.Build(spec, n.cfg.Survey)
	if err != nil {
		b.Fatal(err)
	}
	alerts := make([]*filter.Alert, len(n.alerts))
	for i, g := range n.alerts {
		alerts[i] = wrap(g)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := f.Apply(alerts[i%len(alerts)]); err != nil && spec != "drb" {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/alert")
}

func BenchmarkBuiltins(b *testing.B) {
	zn := generate(b, nightConfig(sim.SurveyZTF, 40, true))
	ln := generate(b, nightConfig(sim.SurveyLSST, 60, true))
	for _, tc := range []struct {
		n     *night
		truth map[string]truth
	}{{zn, ztfTruths()}, {ln, lsstTruths()}} {
		var specs []string
		for spec := range tc.truth {
			specs = append(specs, spec)
		}
		sort.Strings(specs)
		for _, spec := range specs {
			b.Run(tc.n.cfg.Survey+"/"+spec, func(b *testing.B) { benchFilter(b, tc.n, spec) })
		}
	}
}

func BenchmarkExpressions(b *testing.B) {
	zn := generate(b, nightConfig(sim.SurveyZTF, 40, true))
	ln := generate(b, nightConfig(sim.SurveyLSST, 60, true))
	for _, tc := range []struct {
		name string
		n    *night
		expr string
	}{
		{"ztf/rb-ndethist", zn, "candidate.rb > 0.8 && candidate.ndethist >= 2"},
		{"ztf/purity", zn, equivalents[sim.SurveyZTF][0][1]},
		{"ztf/history", zn, historyExpr},
		{"lsst/significance", ln, "diaSource.psfFlux / diaSource.psfFluxErr > 5.0"},
	} {
		b.Run(tc.name, func(b *testing.B) { benchFilter(b, tc.n, "x="+tc.expr) })
	}
}

// BenchmarkDecode is the full decode each record gets once, whatever the
// number of filters.
func BenchmarkDecode(b *testing.B) {
	n := generate(b, nightConfig(sim.SurveyZTF, 40, true))
	codec, err := framing.NewZTF()
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([][]byte, 200)
	for i := range msgs {
		if msgs[i], err = codec.Encode(n.alerts[i].ZTF); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		var a ztf.Alert
		if err := codec.Decode(context.Background(), msgs[i%len(msgs)], &a); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/alert")
}
