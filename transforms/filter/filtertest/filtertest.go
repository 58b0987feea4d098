package filtertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/internal/linefile"
	"github.com/alertbeam/alertbeam/io/deadletter"
	"github.com/alertbeam/alertbeam/io/fits"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/runners"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/registry"
	"github.com/alertbeam/alertbeam/schemas/ztf"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func init() {
	register.DoFn1x0[kafkaio.Message](&collectMsgFn{})
	register.DoFn1x0[kafkaio.Ack](&collectAckFn{})
}

// Ptr returns a pointer to v, for the alerts' nullable fields:
// a.Candidate.Rb = filtertest.Ptr[float32](0.9).
func Ptr[T any](v T) *T { return &v }

// JD is the exposure time of the alerts ZTF makes (2026-11-24 05:00 UTC).
const JD = 2461368.7083333

// MJD is the observation time of the alerts LSST makes (2026-11-25 03:00
// UTC, in TAI).
const MJD = 61369.125 + 37.0/86400

// ZTF returns a ZTF alert with candid id, one plausible detection that
// passes every built-in quality cut and is new (no history, ndethist 1, no
// PS1 or solar-system counterpart), after set has changed what the test
// needs. It has no cutouts: set CutoutDifference with Stamp.
func ZTF(id int64, set ...func(*ztf.Alert)) *filter.Alert {
	a := &ztf.Alert{
		Schemavsn: schemas.ZTFVersion, Publisher: "filtertest", ObjectID: "ZTF26aaaaaaa", Candid: id,
		Candidate: ztf.Candidate{
			Jd: JD, Fid: 2, Pid: 3000000000000, Programid: 1, Candid: id, Isdiffpos: "t",
			Field: Ptr(600), Rcid: Ptr(10), RA: 150.0, Dec: 20.0,
			Magpsf: 18.0, Sigmapsf: 0.1, Diffmaglim: Ptr[float32](20.5),
			Rb: Ptr[float32](0.9), Drb: Ptr[float32](0.95), Nbad: Ptr(0), FWHM: Ptr[float32](2.5),
			Elong: Ptr[float32](1.05), Magdiff: Ptr[float32](0.01),
			Sgscore1: Ptr[float32](filter.Sentinel), Distpsnr1: Ptr[float32](filter.Sentinel),
			Ssnamenr: Ptr(filter.NullName), Ssdistnr: Ptr[float32](filter.Sentinel),
			Ndethist: 1, Ncovhist: 1, Jdstarthist: Ptr(JD), Jdendhist: Ptr(JD),
			Ranr: filter.Sentinel, Decnr: filter.Sentinel,
			Rbversion: "t17_f5_c3", Drbversion: "d6_m7",
		},
	}
	for _, f := range set {
		f(a)
	}
	return filter.OfZTF(a)
}

// LSST returns an LSST alert with diaSourceId id, a positive 10-sigma
// detection of reliability 0.9 without history, object or solar-system
// counterpart, after set has changed what the test needs.
func LSST(id int64, set ...func(*lsst.Alert)) *filter.Alert {
	a := &lsst.Alert{
		DiaSourceID: id,
		DiaSource: lsst.DiaSource{
			DiaSourceID: id, Visit: 2026112400001, Detector: 10, MidpointMjdTai: MJD,
			RA: 60.0, Dec: -30.0, PsfFlux: Ptr[float32](1000), PsfFluxErr: Ptr[float32](100),
			Reliability: Ptr[float32](0.9), Band: Ptr("r"), TimeProcessedMjdTai: MJD + 0.001,
		},
	}
	for _, f := range set {
		f(a)
	}
	return filter.OfLSST(a)
}

// Stamp returns a 63x63 difference-image stamp, gzip'd FITS as ZTF ships
// it, whose centre pixel is centre and whose other pixels alternate
// ±1/1.4826 in a checkerboard: the cutoutsnr built-in measures its noise
// as 1, so its S/N is |centre|.
func Stamp(centre float32) []byte {
	const n = 63
	a := float32(1 / 1.4826)
	pix := make([]float32, n*n)
	for y := range n {
		for x := range n {
			if (x+y)%2 == 0 {
				pix[y*n+x] = a
			} else {
				pix[y*n+x] = -a
			}
		}
	}
	pix[(n/2)*n+n/2] = centre
	b, err := fits.EncodeGzip(fits.Image{Width: n, Height: n, Pix: pix})
	if err != nil {
		panic(err) // no header cards: nothing can be invalid
	}
	return b
}

// Result is what a filter did with each alert, by id.
type Result struct {
	Kept    []int64          // published, in increasing id order
	Dropped []int64          // acknowledged without publishing, increasing
	Dead    map[int64]string // dead-lettered, with the error
	// Values are the published bytes by id: the original packet, or the
	// re-encoded one when the filter transformed it.
	Values map[int64][]byte
}

// Run runs one filter spec (a registered name, name:params or an
// expression, see filter.Build) over alerts on the direct runner, through
// the same filter.Apply pipelines use, and reports what happened to each.
// The alerts must all be of one survey.
func Run(ctx context.Context, spec string, alerts ...*filter.Alert) (Result, error) {
	return RunWith(ctx, Options{}, spec, alerts...)
}

// Options change how RunWith runs a filter.
type Options struct {
	// Catalogs are catalog specs ("NAME=PATH[,ra=COL,...]", see
	// filter.Config.Catalogs) for crossmatch filters: xmatch, brightstar,
	// xmatch.NAME in expressions. WriteCatalog makes one.
	Catalogs []string
}

// RunWith is Run with options.
func RunWith(ctx context.Context, opts Options, spec string, alerts ...*filter.Alert) (Result, error) {
	if len(alerts) == 0 {
		return Result{}, errors.New("filtertest: no alerts")
	}
	survey := alerts[0].Survey()
	var reg *registry.Client
	var regURL string
	if survey == schemas.LSST {
		srv, err := registry.Serve("127.0.0.1:0", schemas.Default())
		if err != nil {
			return Result{}, err
		}
		defer srv.Close()
		regURL = srv.URL()
		if reg, err = registry.NewClient(regURL); err != nil {
			return Result{}, err
		}
	}
	codec, err := framing.New(survey, reg)
	if err != nil {
		return Result{}, err
	}
	recs := make([]kafkaio.Record, len(alerts))
	ids := map[int64]int64{} // offset → id
	for i, a := range alerts {
		if a.Survey() != survey {
			return Result{}, fmt.Errorf("filtertest: alert %d is %s, alert 0 %s: run one survey at a time", i, a.Survey(), survey)
		}
		var b []byte
		if a.ZTF != nil {
			b, err = codec.Encode(a.ZTF)
		} else {
			b, err = codec.Encode(a.LSST)
		}
		if err != nil {
			return Result{}, fmt.Errorf("filtertest: encoding alert %d: %w", a.ID(), err)
		}
		off := int64(i)
		recs[i] = kafkaio.Record{Source: kafkaio.Source{Topic: "filtertest", Offset: off, Prev: off - 1}, Value: b, Timestamp: a.Time()}
		ids[off] = a.ID()
	}

	dir, err := os.MkdirTemp("", "filtertest")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	p, s := beam.NewPipelineWithRoot()
	out, err := filter.TryApply(s, filter.Config{Survey: survey, Registry: regURL, Filters: []string{spec}, Catalogs: opts.Catalogs}, beam.CreateList(s, recs))
	if err != nil {
		return Result{}, err
	}
	beam.ParDo0(s, &collectMsgFn{Dir: dir, Kind: "kept"}, out.Kept[out.Names[0]])
	beam.ParDo0(s, &collectMsgFn{Dir: dir, Kind: "dead"}, out.Dead)
	beam.ParDo0(s, &collectAckFn{Dir: dir}, out.Acks)
	if _, err := runners.Run(ctx, p); err != nil {
		return Result{}, fmt.Errorf("filtertest: pipeline: %w", err)
	}
	return readResults(dir, ids)
}

var funcs atomic.Int64

// RunFunc runs a filter function that is not registered. It registers f
// under a fresh name first, which works because the direct runner runs the
// pipeline in this process; a filter meant for a cluster must be
// registered from an init function.
func RunFunc(ctx context.Context, f filter.Func, alerts ...*filter.Alert) (Result, error) {
	name := "filtertest-func-" + strconv.FormatInt(funcs.Add(1), 10)
	filter.Register(name, "a function under test", f)
	return Run(ctx, name, alerts...)
}

// Kept runs spec over alerts (see Run) and returns the kept ids; any error,
// or an alert the filter dead-lettered, fails the test.
func Kept(t testing.TB, spec string, alerts ...*filter.Alert) []int64 {
	t.Helper()
	return KeptWith(t, Options{}, spec, alerts...)
}

// KeptWith is Kept with options.
func KeptWith(t testing.TB, opts Options, spec string, alerts ...*filter.Alert) []int64 {
	t.Helper()
	r, err := RunWith(context.Background(), opts, spec, alerts...)
	if err != nil {
		t.Fatal(err)
	}
	for id, e := range r.Dead {
		t.Errorf("filtertest: alert %d dead-lettered: %s", id, e)
	}
	return r.Kept
}

// collectMsgFn writes what reaches an output to files, one per bundle:
// the direct runner runs DoFns in this process, but their outputs only
// leave the pipeline through a sink.
type collectMsgFn struct {
	Dir  string
	Kind string

	lines []string
}

func (fn *collectMsgFn) StartBundle() { fn.lines = nil }

func (fn *collectMsgFn) ProcessElement(m kafkaio.Message) {
	var errText string
	for _, h := range m.Headers {
		if h.Key == deadletter.HeaderError {
			errText = string(h.Value)
		}
	}
	fn.lines = append(fn.lines, fmt.Sprintf("%d %s %s", m.Source.Offset, strconv.Quote(string(m.Value)), strconv.Quote(errText)))
}

func (fn *collectMsgFn) FinishBundle() error { return linefile.Write(fn.Dir, fn.Kind, fn.lines) }

type collectAckFn struct {
	Dir string

	lines []string
}

func (fn *collectAckFn) StartBundle() { fn.lines = nil }

func (fn *collectAckFn) ProcessElement(a kafkaio.Ack) {
	fn.lines = append(fn.lines, fmt.Sprintf("%d %q %q", a.Offset, "", ""))
}

func (fn *collectAckFn) FinishBundle() error { return linefile.Write(fn.Dir, "dropped", fn.lines) }

func readResults(dir string, ids map[int64]int64) (Result, error) {
	r := Result{Dead: map[int64]string{}, Values: map[int64][]byte{}}
	files, err := linefile.Read(dir)
	if err != nil {
		return r, err
	}
	for kind, lines := range files {
		for _, l := range lines {
			offText, rest, _ := strings.Cut(l, " ")
			off, _ := strconv.ParseInt(offText, 10, 64)
			value, rest, err := unquoteFirst(rest)
			if err != nil {
				return r, err
			}
			errText, _, err := unquoteFirst(rest)
			if err != nil {
				return r, err
			}
			id := ids[off]
			switch kind {
			case "kept":
				r.Kept = append(r.Kept, id)
				r.Values[id] = []byte(value)
			case "dead":
				r.Dead[id] = errText
			case "dropped":
				r.Dropped = append(r.Dropped, id)
			}
		}
	}
	sort.Slice(r.Kept, func(i, j int) bool { return r.Kept[i] < r.Kept[j] })
	sort.Slice(r.Dropped, func(i, j int) bool { return r.Dropped[i] < r.Dropped[j] })
	return r, nil
}

// unquoteFirst reads one Go-quoted string from the front of s.
func unquoteFirst(s string) (string, string, error) {
	q, err := strconv.QuotedPrefix(strings.TrimSpace(s))
	if err != nil {
		return "", "", fmt.Errorf("filtertest: reading results: %w", err)
	}
	v, err := strconv.Unquote(q)
	return v, strings.TrimSpace(s)[len(q):], err
}

// WriteCatalog writes a CSV catalog into the test's temporary directory
// and returns its spec, "name=PATH": header names the columns (a catalog
// needs ra and dec, in degrees, and may have id and numeric columns), and
// each row is one CSV line.
//
//	hip := filtertest.WriteCatalog(t, "hip", "id,ra,dec,Hpmag", "1,150.0,20.0,3.5")
//	kept := filtertest.KeptWith(t, filtertest.Options{Catalogs: []string{hip}}, "xmatch:cat=hip,r=5", alerts...)
func WriteCatalog(t testing.TB, name, header string, rows ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".csv")
	if err := os.WriteFile(path, []byte(header+"\n"+strings.Join(rows, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return name + "=" + path
}
