package qa

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Actions a check takes on a flagged group.
const (
	ActionReject   = "reject"   // drop every alert of the group (acknowledged in Outputs.Acks)
	ActionThrottle = "throttle" // keep RateConfig.Throttle alerts of the group, drop the rest (rate only)
	ActionFlag     = "flag"     // keep every alert; only report the group
)

// Levels a rate is counted at (RateConfig.By).
const (
	ByExposure = "exposure" // one ZTF exposure (jd, field) or one LSST visit
	ByCCD      = "ccd"      // one ZTF CCD (4 readout quadrants) or one LSST detector, within an exposure
	ByQuadrant = "quadrant" // one ZTF readout quadrant (rcid) or one LSST detector, within an exposure
)

// How a throttle chooses the alerts it keeps (RateConfig.Pick).
const (
	PickSNR  = "snr"  // highest signal-to-noise ratio (alert.Packet.SNR), ties by the lower id
	PickHash = "hash" // lowest splitmix64 hash of the id: a fixed pseudo-random sample
)

// Defaults of RateConfig and SpatialConfig.
const (
	DefaultHistory = 10
	DefaultSpan    = 30 * time.Minute
	DefaultK       = 5
	DefaultRadius  = 10.0  // arcsec
	DefaultLine    = 8     // candidates
	DefaultWidth   = 1.0   // arcsec
	DefaultGap     = 120.0 // arcsec
)

// minHistory is how many earlier exposures a relative threshold needs
// before it judges anything (fewer when History is smaller).
const minHistory = 3

// RateConfig configures the rate check: count the alerts of every group
// (an exposure, or a CCD or readout quadrant of one) and act on groups
// with more than a threshold.
type RateConfig struct {
	// Exactly one threshold: Limit, an absolute count, or Factor, a
	// multiple of the median count of the same kind of group in the
	// History most recent earlier exposures (no further back than Span).
	// A group is over the rate when its count is above the threshold.
	Limit  int
	Factor float64
	// Min: a group of Min alerts or fewer is never over the rate, whatever
	// the median (a floor for relative thresholds on sparse groups).
	Min    int
	By     string // ByExposure (default), ByCCD or ByQuadrant
	Action string // ActionReject (default), ActionThrottle or ActionFlag
	// Throttle is how many alerts a throttled group keeps, chosen by Pick
	// (PickSNR by default); the choice depends only on the group's
	// alerts, never on their arrival order.
	Throttle int
	Pick     string
	History  int           // default DefaultHistory exposures
	Span     time.Duration // default DefaultSpan
}

// SpatialConfig configures the spatial-correlation check, which looks for
// groups of candidates that are close together, or on a line, within one
// exposure.
type SpatialConfig struct {
	// K: a clump of more than K candidates, each within Radius arcsec of
	// another member (friends-of-friends), is flagged. Default DefaultK,
	// DefaultRadius.
	K      int
	Radius float64
	// Line: a line of more than Line candidates is flagged: each within
	// Width arcsec of one great circle (a straight line on the tangent
	// plane), neighbours along it no more than Gap arcsec apart. Default
	// DefaultLine, DefaultWidth, DefaultGap; a negative Line turns line
	// finding off (clumps are still classified as lines when they are
	// straight).
	Line  int
	Width float64
	Gap   float64
	// Action is ActionReject (default) or ActionFlag.
	Action string
}

func (c RateConfig) withDefaults() RateConfig {
	c.By = cmp.Or(c.By, ByExposure)
	c.Action = cmp.Or(c.Action, ActionReject)
	c.Pick = cmp.Or(c.Pick, PickSNR)
	c.History = cmp.Or(c.History, DefaultHistory)
	c.Span = cmp.Or(c.Span, DefaultSpan)
	return c
}

// Validate reports the first problem with c, after defaults.
func (c RateConfig) Validate() error {
	c = c.withDefaults()
	switch {
	case c.Limit < 0 || c.Factor < 0 || math.IsNaN(c.Factor) || math.IsInf(c.Factor, 0):
		return errors.New("qa: rate: a threshold must be a positive count or factor")
	case (c.Limit > 0) == (c.Factor > 0):
		return errors.New("qa: rate: give exactly one threshold: a count (rate=5000) or a multiple of the running median (rate=3x)")
	case c.Min < 0 || c.Throttle < 0 || c.History < 0 || c.Span < 0:
		return errors.New("qa: rate: negative min, throttle, history or span")
	}
	switch c.By {
	case ByExposure, ByCCD, ByQuadrant:
	default:
		return fmt.Errorf("qa: rate: by=%s: want exposure, ccd or quadrant", c.By)
	}
	switch c.Action {
	case ActionReject, ActionFlag:
		if c.Throttle != 0 {
			return fmt.Errorf("qa: rate: throttle=%d with action %s", c.Throttle, c.Action)
		}
	case ActionThrottle:
		if c.Throttle <= 0 {
			return errors.New("qa: rate: throttle needs how many alerts to keep, e.g. throttle=100")
		}
	default:
		return fmt.Errorf("qa: rate: unknown action %q (want reject, throttle or flag)", c.Action)
	}
	switch c.Pick {
	case PickSNR, PickHash:
	default:
		return fmt.Errorf("qa: rate: pick=%s: want snr or hash", c.Pick)
	}
	return nil
}

// relative reports whether the threshold needs the running median.
func (c RateConfig) relative() bool { return c.Factor > 0 }

func (c SpatialConfig) withDefaults() SpatialConfig {
	c.K = cmp.Or(c.K, DefaultK)
	c.Radius = cmp.Or(c.Radius, DefaultRadius)
	c.Line = cmp.Or(c.Line, DefaultLine)
	c.Width = cmp.Or(c.Width, DefaultWidth)
	c.Gap = cmp.Or(c.Gap, DefaultGap)
	c.Action = cmp.Or(c.Action, ActionReject)
	return c
}

// lines reports whether line finding is on.
func (c SpatialConfig) lines() bool { return c.Line > 0 }

// Validate reports the first problem with c, after defaults.
func (c SpatialConfig) Validate() error {
	c = c.withDefaults()
	for _, v := range []float64{c.Radius, c.Width, c.Gap} {
		if !(v > 0) || math.IsInf(v, 0) {
			return errors.New("qa: spatial: r, width and gap must be positive numbers of arcseconds")
		}
	}
	if c.K < 1 {
		return fmt.Errorf("qa: spatial: k=%d: a clump needs more than k >= 1 candidates", c.K)
	}
	if c.Radius > 3600 || c.Gap > 3600 || c.Width > 60 {
		return errors.New("qa: spatial: r and gap are at most 3600 arcsec, width at most 60: the check looks at one exposure")
	}
	if c.lines() && c.Line < 2 {
		return fmt.Errorf("qa: spatial: line=%d: a line needs more than line >= 2 candidates", c.Line)
	}
	switch c.Action {
	case ActionReject, ActionFlag:
	case ActionThrottle:
		return errors.New("qa: spatial: throttle is a rate action; spatial groups are rejected or flagged")
	default:
		return fmt.Errorf("qa: spatial: unknown action %q (want reject or flag)", c.Action)
	}
	return nil
}

// ParseSpec parses the --qa flag: comma-separated checks, each a name
// and colon-separated options (see the package documentation), e.g.
//
//	rate=3x
//	rate=5000:throttle=100,spatial=k=5:r=20
//	spatial
//
// A check left out is off (nil); an empty spec turns QA off. Defaults are
// left as zero values, which Apply fills in.
func ParseSpec(spec string) (*RateConfig, *SpatialConfig, error) {
	var rate *RateConfig
	var spatial *SpatialConfig
	spec = strings.TrimSpace(spec)
	if spec == "" {
		return nil, nil, nil
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		name, opts, _ := strings.Cut(part, "=")
		var items []string
		if opts != "" {
			items = strings.Split(opts, ":")
		} else if strings.Contains(part, "=") {
			return nil, nil, fmt.Errorf("qa: %q: options missing after '='", part)
		}
		var err error
		switch name {
		case "rate":
			err = parseOnce(&rate, name, items, parseRate)
		case "spatial":
			err = parseOnce(&spatial, name, items, parseSpatial)
		case "":
			err = fmt.Errorf("qa: empty check in %q (checks are separated by ',')", spec)
		default:
			err = fmt.Errorf("qa: unknown check %q in %q (want rate=... or spatial=...)", name, spec)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return rate, spatial, nil
}

// parseOnce parses a check's options into *dst, which must not be set yet.
func parseOnce[T any](dst **T, name string, items []string, parse func([]string) (T, error)) error {
	if *dst != nil {
		return fmt.Errorf("qa: %s given twice", name)
	}
	c, err := parse(items)
	if err != nil {
		return err
	}
	*dst = &c
	return nil
}

const rateOptions = "a threshold N or Fx, reject, flag, throttle=K, by=exposure|ccd|quadrant, min=N, pick=snr|hash, history=N, span=DURATION"

func parseRate(items []string) (RateConfig, error) {
	var c RateConfig
	seen := map[string]bool{}
	for _, it := range items {
		key, val, hasVal := strings.Cut(it, "=")
		if !hasVal {
			switch key {
			case ActionReject, ActionFlag:
				key, val = "action", key
			case "":
				return c, fmt.Errorf("qa: rate: empty option (options are separated by ':'; want %s)", rateOptions)
			default:
				key, val = "threshold", key
			}
		}
		if seen[key] && key != "action" {
			return c, fmt.Errorf("qa: rate: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "threshold":
			err = parseThreshold(val, &c)
		case "action":
			if c.Action != "" {
				return c, fmt.Errorf("qa: rate: two actions, %s and %s", c.Action, val)
			}
			c.Action = val
		case ActionThrottle:
			if c.Action != "" {
				return c, fmt.Errorf("qa: rate: two actions, %s and throttle", c.Action)
			}
			c.Action = ActionThrottle
			c.Throttle, err = positiveInt(val)
		case "by":
			c.By = val
		case "min":
			c.Min, err = nonNegativeInt(val)
		case "pick":
			c.Pick = val
		case "history":
			c.History, err = positiveInt(val)
		case "span":
			c.Span, err = time.ParseDuration(val)
			if err == nil && c.Span <= 0 {
				err = errors.New("must be positive")
			}
		default:
			return c, fmt.Errorf("qa: rate: unknown option %q (want %s)", it, rateOptions)
		}
		if err != nil {
			return c, fmt.Errorf("qa: rate: %s: %w", it, err)
		}
	}
	if c.Limit == 0 && c.Factor == 0 {
		return c, errors.New("qa: rate needs a threshold: a count (rate=5000) or a multiple of the running median (rate=3x)")
	}
	if c.Action == ActionThrottle && c.Pick == "" {
		c.Pick = PickSNR
	}
	if c.Pick != "" && c.Action != ActionThrottle {
		return c, errors.New("qa: rate: pick= chooses what a throttle keeps; add throttle=K")
	}
	return c, c.Validate()
}

func parseThreshold(val string, c *RateConfig) error {
	if f, ok := strings.CutSuffix(val, "x"); ok {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			return errors.New("want a positive multiple of the running median, e.g. 3x")
		}
		c.Factor = v
		return nil
	}
	v, err := strconv.Atoi(val)
	if err != nil {
		return fmt.Errorf("unknown option or threshold (want %s)", rateOptions)
	}
	if v <= 0 {
		return errors.New("want a positive count, e.g. 5000")
	}
	c.Limit = v
	return nil
}

const spatialOptions = "k=N, r=ARCSEC, line=N|off, width=ARCSEC, gap=ARCSEC, reject, flag"

func parseSpatial(items []string) (SpatialConfig, error) {
	var c SpatialConfig
	seen := map[string]bool{}
	for _, it := range items {
		key, val, hasVal := strings.Cut(it, "=")
		if !hasVal {
			switch key {
			case ActionReject, ActionFlag:
				if c.Action != "" {
					return c, fmt.Errorf("qa: spatial: two actions, %s and %s", c.Action, key)
				}
				c.Action = key
				continue
			case ActionThrottle:
				return c, errors.New("qa: spatial: throttle is a rate action; spatial groups are rejected or flagged")
			case "":
				return c, fmt.Errorf("qa: spatial: empty option (options are separated by ':'; want %s)", spatialOptions)
			}
			return c, fmt.Errorf("qa: spatial: unknown option %q (want %s)", it, spatialOptions)
		}
		if seen[key] {
			return c, fmt.Errorf("qa: spatial: %s given twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "k":
			c.K, err = positiveInt(val)
		case "r":
			c.Radius, err = arcsec(val)
		case "line":
			if val == "off" {
				c.Line = -1
			} else if c.Line, err = positiveInt(val); err == nil && c.Line < 2 {
				err = errors.New("want 2 or more (a line is more than that many candidates), or off")
			}
		case "width":
			c.Width, err = arcsec(val)
		case "gap":
			c.Gap, err = arcsec(val)
		default:
			return c, fmt.Errorf("qa: spatial: unknown option %q (want %s)", it, spatialOptions)
		}
		if err != nil {
			return c, fmt.Errorf("qa: spatial: %s: %w", it, err)
		}
	}
	return c, c.Validate()
}

func positiveInt(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		return 0, errors.New("want a positive integer")
	}
	return v, nil
}

func nonNegativeInt(s string) (int, error) {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, errors.New("want a non-negative integer")
	}
	return v, nil
}

func arcsec(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "arcsec"), 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return 0, errors.New("want a positive number of arcseconds")
	}
	return v, nil
}
