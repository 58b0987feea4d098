package lightcurve

import "math"

// chi2Survival is P(χ²_k ≥ x), the regularized upper incomplete gamma
// function Q(k/2, x/2); NaN for k < 1.
func chi2Survival(x float64, k int) float64 {
	if k < 1 || math.IsNaN(x) {
		return math.NaN()
	}
	if x <= 0 {
		return 1
	}
	a, z := float64(k)/2, x/2
	if z < a+1 {
		return 1 - lowerSeries(a, z)
	}
	return upperFraction(a, z)
}

// lowerSeries is P(a, z) by its power series, which converges quickly
// for z < a+1.
func lowerSeries(a, z float64) float64 {
	lg, _ := math.Lgamma(a)
	term := 1 / a
	sum := term
	for n := 1; n < 1000; n++ {
		term *= z / (a + float64(n))
		sum += term
		if math.Abs(term) < math.Abs(sum)*1e-16 {
			break
		}
	}
	return sum * math.Exp(-z+a*math.Log(z)-lg)
}

// upperFraction is Q(a, z) by its continued fraction (modified Lentz),
// which converges quickly for z ≥ a+1.
func upperFraction(a, z float64) float64 {
	const tiny = 1e-300
	lg, _ := math.Lgamma(a)
	b := z + 1 - a
	c := 1 / tiny
	d := 1 / b
	h := d
	for i := 1; i < 1000; i++ {
		an := -float64(i) * (float64(i) - a)
		b += 2
		d = an*d + b
		if math.Abs(d) < tiny {
			d = tiny
		}
		c = b + an/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		d = 1 / d
		del := d * c
		h *= del
		if math.Abs(del-1) < 1e-16 {
			break
		}
	}
	return math.Exp(-z+a*math.Log(z)-lg) * h
}
