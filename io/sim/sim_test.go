package sim

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
)

var night = time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)

func config(survey string, visits, perVisit int) Config {
	c := Defaults(survey)
	c.Night = night
	c.Seed = 42
	c.Visits = visits
	c.AlertsPerVisit = perVisit
	return c
}

func generator(t testing.TB, c Config) *Generator {
	t.Helper()
	g, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func all(g *Generator) []Generated {
	var out []Generated
	for {
		a, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, a)
	}
}

// Generate yields what Next does, all at once.
func TestGenerate(t *testing.T) {
	c := config(SurveyLSST, 3, 7)
	got, err := Generate(c)
	if err != nil {
		t.Fatal(err)
	}
	want := all(generator(t, c))
	if len(got) != 21 || len(want) != 21 {
		t.Fatalf("Generate gave %d alerts, Next %d, want 21", len(got), len(want))
	}
	for i := range got {
		if _, id := got[i].Packet(); id != want[i].LSST.DiaSourceID || got[i].Visit != want[i].Visit {
			t.Fatalf("alert %d: Generate %d (visit %d), Next %d (visit %d)", i, id, got[i].Visit, want[i].LSST.DiaSourceID, want[i].Visit)
		}
	}
	if _, err := Generate(Config{Survey: "hst"}); err == nil {
		t.Fatal("Generate accepted an unknown survey")
	}
}

func schema(t testing.TB, survey string) avro.Schema {
	t.Helper()
	v := schemas.Version{Survey: schemas.ZTF, Version: schemas.ZTFVersion}
	if survey == SurveyLSST {
		v = schemas.Version{Survey: schemas.LSST, Version: schemas.LSSTVersion}
	}
	s, err := schemas.Default().Schema(v)
	if err != nil {
		t.Fatalf("schema %s: %v", v, err)
	}
	return s
}

func encode(t testing.TB, s avro.Schema, a Generated) []byte {
	t.Helper()
	var v any = a.ZTF
	if a.LSST != nil {
		v = a.LSST
	}
	b, err := avro.Marshal(s, v)
	if err != nil {
		t.Fatalf("visit %d: %v", a.Visit, err)
	}
	return b
}

func TestValidate(t *testing.T) {
	good := config(SurveyZTF, 10, 100)
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Config{Survey: SurveyLSST, Night: night}).Validate(); err != nil {
		t.Errorf("zero values should take defaults: %v", err)
	}
	mod := func(f func(*Config)) Config {
		c := good
		f(&c)
		return c
	}
	bad := map[string]Config{
		"survey":       mod(func(c *Config) { c.Survey = "ptf" }),
		"no night":     mod(func(c *Config) { c.Night = time.Time{} }),
		"fraction":     mod(func(c *Config) { c.BogusFraction = 1.5 }),
		"nan":          mod(func(c *Config) { c.RecurFraction = math.NaN() }),
		"negative":     mod(func(c *Config) { c.HistoryMax = -1 }),
		"cadence":      mod(func(c *Config) { c.Cadence = 10 * time.Second }),
		"past night":   mod(func(c *Config) { c.Visits = 2000 }),
		"visit range":  mod(func(c *Config) { c.Artefacts = []Artefact{RateSpike{Visit: 10, Factor: 2}} }),
		"factor":       mod(func(c *Config) { c.Artefacts = []Artefact{RateSpike{Visit: 1, Factor: 0}} }),
		"two spikes":   mod(func(c *Config) { c.Artefacts = []Artefact{RateSpike{1, 2}, RateSpike{1, 3}} }),
		"short trail":  mod(func(c *Config) { c.Artefacts = []Artefact{BleedTrail{Visit: 1, N: 1}} }),
		"nil artefact": mod(func(c *Config) { c.Artefacts = []Artefact{nil} }),
		"too many ids": mod(func(c *Config) { c.AlertsPerVisit = 70_000_000 }),
	}
	for name, c := range bad {
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig", name, err)
		}
		if _, err := New(c); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	g := generator(t, Config{Survey: SurveyZTF, Night: night.Add(15 * time.Hour)})
	if c := g.Config(); c.Visits != 10 || c.AlertsPerVisit != 1000 || c.Cadence != 45*time.Second || !c.Night.Equal(night) {
		t.Errorf("defaults = %+v", c)
	}
	if g.Total() != 10_000 {
		t.Errorf("Total = %d", g.Total())
	}
}

// TestReproducible: the same config gives byte-identical packets, cutouts
// included, whichever way the visits are read; another seed does not.
func TestReproducible(t *testing.T) {
	for _, survey := range []string{SurveyZTF, SurveyLSST} {
		t.Run(survey, func(t *testing.T) {
			s := schema(t, survey)
			c := config(survey, 6, 40)
			c.Artefacts = []Artefact{BleedTrail{Visit: 2, N: 5}, Streak{Visit: 4, N: 6}}
			first := all(generator(t, c))
			if len(first) != 6*40+11 {
				t.Fatalf("%d alerts", len(first))
			}
			var want [][]byte
			for _, a := range first {
				want = append(want, encode(t, s, a))
			}

			again := all(generator(t, c))
			for i, a := range again {
				if !bytes.Equal(encode(t, s, a), want[i]) {
					t.Fatalf("alert %d differs on a second run", i)
				}
			}

			// Random access, backwards, gives the same visits.
			g := generator(t, c)
			offsets := []int{0}
			for v := range 6 {
				offsets = append(offsets, offsets[v]+g.VisitAlerts(v))
			}
			for _, v := range []int{4, 1, 5, 0, 3, 2} {
				for k, a := range g.Visit(v) {
					if !bytes.Equal(encode(t, s, a), want[offsets[v]+k]) {
						t.Fatalf("Visit(%d) alert %d differs from the sequential run", v, k)
					}
				}
			}

			c.Seed++
			other := all(generator(t, c))
			same := 0
			for i, a := range other {
				if i < len(want) && bytes.Equal(encode(t, s, a), want[i]) {
					same++
				}
			}
			if same > 0 {
				t.Errorf("another seed reproduced %d packets", same)
			}
		})
	}
}

type meanOf struct{ sum, n float64 }

func (m *meanOf) add(v float64) { m.sum += v; m.n++ }
func (m *meanOf) mean() float64 { return m.sum / m.n }

func TestUniqueIDsZTF(t *testing.T) {
	c := config(SurveyZTF, 20, 1000)
	c.NoCutouts = true
	g := generator(t, c)
	candids := map[int64]bool{}
	type pos struct{ ra, dec float64 }
	objects := map[string]pos{}
	var last int64
	n := 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		n++
		z := a.ZTF
		if candids[z.Candid] {
			t.Fatalf("candid %d repeats", z.Candid)
		}
		candids[z.Candid] = true
		if z.Candid != z.Candidate.Candid || z.Candid < 1e18 {
			t.Fatalf("candid %d / %d", z.Candid, z.Candidate.Candid)
		}
		// Monotonic-ish: candids grow with the exposure time.
		if z.Candid < last-1_000_000_000_000 {
			t.Fatalf("candid %d far below the previous %d", z.Candid, last)
		}
		last = z.Candid
		if len(z.ObjectID) != 12 || z.ObjectID[:3] != "ZTF" {
			t.Fatalf("objectId %q", z.ObjectID)
		}
		for _, ch := range z.ObjectID[5:] {
			if ch < 'a' || ch > 'z' {
				t.Fatalf("objectId %q", z.ObjectID)
			}
		}
		// One name, one place on the sky.
		p := pos{z.Candidate.RA, z.Candidate.Dec}
		if q, ok := objects[z.ObjectID]; ok && separation(p.ra, p.dec, q.ra, q.dec)*3600 > 1.5 {
			t.Fatalf("%s seen %.1f arcsec apart", z.ObjectID, separation(p.ra, p.dec, q.ra, q.dec)*3600)
		}
		objects[z.ObjectID] = p
	}
	if n != 20_000 {
		t.Fatalf("%d alerts", n)
	}
	if len(objects) > n-1000 || len(objects) < n/2 {
		t.Errorf("%d objects in %d alerts: recurrence off?", len(objects), n)
	}
}

func TestUniqueIDsLSST(t *testing.T) {
	c := config(SurveyLSST, 2, 10_000)
	c.NoCutouts = true
	g := generator(t, c)
	ids := map[int64]bool{}
	n := 0
	for a, ok := g.Next(); ok; a, ok = g.Next() {
		n++
		s := a.LSST.DiaSource
		if ids[s.DiaSourceID] || s.DiaSourceID != a.LSST.DiaSourceID {
			t.Fatalf("diaSourceId %d repeats or differs", s.DiaSourceID)
		}
		ids[s.DiaSourceID] = true
		if s.Detector < 0 || s.Detector > 188 {
			t.Fatalf("detector %d", s.Detector)
		}
		if (s.DiaObjectID == nil) == (s.SsObjectID == nil) {
			t.Fatal("a diaSource needs exactly one of diaObjectId and ssObjectId")
		}
	}
	if n != 20_000 {
		t.Fatalf("%d alerts", n)
	}
}

// TestTimesZTF: every alert of an exposure shares jd and field, jd moves on
// by the cadence, and the night stays in one UTC date.
func TestTimesZTF(t *testing.T) {
	c := config(SurveyZTF, 12, 150)
	c.NoCutouts = true
	g := generator(t, c)
	lastJD := 0.0
	pids := map[[2]int64]int64{}
	for _, a := range all(g) {
		cd := a.ZTF.Candidate
		want := julianDate(g.VisitTime(a.Visit))
		if cd.Jd != want {
			t.Fatalf("visit %d: jd %v, want %v", a.Visit, cd.Jd, want)
		}
		if cd.Jd < lastJD {
			t.Fatalf("jd went back from %v to %v", lastJD, cd.Jd)
		}
		lastJD = cd.Jd
		if d := alert.JDTime(cd.Jd).Truncate(24 * time.Hour); !d.Equal(night) {
			t.Fatalf("jd %v is on %s", cd.Jd, d)
		}
		key := [2]int64{int64(a.Visit), int64(*cd.Rcid)}
		if p, ok := pids[key]; ok && p != cd.Pid {
			t.Fatalf("visit %d rcid %d has pids %d and %d", a.Visit, *cd.Rcid, p, cd.Pid)
		}
		pids[key] = cd.Pid
		if *cd.Rcid < 0 || *cd.Rcid > 63 {
			t.Fatalf("rcid %d", *cd.Rcid)
		}
	}
	for i := 1; i < g.Visits(); i++ {
		if d := g.VisitTime(i).Sub(g.VisitTime(i - 1)); d != 45*time.Second {
			t.Fatalf("cadence %v", d)
		}
	}
	if h := g.VisitTime(0).Hour(); h != 3 {
		t.Errorf("night starts at %02d UTC", h)
	}
}

func TestTimesLSST(t *testing.T) {
	c := config(SurveyLSST, 3, 200)
	c.NoCutouts = true
	g := generator(t, c)
	for _, a := range all(g) {
		s := a.LSST.DiaSource
		utc := g.VisitTime(a.Visit)
		wantMJD := julianDate(utc) - 2400000.5 + 37.0/86400
		if math.Abs(s.MidpointMjdTai-wantMJD) > 1e-9 {
			t.Fatalf("midpointMjdTai %v, want %v", s.MidpointMjdTai, wantMJD)
		}
		// dayObs = date(UTC - 12 h), with UTC = TAI - 37 s.
		tai := time.Unix(0, int64((s.MidpointMjdTai+2400000.5-2440587.5)*86400e9)).UTC()
		dayObs := tai.Add(-37 * time.Second).Add(-12 * time.Hour).Truncate(24 * time.Hour)
		if !dayObs.Equal(night) {
			t.Fatalf("dayObs %s", dayObs)
		}
		if s.Visit != lsstVisitID(night, a.Visit) || s.Visit/100000 != 20261124 {
			t.Fatalf("visit %d", s.Visit)
		}
	}
	if d := g.VisitTime(1).Sub(g.VisitTime(0)); d != 39*time.Second {
		t.Errorf("cadence %v", d)
	}
}

// TestFieldLayout: one field per exposure, candidates spread over the
// camera around its centre.
func TestFieldLayout(t *testing.T) {
	c := config(SurveyZTF, 4, 2000)
	c.NoCutouts = true
	g := generator(t, c)
	rcids := map[int]int{}
	for _, a := range g.Visit(1) {
		cd := a.ZTF.Candidate
		f := g.plan[1].field
		if *cd.Field != f.id {
			t.Fatalf("field %d, want %d", *cd.Field, f.id)
		}
		if d := separation(cd.RA, cd.Dec, f.ra, f.dec); d > 5.2 {
			t.Fatalf("candidate %.2f deg from the field centre", d)
		}
		rcids[*cd.Rcid]++
		if *cd.Xpos < 0 || *cd.Xpos > 3072 || *cd.Ypos < 0 || *cd.Ypos > 3080 {
			t.Fatalf("xpos %v ypos %v", *cd.Xpos, *cd.Ypos)
		}
	}
	if len(rcids) != 64 {
		t.Errorf("%d of 64 quadrants used", len(rcids))
	}
	// Quadrants of one CCD are neighbours on the sky.
	fld := g.plan[0].field
	ra0, dec0 := ztfCamera.sky(fld, 0, 1536, 1540)
	ra1, dec1 := ztfCamera.sky(fld, 1, 1536, 1540)
	ra63, dec63 := ztfCamera.sky(fld, 63, 1536, 1540)
	if s1, s63 := separation(ra0, dec0, ra1, dec1), separation(ra0, dec0, ra63, dec63); s1 > 1 || s63 < 4 {
		t.Errorf("quadrant layout: neighbour %.2f deg, far corner %.2f deg", s1, s63)
	}
}

// TestDistributions checks the realism the filters rely on: programids,
// filters, rb, magnitudes, sentinels, asteroids, and the designed purity
// pass rate.
func TestDistributions(t *testing.T) {
	c := config(SurveyZTF, 60, 200)
	c.NoCutouts = true
	alerts := all(generator(t, c))
	n := float64(len(alerts))
	var pure, bogus, asteroids, sgSentinel, prog1, prog23, neg int
	var bright, faint meanOf
	fids := map[int]int{}
	for _, a := range alerts {
		cd := a.ZTF.Candidate
		if cd.Magpsf < 13.9 || cd.Magpsf > 21.1 {
			t.Fatalf("magpsf %v", cd.Magpsf)
		}
		if *cd.Diffmaglim < 19.4 || *cd.Diffmaglim > 21.1 {
			t.Fatalf("diffmaglim %v", *cd.Diffmaglim)
		}
		if *cd.Rb < 0 || *cd.Rb > 1 || *cd.Drb < 0 || *cd.Drb > 1 {
			t.Fatalf("rb %v drb %v", *cd.Rb, *cd.Drb)
		}
		if s := *cd.Sgscore1; s != -999 && (s < 0 || s > 1) {
			t.Fatalf("sgscore1 %v", s)
		}
		if *cd.Sgscore1 == -999 {
			sgSentinel++
		}
		if cd.Isdiffpos != "t" && cd.Isdiffpos != "f" {
			t.Fatalf("isdiffpos %q", cd.Isdiffpos)
		}
		if cd.Isdiffpos == "f" {
			neg++
		}
		fids[cd.Fid]++
		switch cd.Programid {
		case 1:
			prog1++
		case 2, 3:
			prog23++
		default:
			t.Fatalf("programid %d", cd.Programid)
		}
		if a.Asteroid {
			asteroids++
			if *cd.Ssnamenr == "null" || *cd.Ssdistnr < 0 || *cd.Ssdistnr > 30 || *cd.Ssmagnr < 10 {
				t.Fatalf("asteroid without ss fields: %v %v", *cd.Ssnamenr, *cd.Ssdistnr)
			}
		} else if *cd.Ssnamenr != "null" || *cd.Ssdistnr != -999 || *cd.Ssmagnr != -999 {
			t.Fatalf("non-asteroid with ss fields %q", *cd.Ssnamenr)
		}
		if a.Bogus {
			bogus++
		}
		if *cd.Rb >= 0.65 && *cd.Nbad == 0 && *cd.FWHM <= 5 && *cd.Elong <= 1.2 && math.Abs(float64(*cd.Magdiff)) <= 0.1 {
			pure++
		}
		switch {
		case cd.Magpsf < 17:
			bright.add(float64(cd.Sigmapsf))
		case cd.Magpsf > 20:
			faint.add(float64(cd.Sigmapsf))
		}
	}
	if bright.mean() >= faint.mean()/3 {
		t.Errorf("sigmapsf: %.3f for magpsf < 17, %.3f for > 20", bright.mean(), faint.mean())
	}
	frac := func(k int) float64 { return float64(k) / n }
	within := func(name string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s fraction %.3f, want %.3f±%.3f", name, got, want, tol)
		}
	}
	af, bf := c.AsteroidFraction, c.BogusFraction
	within("asteroid", frac(asteroids), af, 0.01)
	within("bogus", frac(bogus), (1-af)*bf, 0.015)
	wantPure := (1-frac(bogus))*PurityPassReal + frac(bogus)*PurityPassBogus
	within("purity-cut pass", frac(pure), wantPure, 3*math.Sqrt(wantPure*(1-wantPure)/n)+0.005)
	if prog1 <= prog23 || prog23 == 0 {
		t.Errorf("programid 1: %d, 2/3: %d", prog1, prog23)
	}
	if fids[1] == 0 || fids[2] == 0 {
		t.Errorf("filters %v", fids)
	}
	if sgSentinel == 0 || frac(sgSentinel) > 0.2 {
		t.Errorf("sgscore1 sentinel in %.3f of alerts", frac(sgSentinel))
	}
	if neg == 0 || frac(neg) > 0.4 {
		t.Errorf("isdiffpos f in %.3f", frac(neg))
	}
}

// TestHistory: recurring objects carry tonight's earlier detections, and
// ndethist/jdstarthist agree with prv_candidates.
func TestHistory(t *testing.T) {
	// 90 visits: enough for two passes over 44-field blocks, 33 min apart.
	c := config(SurveyZTF, 90, 40)
	c.NoCutouts = true
	g := generator(t, c)
	seen := map[int64]float64{} // candid -> jd of every alert so far
	recurrences, limits, long := 0, 0, 0
	for _, a := range all(g) {
		z := a.ZTF
		cd := z.Candidate
		dets := 0
		minJD := cd.Jd
		if z.PrvCandidates != nil {
			if len(*z.PrvCandidates) > c.HistoryMax {
				t.Fatalf("%d prv_candidates", len(*z.PrvCandidates))
			}
			lastJD := 0.0
			for _, p := range *z.PrvCandidates {
				if p.Jd >= cd.Jd || p.Jd < lastJD {
					t.Fatalf("prv jd %v not before %v in order", p.Jd, cd.Jd)
				}
				lastJD = p.Jd
				if p.Candid == nil {
					limits++
					if p.Magpsf != nil || p.Diffmaglim == nil {
						t.Fatal("upper limit with a magnitude or without a limit")
					}
					continue
				}
				dets++
				minJD = math.Min(minJD, p.Jd)
				if jd, ok := seen[*p.Candid]; ok {
					recurrences++
					if jd != p.Jd {
						t.Fatalf("history entry %d has jd %v, the alert had %v", *p.Candid, p.Jd, jd)
					}
					if cd.Jd-p.Jd > 30.0/1440 {
						long++
					}
				}
			}
		}
		if cd.Ndethist < dets+1 {
			t.Fatalf("ndethist %d with %d detections in prv_candidates", cd.Ndethist, dets)
		}
		if cd.Ncovhist < cd.Ndethist {
			t.Fatalf("ncovhist %d < ndethist %d", cd.Ncovhist, cd.Ndethist)
		}
		if *cd.Jdstarthist > minJD || *cd.Jdendhist != cd.Jd {
			t.Fatalf("jdstarthist %v (earliest detection %v), jdendhist %v", *cd.Jdstarthist, minJD, *cd.Jdendhist)
		}
		if z.FpHists != nil && len(*z.FpHists) > c.HistoryMax {
			t.Fatalf("%d fp_hists", len(*z.FpHists))
		}
		seen[z.Candid] = cd.Jd
	}
	if recurrences == 0 || limits == 0 {
		t.Errorf("%d recurrences, %d upper limits", recurrences, limits)
	}
	if long == 0 {
		t.Error("no pair of detections more than 30 minutes apart")
	}
}

// TestPacketSize: encoded packets land where real ones do.
func TestPacketSize(t *testing.T) {
	for _, survey := range []string{SurveyZTF, SurveyLSST} {
		s := schema(t, survey)
		c := config(survey, 4, 60)
		c.Artefacts = []Artefact{Streak{Visit: 1, N: 10}}
		total, n, lo, hi := 0, 0, math.MaxInt, 0
		for _, a := range all(generator(t, c)) {
			size := len(encode(t, s, a))
			if size < 20_000 || size > 100_000 {
				t.Fatalf("%s packet of %d bytes", survey, size)
			}
			total += size
			n++
			lo, hi = min(lo, size), max(hi, size)
		}
		t.Logf("%s: %d packets, %d..%d bytes, mean %d", survey, n, lo, hi, total/n)
	}
}

// TestCutouts decodes every stamp and checks the difference image against
// the alert: the PSF at the centre has the alert's flux.
func TestCutouts(t *testing.T) {
	for _, survey := range []string{SurveyZTF, SurveyLSST} {
		t.Run(survey, func(t *testing.T) {
			c := config(survey, 3, 150)
			g := generator(t, c)
			alerts := all(g)
			byID := map[int64]*detection{}
			for v := range g.Visits() {
				for _, d := range g.detectionsOf(v) {
					byID[d.id] = d
				}
			}
			centreMax, guaranteed, n := 0, 0, 0
			for _, a := range alerts {
				var stamps [3][]byte
				var flux, fwhmPix float64
				if a.ZTF != nil {
					z := a.ZTF
					stamps = [3][]byte{z.CutoutScience.StampData, z.CutoutTemplate.StampData, z.CutoutDifference.StampData}
					flux = math.Pow(10, -0.4*(float64(z.Candidate.Magpsf)-float64(*z.Candidate.Magzpsci)))
				} else {
					l := a.LSST
					stamps = [3][]byte{*l.CutoutScience, *l.CutoutTemplate, *l.CutoutDifference}
					flux = float64(*l.DiaSource.PsfFlux)
					if fits.IsGzip(stamps[0]) {
						t.Fatal("Rubin cutouts should be plain FITS")
					}
				}
				var imgs [3]fits.Image
				for i, b := range stamps {
					img, err := fits.DecodeAuto(b)
					if err != nil {
						t.Fatal(err)
					}
					if img.Width != StampSize || img.Height != StampSize {
						t.Fatalf("%dx%d stamp", img.Width, img.Height)
					}
					imgs[i] = img
				}
				diff := imgs[2]
				if name, _ := diff.StringValue("EXTNAME"); name != "DIFFERENCE" {
					t.Fatalf("EXTNAME %q", name)
				}
				// The generator's own image noise, to bound the centre.
				id := int64(0)
				if a.ZTF != nil {
					id = a.ZTF.Candid
				} else {
					id = a.LSST.DiaSourceID
				}
				d := byID[id]
				fwhmPix = d.img.psfSigma * 2.3548
				sigma := d.img.pixNoise * 1.05
				if a.ZTF != nil {
					flux = math.Abs(flux) // ZTF flips the subtraction for fading sources
				}
				amp := PeakAmplitude(flux, fwhmPix)
				centre := float64(diff.At(StampSize/2, StampSize/2))
				if a.Artefact == "" && math.Abs(centre-amp) > NoiseClip*sigma*1.0001+1e-3*math.Abs(amp) {
					t.Fatalf("centre %v, want %v ± %v", centre, amp, NoiseClip*sigma)
				}
				// The brightest pixel (faintest, for a negative Rubin
				// source) is the centre whenever the noise bound makes it
				// certain: the nearest neighbours get exp(-1/2s^2) of the
				// peak, and noise moves each pixel by at most NoiseClip sigma.
				sign := 1.0
				if amp < 0 {
					sign = -1
				}
				best, bx, by := math.Inf(-1), 0, 0
				for y := range StampSize {
					for x := range StampSize {
						if v := sign * float64(diff.At(x, y)); v > best {
							best, bx, by = v, x, y
						}
					}
				}
				isMax := bx == StampSize/2 && by == StampSize/2
				s := fwhmPix / 2.3548
				certain := math.Abs(amp)*(1-math.Exp(-1/(2*s*s))) > 2*NoiseClip*sigma
				if a.Artefact == "" {
					n++
					if isMax {
						centreMax++
					}
					if certain {
						guaranteed++
						if !isMax {
							t.Fatalf("centre is not the peak of a bright source: max at (%d,%d)", bx, by)
						}
					}
				}
			}
			t.Logf("%s: centre is the extreme pixel in %d of %d stamps (%d certain by the noise bound)", survey, centreMax, n, guaranteed)
			if survey == SurveyZTF && centreMax < n*9/10 {
				t.Errorf("centre is the peak in only %d of %d ZTF stamps", centreMax, n)
			}
		})
	}
}

func TestZTFStampHeader(t *testing.T) {
	g := generator(t, config(SurveyZTF, 1, 5))
	a := g.Visit(0)[0].ZTF
	img, err := fits.DecodeGzip(a.CutoutScience.StampData)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := img.StringValue("BUNIT"); u != "DN" {
		t.Errorf("BUNIT %q", u)
	}
	if o, _ := img.StringValue("OBJECT"); o != a.ObjectID {
		t.Errorf("OBJECT %q, want %q", o, a.ObjectID)
	}
	if c, _ := img.IntValue("CANDID"); c != a.Candid {
		t.Errorf("CANDID %d", c)
	}
	if ra, _ := img.FloatValue("CRVAL1"); ra != a.Candidate.RA {
		t.Errorf("CRVAL1 %v, want %v", ra, a.Candidate.RA)
	}
	if zp, _ := img.FloatValue("MAGZP"); math.Abs(zp-float64(*a.Candidate.Magzpsci)) > 1e-3 {
		t.Errorf("MAGZP %v", zp)
	}
	if want := "_targ_sci.fits.gz"; !bytes.HasSuffix([]byte(a.CutoutScience.FileName), []byte(want)) {
		t.Errorf("file name %q", a.CutoutScience.FileName)
	}
}

func TestArtefacts(t *testing.T) {
	for _, survey := range []string{SurveyZTF, SurveyLSST} {
		t.Run(survey, func(t *testing.T) {
			c := config(survey, 6, 100)
			c.NoCutouts = true
			c.Artefacts = []Artefact{
				RateSpike{Visit: 1, Factor: 5},
				BleedTrail{Visit: 3, N: 9},
				Streak{Visit: 3, N: 15},
				Streak{Visit: 5, N: 7},
			}
			g := generator(t, c)
			counts := map[string]int{}
			perVisit := map[int]int{}
			type pt struct{ ra, dec float64 }
			lines := map[[2]int][]pt{} // (visit, artefact kind index) -> points
			for v := range g.Visits() {
				alerts := g.Visit(v)
				if len(alerts) != g.VisitAlerts(v) {
					t.Fatalf("visit %d: %d alerts, VisitAlerts says %d", v, len(alerts), g.VisitAlerts(v))
				}
				for _, a := range alerts {
					counts[a.Artefact]++
					perVisit[a.Visit]++
					if a.Artefact != "" && a.Artefact != ArtefactRateSpike {
						if !a.Bogus || a.Visit != v {
							t.Fatal("artefact alert not bogus or in the wrong visit")
						}
						ra, dec := 0.0, 0.0
						if a.ZTF != nil {
							ra, dec = a.ZTF.Candidate.RA, a.ZTF.Candidate.Dec
							cd := a.ZTF.Candidate
							if *cd.Rb >= 0.65 && *cd.Nbad == 0 && *cd.FWHM <= 5 && *cd.Elong <= 1.2 && math.Abs(float64(*cd.Magdiff)) <= 0.1 {
								t.Fatal("an artefact passes the purity cut")
							}
						} else {
							ra, dec = a.LSST.DiaSource.RA, a.LSST.DiaSource.Dec
						}
						k := 0
						if a.Artefact == ArtefactStreak {
							k = 1
						}
						lines[[2]int{v, k}] = append(lines[[2]int{v, k}], pt{ra, dec})
					}
				}
			}
			if perVisit[1] != 5*100 || counts[ArtefactRateSpike] != 5*100 {
				t.Errorf("rate spike visit has %d alerts (%d labelled), want 500", perVisit[1], counts[ArtefactRateSpike])
			}
			if counts[ArtefactBleedTrail] != 9 || counts[ArtefactStreak] != 22 || perVisit[3] != 100+24 || perVisit[5] != 107 {
				t.Errorf("counts %v, per visit %v", counts, perVisit)
			}
			if counts[""] != 5*100 {
				t.Errorf("%d ordinary alerts, want 500", counts[""])
			}

			fld := func(v int) field { return g.plan[v].field }
			// Bleed trail: one CCD column, i.e. constant xi on the tangent
			// plane in a few-arcsec steps.
			trail := lines[[2]int{3, 0}]
			f := fld(3)
			xi0, _ := toTangent(f.ra, f.dec, trail[0].ra, trail[0].dec)
			var etas []float64
			for _, p := range trail {
				xi, eta := toTangent(f.ra, f.dec, p.ra, p.dec)
				if off := math.Abs(xi-xi0) * 3600; off > 0.7 {
					t.Errorf("bleed-trail candidate %.2f arcsec off the column", off)
				}
				etas = append(etas, eta)
			}
			minGap := math.Inf(1)
			for i := range etas {
				for j := range i {
					minGap = math.Min(minGap, math.Abs(etas[i]-etas[j])*3600)
				}
			}
			if minGap < 2 || minGap > 4.5 {
				t.Errorf("bleed-trail spacing %.2f arcsec", minGap)
			}
			// Streaks: on a great circle (the chord's end points define it).
			for _, v := range []int{3, 5} {
				pts := lines[[2]int{v, 1}]
				f := fld(v)
				// Alerts come by quadrant, not along the line: take the two
				// candidates furthest apart as its ends.
				var x0, y0, x1, y1, length float64
				for i := range pts {
					for j := range i {
						xa, ya := toTangent(f.ra, f.dec, pts[i].ra, pts[i].dec)
						xb, yb := toTangent(f.ra, f.dec, pts[j].ra, pts[j].dec)
						if l := math.Hypot(xa-xb, ya-yb); l > length {
							x0, y0, x1, y1, length = xa, ya, xb, yb, l
						}
					}
				}
				for _, p := range pts {
					x, y := toTangent(f.ra, f.dec, p.ra, p.dec)
					dist := math.Abs((x1-x0)*(y0-y)-(x0-x)*(y1-y0)) / length * 3600
					if dist > 1.0 {
						t.Errorf("streak candidate %.2f arcsec off the line", dist)
					}
				}
				if length*3600 < 60 {
					t.Errorf("streak only %.0f arcsec long", length*3600)
				}
			}
		})
	}
}

func BenchmarkGenerateZTF(b *testing.B) {
	benchmarkGenerate(b, SurveyZTF)
}

func BenchmarkGenerateLSST(b *testing.B) {
	benchmarkGenerate(b, SurveyLSST)
}

// benchmarkGenerate measures alerts per second on one goroutine, cutouts
// included, and the Avro size of what it made (encoding is not timed).
func benchmarkGenerate(b *testing.B, survey string) {
	c := config(survey, 100, 1000)
	g := generator(b, c)
	s := schema(b, survey)
	var sample []Generated
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		a, ok := g.Next()
		if !ok {
			g = generator(b, c)
			a, _ = g.Next()
		}
		if i%97 == 0 && len(sample) < 200 {
			sample = append(sample, a)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	total := 0
	for _, a := range sample {
		total += len(encode(b, s, a))
	}
	if len(sample) > 0 {
		b.ReportMetric(float64(total)/float64(len(sample)), "bytes/alert")
	}
}
