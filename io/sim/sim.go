package sim

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Surveys the generator knows.
const (
	SurveyZTF  = "ztf"
	SurveyLSST = "lsst"
)

// Artefact labels recorded in Generated.Artefact.
const (
	ArtefactRateSpike  = "rate-spike"
	ArtefactBleedTrail = "bleed-trail"
	ArtefactStreak     = "streak"
)

// Designed pass rates of the ZTF purity cut
// (rb >= 0.65 && nbad == 0 && fwhm <= 5 && elong <= 1.2 && |magdiff| <= 0.1):
// a real detection passes with PurityPassReal, a bogus one with
// PurityPassBogus. A failing real detection fails exactly one of the five
// conditions. Artefact alerts never pass.
const (
	PurityPassReal  = 0.85
	PurityPassBogus = 0.03
)

// ErrInvalidConfig is wrapped by every Validate error.
var ErrInvalidConfig = errors.New("sim: invalid config")

// Artefact is a quality-control problem injected into one visit.
type Artefact interface {
	// Kind is the label its alerts carry in Generated.Artefact.
	Kind() string
	// VisitIndex is the 0-based visit it affects.
	VisitIndex() int
}

// RateSpike makes one exposure produce Factor times AlertsPerVisit alerts,
// as a bad subtraction does. Every ordinary alert of that exposure is
// labelled ArtefactRateSpike, because a rate filter should drop them all.
type RateSpike struct {
	Visit  int
	Factor int
}

// BleedTrail adds N bogus candidates along a CCD column (a vertical line)
// through a saturated star, 2.5-4 arcsec apart, within 0.3 arcsec of the
// line.
type BleedTrail struct {
	Visit int
	N     int
}

// Streak adds N bogus candidates evenly spaced along a great circle that
// crosses one CCD (ZTF) or detector (Rubin), as a satellite trail does,
// within 0.5 arcsec of the line.
type Streak struct {
	Visit int
	N     int
}

func (a RateSpike) Kind() string     { return ArtefactRateSpike }
func (a RateSpike) VisitIndex() int  { return a.Visit }
func (a BleedTrail) Kind() string    { return ArtefactBleedTrail }
func (a BleedTrail) VisitIndex() int { return a.Visit }
func (a Streak) Kind() string        { return ArtefactStreak }
func (a Streak) VisitIndex() int     { return a.Visit }

// Config describes one simulated night.
//
// Zero values of Visits, AlertsPerVisit, Cadence and Revisit mean the
// survey's default; the fractions and HistoryMax are used as given, zero
// meaning none (Defaults sets realistic values).
type Config struct {
	Survey string // SurveyZTF or SurveyLSST
	Seed   int64
	// Night names the night; only its UTC calendar date counts. For ZTF it
	// is the UTC date of every exposure (observing starts 03:00 UTC, after
	// Palomar's evening twilight, so a night never crosses a UTC date). For
	// Rubin it is the dayObs: observing starts at 00:00 UTC the next day
	// (evening in Chile) and dayObs = date(UTC - 12 h).
	Night time.Time
	// Visits is the number of exposures; default 10.
	Visits int
	// AlertsPerVisit before artefacts; default 1,000 (ZTF), 10,000 (Rubin).
	AlertsPerVisit int
	// Cadence between exposure starts; default 45 s (ZTF), 39 s (Rubin).
	Cadence time.Duration
	// Revisit is the wanted time between the two passes over a field;
	// default 33 min, so "two detections more than 30 minutes apart" holds.
	// Short runs shrink it so that fields are still revisited.
	Revisit time.Duration
	// AsteroidFraction of alerts are known solar-system objects.
	AsteroidFraction float64
	// BogusFraction of the other alerts are bogus detections.
	BogusFraction float64
	// RecurFraction of real alerts in a revisit come from objects already
	// detected tonight in that field.
	RecurFraction float64
	// KnownFraction of new real objects are old variables with detections
	// on earlier nights.
	KnownFraction float64
	// HistoryMax caps prv_candidates / prvDiaSources (and forced
	// photometry) per alert.
	HistoryMax int
	// Artefacts to inject.
	Artefacts []Artefact
	// NoCutouts leaves the cutouts out, for fast metadata-only streams.
	NoCutouts bool
}

// Defaults returns a realistic configuration for a survey, for tonight.
// Change Night for a reproducible run.
func Defaults(survey string) Config {
	c := Config{
		Survey:           survey,
		Seed:             1,
		Night:            time.Now().UTC().Truncate(24 * time.Hour),
		AsteroidFraction: 0.05,
		BogusFraction:    0.2,
		RecurFraction:    0.3,
		KnownFraction:    0.5,
		HistoryMax:       20,
	}
	return c.withDefaults()
}

func (c Config) withDefaults() Config {
	c.Visits = cmp.Or(c.Visits, 10)
	switch c.Survey {
	case SurveyZTF:
		c.AlertsPerVisit = cmp.Or(c.AlertsPerVisit, 1000)
		c.Cadence = cmp.Or(c.Cadence, 45*time.Second)
	case SurveyLSST:
		c.AlertsPerVisit = cmp.Or(c.AlertsPerVisit, 10000)
		c.Cadence = cmp.Or(c.Cadence, 39*time.Second)
	}
	c.Revisit = cmp.Or(c.Revisit, 33*time.Minute)
	y, m, d := c.Night.UTC().Date()
	c.Night = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	return c
}

// Limits that keep identifiers inside their fields: ZTF tblid has six
// digits in candid; a Rubin visit numbers its diaSources in 21 bits of
// diaSourceId (the 22nd marks forced sources).
const (
	maxZTFVisitAlerts  = 64 * 999999
	maxLSSTVisitAlerts = 1 << 21
)

// Validate reports the first problem with the config, after zero values
// have been replaced by defaults.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	if c.Survey != SurveyZTF && c.Survey != SurveyLSST {
		return bad("survey %q, want %q or %q", c.Survey, SurveyZTF, SurveyLSST)
	}
	if c.Night.Year() < 2017 || c.Night.Year() > 2040 {
		// ZTF candids and Rubin diaSourceIds pack the date; outside these
		// years they overflow or predate the surveys' numbering.
		return bad("night %s outside 2017-2040", c.Night.Format(time.DateOnly))
	}
	if c.Visits < 0 || c.AlertsPerVisit < 0 || c.Cadence < 0 || c.Revisit < 0 || c.HistoryMax < 0 {
		return bad("negative count or duration")
	}
	if c.Cadence < 30*time.Second && c.Survey == SurveyZTF || c.Cadence < time.Second {
		return bad("cadence %v is shorter than an exposure", c.Cadence)
	}
	for name, f := range map[string]float64{
		"AsteroidFraction": c.AsteroidFraction, "BogusFraction": c.BogusFraction,
		"RecurFraction": c.RecurFraction, "KnownFraction": c.KnownFraction,
	} {
		if !(f >= 0 && f <= 1) {
			return bad("%s %v outside [0, 1]", name, f)
		}
	}
	start, end := nightWindow(c.Survey, c.Night)
	if last := start.Add(time.Duration(c.Visits-1) * c.Cadence); !last.Before(end) {
		return bad("%d visits at %v end at %s, past the night's end %s", c.Visits, c.Cadence,
			last.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	spiked := map[int]bool{}
	extra := make([]int, c.Visits)
	factor := make([]int, c.Visits)
	for i, a := range c.Artefacts {
		if a == nil {
			return bad("artefact %d is nil", i)
		}
		v := a.VisitIndex()
		if v < 0 || v >= c.Visits {
			return bad("artefact %d (%s) at visit %d of %d", i, a.Kind(), v, c.Visits)
		}
		switch t := a.(type) {
		case RateSpike:
			if t.Factor < 1 {
				return bad("rate spike factor %d", t.Factor)
			}
			if spiked[v] {
				return bad("two rate spikes at visit %d", v)
			}
			spiked[v] = true
			factor[v] = t.Factor
		case BleedTrail:
			if t.N < 2 || t.N > 200 {
				return bad("bleed trail of %d candidates, want 2..200", t.N)
			}
			extra[v] += t.N
		case Streak:
			if t.N < 2 || t.N > 1000 {
				return bad("streak of %d candidates, want 2..1000", t.N)
			}
			extra[v] += t.N
		default:
			return bad("unknown artefact type %T", a)
		}
	}
	limit := maxZTFVisitAlerts
	if c.Survey == SurveyLSST {
		limit = maxLSSTVisitAlerts
	}
	for v := range c.Visits {
		f := max(factor[v], 1)
		if n := c.AlertsPerVisit*f + extra[v]; n > limit || c.AlertsPerVisit > limit/f {
			return bad("visit %d would have %d alerts, more than ids allow (%d)", v, n, limit)
		}
	}
	return nil
}

// nightWindow is when a survey's night may hold exposures: from evening
// twilight to the end of the night's name (the UTC date for ZTF, the
// dayObs for Rubin).
func nightWindow(survey string, night time.Time) (start, end time.Time) {
	if survey == SurveyLSST {
		return night.Add(24 * time.Hour), night.Add(36 * time.Hour)
	}
	return night.Add(3 * time.Hour), night.Add(24 * time.Hour)
}

// Generated is one simulated alert and the truth about it.
type Generated struct {
	ZTF  *ztf.Alert  // set for SurveyZTF
	LSST *lsst.Alert // set for SurveyLSST
	// Visit is the 0-based exposure index in the run.
	Visit int
	// Artefact is "" for an ordinary alert, else ArtefactRateSpike,
	// ArtefactBleedTrail or ArtefactStreak.
	Artefact string
	// Bogus is true when no astrophysical source caused the detection
	// (artefact alerts included).
	Bogus bool
	// Asteroid is true for known solar-system objects.
	Asteroid bool
}

// Packet is the survey struct to encode and the alert's id: the ZTF alert
// and its candid, or the LSST alert and its diaSourceId.
func (g Generated) Packet() (v any, id int64) {
	if g.ZTF != nil {
		return g.ZTF, g.ZTF.Candid
	}
	return g.LSST, g.LSST.DiaSourceID
}

// Generator produces the alerts of one night. It is not safe for
// concurrent use; run one per goroutine (they are cheap to create).
type Generator struct {
	cfg   Config
	plan  []*visitPlan
	start time.Time

	noise []float32
	gz    *fits.GzipEncoder

	// Object state after visits [0, cursor).
	cursor int
	night  *nightState

	// Next's position.
	nextVisit int
	nextDets  []*detection
	nextPos   int
}

// New validates cfg and prepares the night plan.
func New(cfg Config) (*Generator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.Artefacts = append([]Artefact(nil), cfg.Artefacts...)
	g := &Generator{cfg: cfg}
	g.start, _ = nightWindow(cfg.Survey, cfg.Night)
	g.plan = makePlan(cfg, g.start)
	if !cfg.NoCutouts {
		g.noise = noisePool(cfg.Seed)
		gz, err := fits.NewGzipEncoder(1) // gzip.BestSpeed: stamps are mostly noise
		if err != nil {
			return nil, err
		}
		g.gz = gz
	}
	g.night = newNightState()
	return g, nil
}

// Generate returns every alert of the night cfg describes, in visit order:
// what a Generator's Next yields, all at once, for tests and small nights
// (a night with cutouts holds tens of KB an alert in memory).
func Generate(cfg Config) ([]Generated, error) {
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	out := make([]Generated, 0, g.Total())
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		out = append(out, a)
	}
	return out, nil
}

// Config returns the configuration in use, defaults filled in.
func (g *Generator) Config() Config { return g.cfg }

// Visits is the number of exposures in the run.
func (g *Generator) Visits() int { return len(g.plan) }

// VisitTime is when visit i was observed, in UTC: the exposure start for
// ZTF (candidate.jd), the exposure midpoint for Rubin (midpointMjdTai is
// this plus 37 s, as TAI).
func (g *Generator) VisitTime(i int) time.Time {
	return g.start.Add(time.Duration(i) * g.cfg.Cadence)
}

// VisitAlerts is the number of alerts visit i produces, artefacts included.
func (g *Generator) VisitAlerts(i int) int { return g.plan[i].count() }

// Total is the number of alerts in the run.
func (g *Generator) Total() int {
	n := 0
	for _, p := range g.plan {
		n += p.count()
	}
	return n
}

// Visit returns the alerts of visit i, in the order the survey would send
// them (by quadrant or detector). Visits may be requested in any order;
// going backwards regenerates the night up to i, which costs metadata only.
func (g *Generator) Visit(i int) []Generated {
	dets := g.detectionsOf(i)
	out := make([]Generated, len(dets))
	for k, d := range dets {
		out[k] = g.build(d)
	}
	return out
}

// Next returns the alerts of the whole run one at a time, in visit order.
func (g *Generator) Next() (Generated, bool) {
	for g.nextPos >= len(g.nextDets) {
		if g.nextVisit >= len(g.plan) {
			return Generated{}, false
		}
		g.nextDets = g.detectionsOf(g.nextVisit)
		g.nextPos = 0
		g.nextVisit++
	}
	d := g.nextDets[g.nextPos]
	g.nextDets[g.nextPos] = nil
	g.nextPos++
	return g.build(d), true
}

// detectionsOf brings the object state to visit i and draws its
// detections.
func (g *Generator) detectionsOf(i int) []*detection {
	if i < 0 || i >= len(g.plan) {
		panic(fmt.Sprintf("sim: visit %d of %d", i, len(g.plan)))
	}
	if i < g.cursor {
		g.night = newNightState()
		g.cursor = 0
	}
	for g.cursor < i {
		g.detect(g.cursor)
		g.cursor++
	}
	dets := g.detect(i)
	g.cursor = i + 1
	return dets
}

func (g *Generator) build(d *detection) Generated {
	out := Generated{Visit: d.visit.index, Artefact: d.artefact, Bogus: d.bogus, Asteroid: d.obj.kind == kindAsteroid}
	if g.cfg.Survey == SurveyZTF {
		out.ZTF = g.ztfAlert(d)
	} else {
		out.LSST = g.lsstAlert(d)
	}
	return out
}

// streams for independent random sequences derived from the seed, so that
// adding draws to one part of the generator leaves the others unchanged.
const (
	streamPlan   = 0x706c616e
	streamVisit  = 0x76697369 << 32
	streamObject = 0x6f626a65
	streamDet    = 0x64657465
	streamImage  = 0x696d6167
	streamStamp  = 0x7374616d
	streamNoise  = 0x6e6f6973
)

func (g *Generator) rng(stream, key uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.cfg.Seed)^stream, key))
}

// visitPlan is everything decided about an exposure before its alerts.
type visitPlan struct {
	index     int
	t         time.Time
	field     field
	filter    int // ZTF fid 1..3; Rubin band index into lsstBands
	programid int
	seeing    float64 // PSF FWHM, arcsec
	depth     float64 // 5-sigma limiting magnitude
	lastOfFld bool    // no later visit tonight points at this field
	base      int     // AlertsPerVisit
	spike     int     // RateSpike factor, 1 when none
	trails    []Artefact
}

func (p *visitPlan) count() int {
	n := 0
	for _, a := range p.trails {
		switch t := a.(type) {
		case BleedTrail:
			n += t.N
		case Streak:
			n += t.N
		}
	}
	return p.spike*p.base + n
}

// makePlan lays out the night: blocks of fields near the meridian, each
// observed in two passes in different filters, like both surveys'
// schedulers do to catch moving and fast objects.
func makePlan(c Config, start time.Time) []*visitPlan {
	r := rand.New(rand.NewPCG(uint64(c.Seed)^streamPlan, 0))
	var grid []field
	var st site
	var minAlt float64
	if c.Survey == SurveyZTF {
		grid, st, minAlt = fieldGrid(-31, 88, 7.0), palomar, 35
	} else {
		grid, st, minAlt = fieldGrid(-88, 12, 3.2), cerroPachn, 40
	}
	used := map[int]bool{}
	block := int(math.Round(float64(c.Revisit) / float64(c.Cadence)))
	block = max(block, 1)

	plan := make([]*visitPlan, 0, c.Visits)
	for len(plan) < c.Visits {
		rem := c.Visits - len(plan)
		b := block
		if rem < 2*b {
			b = max(1, rem/2)
		}
		passes := 2
		if rem == 1 {
			passes = 1
		}
		t0 := start.Add(time.Duration(len(plan)) * c.Cadence)
		fields := pickFields(r, grid, st, st.localSiderealDeg(t0), minAlt, b, used)
		// A field's sequence belongs to one program, in both passes.
		programs := make([]int, len(fields))
		for k := range programs {
			programs[k] = pickProgram(r)
		}
		filters := pickFilters(r, c.Survey)
		for pass := range passes {
			for k, f := range fields {
				i := len(plan)
				plan = append(plan, &visitPlan{
					index: i, t: start.Add(time.Duration(i) * c.Cadence),
					field: f, filter: filters[pass], programid: programs[k], spike: 1,
				})
			}
		}
	}
	plan = plan[:c.Visits]
	seen := map[int]bool{}
	for i := len(plan) - 1; i >= 0; i-- {
		p := plan[i]
		p.lastOfFld = !seen[p.field.id]
		seen[p.field.id] = true
		if c.Survey == SurveyZTF {
			p.seeing = 2.0 * math.Exp(0.15*r.NormFloat64())
			p.depth = clamp(ztfDepth[p.filter]+0.2*r.NormFloat64(), 19.6, 20.95)
		} else {
			p.seeing = 0.8 * math.Exp(0.15*r.NormFloat64())
			p.depth = lsstBands[p.filter].depth + 0.2*r.NormFloat64()
		}
		p.base = c.AlertsPerVisit
	}
	for _, a := range c.Artefacts {
		p := plan[a.VisitIndex()]
		if s, ok := a.(RateSpike); ok {
			p.spike = s.Factor
		} else {
			p.trails = append(p.trails, a)
		}
	}
	return plan
}

func pickFields(r *rand.Rand, grid []field, st site, lst, minAlt float64, n int, used map[int]bool) []field {
	var fresh, up []field
	for _, f := range grid {
		if st.altitude(f.ra, f.dec, lst) < minAlt {
			continue
		}
		up = append(up, f)
		if !used[f.id] {
			fresh = append(fresh, f)
		}
	}
	pool := fresh
	if len(pool) < n {
		pool = up
	}
	if len(pool) == 0 {
		pool = grid
	}
	out := make([]field, 0, n)
	for _, k := range r.Perm(len(pool)) {
		if len(out) == n {
			break
		}
		out = append(out, pool[k])
		used[pool[k].id] = true
	}
	// Fewer fields up than the block wants: repeat them.
	for i := 0; len(out) < n; i++ {
		out = append(out, out[i])
	}
	// Slew along right ascension, as a scheduler would.
	sort.SliceStable(out, func(i, j int) bool { return out[i].ra < out[j].ra })
	return out
}

// pickProgram: ZTF exposures belong to the public survey (1) most of the
// time, to the collaboration (2) or Caltech (3) otherwise.
func pickProgram(r *rand.Rand) int {
	switch u := r.Float64(); {
	case u < 0.6:
		return 1
	case u < 0.9:
		return 2
	default:
		return 3
	}
}

func pickFilters(r *rand.Rand, survey string) [2]int {
	if survey == SurveyZTF {
		f := [2]int{2, 1}
		if r.Float64() < 0.5 {
			f = [2]int{1, 2}
		}
		if r.Float64() < 0.1 {
			f[1] = 3
		}
		return f
	}
	// Rubin visits a field twice a night, usually in neighbouring bands.
	u, acc := r.Float64(), 0.0
	for i, b := range lsstBands {
		acc += b.weight
		if u < acc || i == len(lsstBands)-1 {
			next := i + 1
			if next == len(lsstBands) {
				next = i - 1
			}
			if r.Float64() < 0.3 {
				next = i
			}
			return [2]int{i, next}
		}
	}
	panic("unreachable")
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
