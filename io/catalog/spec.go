package catalog

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Spec names a catalog file and how to read it. Its text form, which is
// what a pipeline's DoFns carry to workers, is
//
//	NAME=PATH[,ra=COL][,dec=COL][,id=COL][,unit=deg|rad][,cols=A+B+...][,near=ARCSEC]
//
// for example "hip=/data/hip2.csv,id=HIP,cols=Hpmag+BV". PATH is a CSV
// file with a header row or a FITS file with a binary table (told apart by
// content, not by name); it may not contain a comma.
//
//   - ra, dec: the position columns, in degrees (ICRS). By default the
//     first column named, ignoring case, ra, radeg, ra_deg, raj2000,
//     ra_icrs (dec, de, decdeg, dedeg, dec_deg, dej2000, decj2000,
//     de_icrs, dec_icrs).
//   - id: the identifier column (default: one named id, ignoring case;
//     without one, the entry's 1-based row number in the file).
//   - unit: rad when the positions are in radians (a FITS column whose
//     TUNIT is "rad" is read as radians without it).
//   - cols: the numeric columns to keep, '+'-separated (default: every
//     column, besides ra, dec and id, whose first value is a number or
//     empty). Each kept column costs 8 bytes per entry.
//   - near: how far, in arcsec, expressions look for the nearest
//     counterpart (filter's xmatch.NAME; default 60).
type Spec struct {
	Name    string
	Path    string
	RA, Dec string // "" for the defaults
	ID      string // "" for the default
	Radians bool
	Cols    []string // nil: every numeric column
	Near    float64  // arcsec; 0 means DefaultNear
}

// DefaultNear is how far, in arcsec, the nearest counterpart is looked for
// when a Spec does not say.
const DefaultNear = 60

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// ParseSpec reads a spec's text form (see Spec).
func ParseSpec(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	name, rest, ok := strings.Cut(s, "=")
	if !ok {
		return Spec{}, fmt.Errorf("catalog: spec %q is not NAME=PATH[,ra=COL,dec=COL,id=COL,...]", s)
	}
	sp := Spec{Name: strings.TrimSpace(name)}
	if !nameRE.MatchString(sp.Name) {
		return Spec{}, fmt.Errorf("catalog: spec %q: name %q must be a letter or '_' then letters, digits, '_' (it is read in expressions as xmatch.NAME)", s, sp.Name)
	}
	parts := strings.Split(rest, ",")
	sp.Path = strings.TrimSpace(parts[0])
	if sp.Path == "" {
		return Spec{}, fmt.Errorf("catalog: spec %q has no path", s)
	}
	seen := map[string]bool{}
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || v == "" {
			return Spec{}, fmt.Errorf("catalog: spec %q: %q is not key=value", s, kv)
		}
		if seen[k] {
			return Spec{}, fmt.Errorf("catalog: spec %q: %s given twice", s, k)
		}
		seen[k] = true
		switch k {
		case "ra":
			sp.RA = v
		case "dec":
			sp.Dec = v
		case "id":
			sp.ID = v
		case "unit":
			switch v {
			case "deg":
			case "rad":
				sp.Radians = true
			default:
				return Spec{}, fmt.Errorf("catalog: spec %q: unit=%s (want deg or rad)", s, v)
			}
		case "cols":
			sp.Cols = strings.Split(v, "+")
		case "near":
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || !(r > 0) || math.IsInf(r, 0) {
				return Spec{}, fmt.Errorf("catalog: spec %q: near=%s is not a positive number of arcsec", s, v)
			}
			sp.Near = r
		default:
			return Spec{}, fmt.Errorf("catalog: spec %q: unknown option %q (options: ra, dec, id, unit, cols, near)", s, k)
		}
	}
	return sp, nil
}

// NearRadius is Near, or DefaultNear when unset.
func (s Spec) NearRadius() float64 {
	if s.Near > 0 {
		return s.Near
	}
	return DefaultNear
}

// String is the spec's text form; ParseSpec reads it back.
func (s Spec) String() string {
	var b strings.Builder
	b.WriteString(s.Name + "=" + s.Path)
	for _, kv := range [][2]string{{"ra", s.RA}, {"dec", s.Dec}, {"id", s.ID}} {
		if kv[1] != "" {
			b.WriteString("," + kv[0] + "=" + kv[1])
		}
	}
	if s.Radians {
		b.WriteString(",unit=rad")
	}
	if s.Cols != nil {
		b.WriteString(",cols=" + strings.Join(s.Cols, "+"))
	}
	if s.Near > 0 {
		b.WriteString(",near=" + strconv.FormatFloat(s.Near, 'g', -1, 64))
	}
	return b.String()
}

var (
	raNames  = []string{"ra", "radeg", "ra_deg", "raj2000", "ra_icrs"}
	decNames = []string{"dec", "de", "decdeg", "dedeg", "dec_deg", "dej2000", "decj2000", "de_icrs", "dec_icrs"}
)

// columns resolves the spec's position and id columns among a file's
// column names: indexes into names (id -1 when there is none). A missing
// column is an error naming the columns found.
func (s Spec) columns(file string, names []string) (ra, dec, id int, err error) {
	find := func(what, want string, defaults []string) (int, error) {
		if want != "" {
			for i, n := range names {
				if n == want {
					return i, nil
				}
			}
			for i, n := range names {
				if strings.EqualFold(n, want) {
					return i, nil
				}
			}
			return -1, fmt.Errorf("catalog %s: %s has no %s column %q (columns: %s)", s.Name, file, what, want, strings.Join(names, ", "))
		}
		for _, d := range defaults {
			for i, n := range names {
				if strings.EqualFold(strings.TrimSpace(n), d) {
					return i, nil
				}
			}
		}
		if defaults == nil {
			return -1, nil
		}
		return -1, fmt.Errorf("catalog %s: %s has no %s column (looked for %s; columns: %s); name it with %s=COL",
			s.Name, file, what, strings.Join(defaults, ", "), strings.Join(names, ", "), what)
	}
	if ra, err = find("ra", s.RA, raNames); err != nil {
		return
	}
	if dec, err = find("dec", s.Dec, decNames); err != nil {
		return
	}
	if s.ID != "" {
		id, err = find("id", s.ID, nil)
	} else {
		id, err = find("id", "", []string{"id"})
		if err != nil {
			id, err = -1, nil
		}
	}
	return
}
