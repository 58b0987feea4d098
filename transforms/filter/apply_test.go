package filter_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/internal/linefile"
	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/internal/testdiff"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func init() {
	register.DoFn2x1[int, func(kafkaio.Record), error](&genFn{})
	register.DoFn3x1[[]kafkaio.Source, func(kafkaio.Record), func(kafkaio.Missing), error](&regenFn{})
	register.Emitter1[kafkaio.Record]()
	register.Emitter1[kafkaio.Missing]()
	register.DoFn1x0[kafkaio.Message](&sinkMsgFn{})
	register.DoFn1x0[kafkaio.Ack](&sinkAckFn{})
	register.DoFn1x0[filter.CapStat](&sinkStatFn{})

	// A filter that fails on purpose, by candid: panics on candid%5 == 0,
	// errors on 1, lacks a value on 2, keeps the rest.
	filter.Register("panicky", "fails on purpose, for tests", func(a *filter.Alert) (bool, error) {
		switch a.ID() % 5 {
		case 0:
			var p *struct{ x int }
			return p.x > 0, nil // nil dereference
		case 1:
			return false, errors.New("boom")
		case 2:
			return false, fmt.Errorf("no such value: %w", filter.ErrMissing)
		}
		return true, nil
	})
}

// genFn generates one visit of a night (nightConfig) as Kafka records, so
// the pipeline holds a visit index rather than megabytes of packets.
type genFn struct {
	Survey   string
	PerVisit int
	Visits   int
	Cutouts  bool

	codec *framing.Codec
}

func (fn *genFn) config() sim.Config {
	c := nightConfig(fn.Survey, fn.PerVisit, fn.Cutouts)
	c.Visits = fn.Visits
	return c
}

func (fn *genFn) Setup() (err error) {
	fn.codec, err = framing.New(fn.Survey, nil)
	return err
}

func (fn *genFn) ProcessElement(visit int, emit func(kafkaio.Record)) error {
	g, err := sim.New(fn.config())
	if err != nil {
		return err
	}
	for k, a := range g.Visit(visit) {
		b, err := encodeGenerated(fn.codec, a)
		if err != nil {
			return err
		}
		emit(kafkaio.Record{Source: offsetSource(visit, k), Value: b})
	}
	return nil
}

// regenFn reads genFn's records back by Source, for the per-visit cap:
// the generator is the stream these tests read, and it is deterministic,
// so a record read again is the record read first.
type regenFn struct {
	Gen *genFn

	visits map[int][][]byte
}

func (fn *regenFn) ProcessElement(refs []kafkaio.Source, emit func(kafkaio.Record), missing func(kafkaio.Missing)) error {
	if fn.visits == nil {
		fn.visits = map[int][][]byte{}
		if err := fn.Gen.Setup(); err != nil {
			return err
		}
	}
	for _, ref := range refs {
		visit, k := int(ref.Offset/100_000), int(ref.Offset%100_000)
		recs, ok := fn.visits[visit]
		if !ok {
			if err := fn.Gen.ProcessElement(visit, func(r kafkaio.Record) { recs = append(recs, r.Value) }); err != nil {
				return err
			}
			fn.visits[visit] = recs
		}
		if k >= len(recs) {
			missing(kafkaio.Missing{Source: ref, Err: "beyond the visit"})
			continue
		}
		emit(kafkaio.Record{Source: ref, Value: recs[k]})
	}
	return nil
}

// regen is a filter.Reread over genFn's records.
func regen(gen *genFn) filter.Reread {
	return func(s beam.Scope, refs beam.PCollection) (beam.PCollection, beam.PCollection) {
		return beam.ParDo2(s, &regenFn{Gen: gen}, refs)
	}
}

func offsetSource(visit, k int) kafkaio.Source {
	off := int64(visit*100_000 + k)
	return kafkaio.Source{Topic: "night", Offset: off, Prev: off - 1}
}

// records lays a generated night out as genFn does: offset → alert.
func (n *night) byOffset() map[int64]sim.Generated {
	m := map[int64]sim.Generated{}
	k, visit := 0, -1
	for _, g := range n.alerts {
		if g.Visit != visit {
			visit, k = g.Visit, 0
		}
		m[offsetSource(visit, k).Offset] = g
		k++
	}
	return m
}

// The sinks write what reaches each output to files, one per bundle; the
// test reads them after the run.
type sinkMsgFn struct {
	Dir, Kind string
	lines     []string
}

func (fn *sinkMsgFn) StartBundle() { fn.lines = nil }

func (fn *sinkMsgFn) ProcessElement(m kafkaio.Message) {
	h := map[string]string{}
	for _, x := range m.Headers {
		h[x.Key] = string(x.Value)
	}
	fn.lines = append(fn.lines, fmt.Sprintf("%d\t%d\t%s\t%s\t%s\t%s\t%s", m.Source.Offset, m.Units, testdiff.ShortSum(m.Value),
		m.Topic, string(m.Key), h[deadletter.HeaderStage], strconv.Quote(h[deadletter.HeaderError])))
}

func (fn *sinkMsgFn) FinishBundle() error { return linefile.Write(fn.Dir, fn.Kind, fn.lines) }

type sinkAckFn struct {
	Dir   string
	lines []string
}

func (fn *sinkAckFn) StartBundle() { fn.lines = nil }

func (fn *sinkAckFn) ProcessElement(a kafkaio.Ack) {
	fn.lines = append(fn.lines, fmt.Sprintf("%d\t%d", a.Offset, a.Units))
}

func (fn *sinkAckFn) FinishBundle() error { return linefile.Write(fn.Dir, "acks", fn.lines) }

type sinkStatFn struct {
	Dir   string
	lines []string
}

func (fn *sinkStatFn) StartBundle() { fn.lines = nil }

func (fn *sinkStatFn) ProcessElement(s filter.CapStat) {
	fn.lines = append(fn.lines, fmt.Sprintf("%s\t%s\t%d\t%d", s.Output, s.Visit, s.Alerts, s.Capped))
}

func (fn *sinkStatFn) FinishBundle() error { return linefile.Write(fn.Dir, "stats", fn.lines) }

// sunk is one line a sink wrote.
type sunk struct {
	offset, units int64
	sum, topic    string
	key           string
	stage, err    string
}

// results reads the sinks' files by kind.
func results(t *testing.T, dir string) map[string][]sunk {
	t.Helper()
	files, err := linefile.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]sunk{}
	for kind, lines := range files {
		for _, l := range lines {
			p := strings.Split(l, "\t")
			var s sunk
			switch kind {
			case "acks":
				s.offset, _ = strconv.ParseInt(p[0], 10, 64)
				s.units, _ = strconv.ParseInt(p[1], 10, 64)
			case "stats":
				s.topic, s.key, s.stage, s.err = p[0], p[1], p[2], p[3]
			default:
				s.offset, _ = strconv.ParseInt(p[0], 10, 64)
				s.units, _ = strconv.ParseInt(p[1], 10, 64)
				s.sum, s.topic, s.key, s.stage = p[2], p[3], p[4], p[5]
				s.err, _ = strconv.Unquote(p[6])
			}
			out[kind] = append(out[kind], s)
		}
	}
	return out
}

type pipelineRun struct {
	out     filter.Outputs
	results map[string][]sunk
}

// runFilters runs Apply over a generated night (plus extra raw records) on
// the direct runner.
func runFilters(t *testing.T, gen *genFn, extra []kafkaio.Record, cfg filter.Config) pipelineRun {
	t.Helper()
	p, s := beam.NewPipelineWithRoot()
	visits := make([]int, gen.Visits)
	for i := range visits {
		visits[i] = i
	}
	recs := beam.ParDo(s, gen, beam.CreateList(s, visits))
	if len(extra) > 0 {
		recs = beam.Flatten(s, recs, beam.CreateList(s, extra))
	}
	if cfg.Survey == schemas.LSST {
		cfg.Registry = registrytest.Serve(t).URL()
	}
	return runApply(t, p, s, recs, cfg)
}

// runApply runs Apply over recs, in p (s is its root), on the direct
// runner, and reads back everything it output.
func runApply(t *testing.T, p *beam.Pipeline, s beam.Scope, recs beam.PCollection, cfg filter.Config) pipelineRun {
	t.Helper()
	dir := t.TempDir()
	out, err := filter.TryApply(s, cfg, recs)
	if err != nil {
		t.Fatal(err)
	}
	for name, col := range out.Kept {
		beam.ParDo0(s, &sinkMsgFn{Dir: dir, Kind: "kept-" + name}, col)
	}
	beam.ParDo0(s, &sinkMsgFn{Dir: dir, Kind: "dead"}, out.Dead)
	beam.ParDo0(s, &sinkAckFn{Dir: dir}, out.Acks)
	beam.ParDo0(s, &sinkStatFn{Dir: dir}, out.CapStats)
	start := time.Now()
	if _, err := runners.Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	t.Logf("pipeline ran in %v", time.Since(start).Round(time.Millisecond))
	return pipelineRun{out: out, results: results(t, dir)}
}

// checkUnits: every record owes RecordUnits ack units, settled exactly
// once whichever way it went (kept, dropped, capped, dead-lettered).
func checkUnits(t *testing.T, r pipelineRun, offsets []int64) {
	t.Helper()
	units := map[int64]int64{}
	for kind, lines := range r.results {
		if kind == "stats" {
			continue
		}
		for _, l := range lines {
			units[l.offset] += l.units
		}
	}
	for _, off := range offsets {
		if units[off] != int64(r.out.RecordUnits) {
			t.Errorf("record at offset %d: %d ack units, want %d", off, units[off], r.out.RecordUnits)
		}
		delete(units, off)
	}
	if len(units) > 0 {
		t.Errorf("acks for %d offsets that were never read", len(units))
	}
}

func (r pipelineRun) kept(name string, byOffset map[int64]sim.Generated, n *night) ([]int64, []sunk) {
	var ids []int64
	for _, l := range r.results["kept-"+name] {
		ids = append(ids, n.id(byOffset[l.offset]))
	}
	slices.Sort(ids)
	return ids, r.results["kept-"+name]
}

// Every built-in at once, on a generated night of each survey, on the
// direct runner: each output holds exactly the ids the truth keeps, with
// the original bytes (or, for transforms, the re-encoded alert), and every
// record is acknowledged once per output.
func TestApplyBuiltinsOnGeneratedNights(t *testing.T) {
	for _, tc := range []struct {
		gen    *genFn
		truths map[string]truth
	}{
		{&genFn{Survey: sim.SurveyZTF, PerVisit: 40, Visits: 40, Cutouts: true}, ztfTruths()},
		{&genFn{Survey: sim.SurveyLSST, PerVisit: 60, Visits: 40, Cutouts: true}, lsstTruths()},
	} {
		t.Run(tc.gen.Survey, func(t *testing.T) {
			n := generate(t, tc.gen.config())
			byOffset := n.byOffset()
			var specs []string
			for spec := range tc.truths {
				specs = append(specs, spec)
			}
			sort.Strings(specs)
			cfg := filter.Config{Survey: tc.gen.Survey, Filters: specs}
			if tc.gen.Survey == sim.SurveyZTF {
				cfg.Topics = map[string]string{"purity": "ztf-pure"}
			}
			r := runFilters(t, tc.gen, nil, cfg)
			if len(r.results["dead"]) > 0 {
				t.Errorf("%d dead letters, e.g. %+v", len(r.results["dead"]), r.results["dead"][0])
			}
			codec, err := framing.New(tc.gen.Survey, nil)
			if err != nil {
				t.Fatal(err)
			}
			originals := map[int64]string{}
			for off, g := range byOffset {
				b, _ := encodeGenerated(codec, g)
				originals[off] = testdiff.ShortSum(b)
			}
			for i, spec := range specs {
				name := r.out.Names[i]
				got, lines := r.kept(name, byOffset, n)
				if d := testdiff.IDs(got, n.expected(tc.truths[spec])); d != "" {
					t.Errorf("%s (%s): %s", spec, name, d)
				}
				for _, l := range lines {
					g := byOffset[l.offset]
					wantTopic := name
					if name == "purity" {
						wantTopic = "ztf-pure"
					}
					if l.topic != wantTopic || l.key != strconv.FormatInt(n.id(g), 10) {
						t.Fatalf("%s: message topic %q key %q", name, l.topic, l.key)
					}
					want := originals[l.offset]
					if change, ok := transforms[spec]; ok {
						b, err := encodeGenerated(codec, change(g))
						if err != nil {
							t.Fatal(err)
						}
						want = testdiff.ShortSum(b)
					}
					if l.sum != want {
						t.Fatalf("%s: published bytes of offset %d differ from the expected packet", name, l.offset)
					}
				}
			}
			checkUnits(t, r, slices.Collect(maps.Keys(byOffset)))
		})
	}
}

func encodeGenerated(c *framing.Codec, g sim.Generated) ([]byte, error) {
	if g.ZTF != nil {
		return c.Encode(g.ZTF)
	}
	return c.Encode(g.LSST)
}

// transforms are what the transforming built-ins of the truth tables do to
// an alert, written out by hand.
var transforms = map[string]func(sim.Generated) sim.Generated{
	"nocutouts": stripCutouts,
	"drop:fields=fp_hists+prv_candidates": func(g sim.Generated) sim.Generated {
		z := *g.ZTF
		z.FpHists, z.PrvCandidates = nil, nil
		g.ZTF = &z
		return g
	},
	"drop:fields=prvDiaForcedSources+diaObject": func(g sim.Generated) sim.Generated {
		l := *g.LSST
		l.PrvDiaForcedSources, l.DiaObject = nil, nil
		g.LSST = &l
		return g
	},
}

func stripCutouts(g sim.Generated) sim.Generated {
	if g.ZTF != nil {
		z := *g.ZTF
		z.CutoutScience, z.CutoutTemplate, z.CutoutDifference = nil, nil, nil
		g.ZTF = &z
	} else {
		l := *g.LSST
		l.CutoutScience, l.CutoutTemplate, l.CutoutDifference = nil, nil, nil
		g.LSST = &l
	}
	return g
}

// A filter that panics or errors on some alerts dead-letters exactly those,
// with the error; the other filter and the rest of the stream go on. A
// record that does not decode is dead-lettered once, for every output.
func TestApplyDeadLetters(t *testing.T) {
	gen := &genFn{Survey: sim.SurveyZTF, PerVisit: 60, Visits: 6}
	n := generate(t, gen.config())
	byOffset := n.byOffset()
	corrupt := []kafkaio.Record{
		{Source: kafkaio.Source{Topic: "night", Offset: 900_001, Prev: 900_000}, Value: []byte("not an alert")},
		{Source: kafkaio.Source{Topic: "night", Offset: 900_002, Prev: 900_001}, Value: []byte("Obj\x01 truncated")},
	}
	r := runFilters(t, gen, corrupt, filter.Config{Survey: "ztf", Filters: []string{"panicky", "rb"}, DeadLetterTopic: "dlq"})

	var panicked, errored, undecodable []int64
	for _, l := range r.results["dead"] {
		if l.topic != "dlq" {
			t.Errorf("dead letter to %q", l.topic)
		}
		switch {
		case l.stage == "filter" && l.units == 2:
			undecodable = append(undecodable, l.offset)
		case l.stage == "filter/panicky" && l.units == 1 && strings.Contains(l.err, "panic: runtime error: invalid memory address"):
			panicked = append(panicked, n.id(byOffset[l.offset]))
		case l.stage == "filter/panicky" && l.units == 1 && strings.HasSuffix(l.err, "boom"):
			errored = append(errored, n.id(byOffset[l.offset]))
		default:
			t.Errorf("unexpected dead letter %+v", l)
		}
	}
	slices.Sort(panicked)
	slices.Sort(errored)
	slices.Sort(undecodable)
	byRemainder := func(r int64) []int64 {
		return n.expected(func(g sim.Generated) bool { return g.ZTF.Candid%5 == r })
	}
	if d := testdiff.IDs(panicked, byRemainder(0)); d != "" {
		t.Errorf("panicked: %s", d)
	}
	if d := testdiff.IDs(errored, byRemainder(1)); d != "" {
		t.Errorf("errored: %s", d)
	}
	if !slices.Equal(undecodable, []int64{900_001, 900_002}) {
		t.Errorf("undecodable dead letters at offsets %v", undecodable)
	}
	keptPanicky, _ := r.kept("panicky", byOffset, n)
	if d := testdiff.IDs(keptPanicky, n.expected(func(g sim.Generated) bool { return g.ZTF.Candid%5 >= 3 })); d != "" {
		t.Errorf("panicky kept: %s", d)
	}
	keptRB, _ := r.kept("rb", byOffset, n)
	if d := testdiff.IDs(keptRB, n.expected(ztfTruths()["rb"])); d != "" {
		t.Errorf("rb beside a failing filter: %s", d)
	}
	checkUnits(t, r, append([]int64{900_001, 900_002}, slices.Collect(maps.Keys(byOffset))...))
}

// The per-visit cap keeps, in each exposure, the N kept alerts of highest
// S/N (ties by lower id), acknowledges the rest, and reports each visit.
func TestApplyCapPerVisit(t *testing.T) {
	const capN = 7
	gen := &genFn{Survey: sim.SurveyZTF, PerVisit: 30, Visits: 12}
	n := generate(t, gen.config())
	byOffset := n.byOffset()
	r := runFilters(t, gen, nil, filter.Config{Survey: "ztf", Filters: []string{"rb", "bright:max=19"}, CapPerVisit: capN, Reread: regen(gen)})

	for _, spec := range []string{"rb", "bright:max=19"} {
		tr := ztfTruths()["rb"]
		if spec != "rb" {
			tr = func(g sim.Generated) bool { return decv(g.ZTF.Candidate.Magpsf) <= 19 }
		}
		// The truth: per exposure (visit index), the alerts the filter
		// keeps, ranked by 1.0857/sigmapsf, then id.
		perVisit := map[int][]sim.Generated{}
		for _, g := range n.alerts {
			if tr(g) {
				perVisit[g.Visit] = append(perVisit[g.Visit], g)
			}
		}
		var want []int64
		wantStats := map[string]string{}
		overCap := 0
		for _, gs := range perVisit {
			rankBySNR(gs)
			for i, g := range gs {
				if i < capN {
					want = append(want, g.ZTF.Candid)
				}
			}
			if len(gs) > capN {
				overCap++
			}
			key := filter.OfZTF(gs[0].ZTF).Visit().Key()
			wantStats[key] = fmt.Sprintf("%d/%d", len(gs), max(0, len(gs)-capN))
		}
		slices.Sort(want)
		name := spec
		if spec != "rb" {
			name = "bright-max19"
		}
		got, _ := r.kept(name, byOffset, n)
		if d := testdiff.IDs(got, want); d != "" {
			t.Errorf("%s capped at %d per visit: %s", spec, capN, d)
		}
		if overCap == 0 {
			t.Errorf("%s: no visit goes over the cap; the test tests nothing", spec)
		}
		gotStats := map[string]string{}
		for _, s := range r.results["stats"] {
			if s.topic == name {
				gotStats[s.key] = s.stage + "/" + s.err
			}
		}
		if fmt.Sprint(gotStats) != fmt.Sprint(wantStats) {
			t.Errorf("%s cap stats %v, want %v", spec, gotStats, wantStats)
		}
	}
	checkUnits(t, r, slices.Collect(maps.Keys(byOffset)))
}

// A crossmatch filter runs under the per-visit cap: the gate's second pass
// over the alerts read back loads the same catalog. The catalog is every
// third generated alert's position, so the truth is known exactly.
func TestApplyCapCrossmatch(t *testing.T) {
	const capN = 4
	gen := &genFn{Survey: sim.SurveyZTF, PerVisit: 30, Visits: 6}
	n := generate(t, gen.config())
	var csv strings.Builder
	csv.WriteString("id,ra,dec\n")
	var stars [][2]float64
	for i, g := range n.alerts {
		if i%3 == 0 {
			fmt.Fprintf(&csv, "%d,%.9f,%.9f\n", g.ZTF.Candid, g.ZTF.Candidate.RA, g.ZTF.Candidate.Dec)
			stars = append(stars, [2]float64{g.ZTF.Candidate.RA, g.ZTF.Candidate.Dec})
		}
	}
	// An object seen in several visits matches in each: the truth is
	// every alert within the radius of a catalog position, by brute force.
	const radius = 0.5 // arcsec
	perVisit := map[int][]sim.Generated{}
	for _, g := range n.alerts {
		for _, st := range stars {
			if arcsecBetween(g.ZTF.Candidate.RA, g.ZTF.Candidate.Dec, st[0], st[1]) <= radius {
				perVisit[g.Visit] = append(perVisit[g.Visit], g)
				break
			}
		}
	}
	path := filepath.Join(t.TempDir(), "third.csv")
	if err := os.WriteFile(path, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	var want []int64
	for _, gs := range perVisit {
		if len(gs) <= capN {
			t.Fatalf("visit %d has %d matches: the cap of %d tests nothing", gs[0].Visit, len(gs), capN)
		}
		rankBySNR(gs)
		for _, g := range gs[:capN] {
			want = append(want, g.ZTF.Candid)
		}
	}
	slices.Sort(want)
	byOffset := n.byOffset()
	r := runFilters(t, gen, nil, filter.Config{Survey: "ztf", Filters: []string{"near=xmatch:cat=third,r=0.5"},
		Catalogs: []string{"third=" + path}, CapPerVisit: capN, Reread: regen(gen)})
	got, _ := r.kept("near", byOffset, n)
	if d := testdiff.IDs(got, want); d != "" {
		t.Errorf("crossmatch capped at %d per visit: %s", capN, d)
	}
	checkUnits(t, r, slices.Collect(maps.Keys(byOffset)))
}

// rankBySNR sorts ZTF alerts as the per-visit cap ranks them: by S/N
// (1.0857/sigmapsf, so by 1/sigmapsf), highest first, then by id.
func rankBySNR(gs []sim.Generated) {
	sort.Slice(gs, func(i, j int) bool {
		si, sj := 1/float64(gs[i].ZTF.Candidate.Sigmapsf), 1/float64(gs[j].ZTF.Candidate.Sigmapsf)
		if si != sj {
			return si > sj
		}
		return gs[i].ZTF.Candid < gs[j].ZTF.Candid
	})
}

// arcsecBetween is the angle between two positions given in degrees, by
// the haversine formula.
func arcsecBetween(ra1, dec1, ra2, dec2 float64) float64 {
	rad := math.Pi / 180
	h := math.Pow(math.Sin((dec2-dec1)*rad/2), 2) + math.Cos(dec1*rad)*math.Cos(dec2*rad)*math.Pow(math.Sin((ra2-ra1)*rad/2), 2)
	return 2 * math.Asin(math.Sqrt(h)) / rad * 3600
}
