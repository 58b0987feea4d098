package lightcurve

import (
	"errors"
	"math"
	"slices"
)

// Point is one measurement: time in days (any zero point, e.g. JD or
// MJD), flux and its 1σ error in any one unit.
type Point struct {
	T, Flux, Err float64
}

// Params are the Bazin model's parameters: amplitude A (flux unit), the
// reference time T0 (days) and the rise and fall times (days).
type Params struct {
	A, T0, Rise, Fall float64
}

// At is the model's flux at time t.
func (p Params) At(t float64) float64 {
	g, _ := shape(t-p.T0, p.Rise, p.Fall)
	return p.A * g
}

// Peak is the time of maximum flux, t0 + τrise·ln(τfall/τrise − 1), for a
// profile that rises before it falls (0 < τrise < τfall/2 puts the peak
// after t0); NaN when the profile has no maximum.
func (p Params) Peak() float64 {
	if p.Rise <= 0 || p.Fall <= p.Rise {
		return math.NaN()
	}
	return p.T0 + p.Rise*math.Log(p.Fall/p.Rise-1)
}

// shape returns g = exp(−u/τf)/(1+exp(−u/τr)) and h = 1/(1+exp(u/τr)),
// computed without overflow far before t0 (u ≪ 0).
func shape(u, rise, fall float64) (g, h float64) {
	s := -u / rise
	if s > 0 {
		// g = exp(−u/τf − s)/(exp(−s) + 1); h = 1/(1+exp(−s)).
		e := math.Exp(-s)
		return math.Exp(-u/fall-s) / (e + 1), 1 / (1 + e)
	}
	e := math.Exp(s)
	return math.Exp(-u/fall) / (1 + e), e / (1 + e)
}

// Fit is a fitted model.
type Fit struct {
	Params
	N          int     // points fitted
	Chi2       float64 // Σ((flux − model)/err)²
	DoF        int     // N − 4
	Iterations int
}

// Chi2DoF is χ² per degree of freedom.
func (f Fit) Chi2DoF() float64 { return f.Chi2 / float64(f.DoF) }

// Score is the probability of a χ² at least this large if the model were
// right (the χ² survival function at DoF degrees of freedom): near 1 for a
// light curve the profile explains, near 0 for one it does not.
func (f Fit) Score() float64 { return chi2Survival(f.Chi2, f.DoF) }

// Errors of FitBazin.
var (
	ErrTooFew      = errors.New("lightcurve: fewer than 5 points with a positive error")
	ErrNotConverge = errors.New("lightcurve: the fit did not converge")
)

// Guess is FitBazin's first starting point for pts: rise 3 d and fall
// 20 d (a young supernova), t0 placed so the model peaks at the point of
// largest |flux|, and A so that the peak matches its flux (negative for a
// source fading below its template). Exported so an
// independent fit (scipy's curve_fit in the tests) can start from the same
// place.
func Guess(pts []Point) Params { return guess(pts, 3, 20) }

// starts are the rise and fall times FitBazin starts from: a χ² surface
// with a flat direction (a rise sampled by one point) has several minima,
// and one start can stop in a poor one.
var starts = [][2]float64{{3, 20}, {1, 10}, {8, 50}}

func guess(pts []Point, rise, fall float64) Params {
	best := 0
	for i, p := range pts {
		if math.Abs(p.Flux) > math.Abs(pts[best].Flux) {
			best = i
		}
	}
	p := Params{Rise: rise, Fall: fall}
	p.T0 = pts[best].T - p.Rise*math.Log(p.Fall/p.Rise-1)
	g, _ := shape(pts[best].T-p.T0, p.Rise, p.Fall)
	p.A = pts[best].Flux / g
	return p
}

// FitBazin fits the model to pts (points with a non-positive or NaN error
// are left out) from each of a few starting points (Guess first) and
// returns the fit of lowest χ².
func FitBazin(pts []Point) (Fit, error) {
	use := pts[:0:0]
	for _, p := range pts {
		if p.Err > 0 && !math.IsNaN(p.Flux) && !math.IsNaN(p.T) {
			use = append(use, p)
		}
	}
	if len(use) < 5 {
		return Fit{N: len(use)}, ErrTooFew
	}
	var best Fit
	err := ErrNotConverge
	for _, st := range starts {
		f, ferr := fitFrom(use, guess(use, st[0], st[1]))
		if ferr == nil && (err != nil || f.Chi2 < best.Chi2) {
			best, err = f, nil
		}
	}
	if err != nil {
		return Fit{N: len(use)}, err
	}
	return best, nil
}

// FitFrom fits the model to pts (all with positive errors) from a given
// starting point.
func FitFrom(pts []Point, start Params) (Fit, error) {
	if len(pts) < 5 {
		return Fit{N: len(pts)}, ErrTooFew
	}
	return fitFrom(slices.Clone(pts), start)
}

const nPar = 4

// vec returns p as the vector the fit moves: A, T0, ln Rise, ln Fall. The
// logarithms keep the times positive and make a step's size relative,
// which a time that heads for zero (a rise faster than the sampling)
// needs.
func (p Params) vec() [nPar]float64 {
	return [nPar]float64{p.A, p.T0, math.Log(p.Rise), math.Log(p.Fall)}
}

func fromVec(v [nPar]float64) Params {
	return Params{A: v[0], T0: v[1], Rise: math.Exp(v[2]), Fall: math.Exp(v[3])}
}

// chi2 of p on pts; +Inf for parameters outside the model's domain.
func chi2(pts []Point, p Params) float64 {
	if p.Rise <= 0 || p.Fall <= 0 {
		return math.Inf(1)
	}
	var s float64
	for _, q := range pts {
		r := (q.Flux - p.At(q.T)) / q.Err
		s += r * r
	}
	return s
}

// normal builds JᵀJ and Jᵀr of the weighted residuals at p.
func normal(pts []Point, p Params) (jtj [nPar][nPar]float64, jtr [nPar]float64) {
	for _, q := range pts {
		u := q.T - p.T0
		g, h := shape(u, p.Rise, p.Fall)
		w := 1 / q.Err
		j := [nPar]float64{
			g * w,
			p.A * g * (1/p.Fall - h/p.Rise) * w,
			-p.A * g * h * u / p.Rise * w, // ∂f/∂ln τ = τ·∂f/∂τ
			p.A * g * u / p.Fall * w,
		}
		r := (q.Flux - p.A*g) * w
		for a := range nPar {
			jtr[a] += j[a] * r
			for b := a; b < nPar; b++ {
				jtj[a][b] += j[a] * j[b]
			}
		}
	}
	for a := range nPar {
		for b := range a {
			jtj[a][b] = jtj[b][a]
		}
	}
	return jtj, jtr
}

// fitFrom is Levenberg–Marquardt with Marquardt's diagonal scaling: the
// step solves (JᵀJ + λ·diag(JᵀJ)) δ = Jᵀr; λ shrinks tenfold after a step
// that lowers χ² and grows tenfold after one that does not. It stops when a
// step changes χ² by less than 1e-10 relative, when the step is below
// 1e-12 of the parameters, or when a time leaves [1e-3, 1e5] days: a rise
// faster than a minute or a decline slower than centuries is a flat edge
// of the χ² surface, where the fit would otherwise creep on for ever.
func fitFrom(pts []Point, p Params) (Fit, error) {
	const maxIter = 500
	cur := chi2(pts, p)
	if math.IsInf(cur, 0) || math.IsNaN(cur) {
		return Fit{N: len(pts)}, ErrNotConverge
	}
	lambda := 1e-3
	it := 0
	for ; it < maxIter; it++ {
		jtj, jtr := normal(pts, p)
		improved := false
		for range 40 {
			m := jtj
			for a := range nPar {
				m[a][a] += lambda * max(jtj[a][a], 1e-300)
			}
			d, ok := solve(m, jtr)
			if !ok {
				lambda *= 10
				continue
			}
			v := p.vec()
			small := true
			for a := range nPar {
				if math.Abs(d[a]) > 1e-12*(math.Abs(v[a])+1e-12) {
					small = false
				}
				v[a] += d[a]
			}
			next := fromVec(v)
			c := chi2(pts, next)
			if c < cur {
				rel := (cur - c) / math.Max(cur, 1e-300)
				p, cur = next, c
				lambda = math.Max(lambda/10, 1e-15)
				improved = true
				if rel < 1e-10 || small || p.Rise < 1e-3 || p.Fall > 1e5 {
					return done(pts, p, cur, it+1)
				}
				break
			}
			if small {
				return done(pts, p, cur, it+1)
			}
			lambda *= 10
		}
		if !improved {
			// No step lowers χ² at any damping: a minimum to machine
			// precision.
			return done(pts, p, cur, it+1)
		}
	}
	return Fit{Params: p, N: len(pts), Chi2: cur, DoF: len(pts) - nPar, Iterations: it}, ErrNotConverge
}

func done(pts []Point, p Params, c float64, it int) (Fit, error) {
	return Fit{Params: p, N: len(pts), Chi2: c, DoF: len(pts) - nPar, Iterations: it}, nil
}

// solve solves the symmetric system m·x = b by Gaussian elimination with
// partial pivoting; false if m is singular.
func solve(m [nPar][nPar]float64, b [nPar]float64) ([nPar]float64, bool) {
	for c := range nPar {
		piv := c
		for r := c + 1; r < nPar; r++ {
			if math.Abs(m[r][c]) > math.Abs(m[piv][c]) {
				piv = r
			}
		}
		if m[piv][c] == 0 || math.IsNaN(m[piv][c]) {
			return b, false
		}
		m[c], m[piv] = m[piv], m[c]
		b[c], b[piv] = b[piv], b[c]
		for r := c + 1; r < nPar; r++ {
			f := m[r][c] / m[c][c]
			for k := c; k < nPar; k++ {
				m[r][k] -= f * m[c][k]
			}
			b[r] -= f * b[c]
		}
	}
	var x [nPar]float64
	for r := nPar - 1; r >= 0; r-- {
		s := b[r]
		for k := r + 1; k < nPar; k++ {
			s -= m[r][k] * x[k]
		}
		x[r] = s / m[r][r]
	}
	return x, true
}
