package catalog

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/alertbeam/alertbeam/io/fits"
)

// Load reads the catalog a spec names and indexes it. A CSV file needs a
// header row; lines starting with '#' are comments. A value that does not
// parse is an error naming the file, the line and the column; a column
// the spec names that the file lacks is an error listing the columns it
// has. A FITS file is read from its first binary-table extension.
func Load(spec Spec) (*Catalog, error) {
	f, err := os.Open(spec.Path)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %w", spec.Name, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	head, _ := br.Peek(8)
	if isFITS(head) {
		b, err := io.ReadAll(br)
		if err != nil {
			return nil, fmt.Errorf("catalog %s: %s: %w", spec.Name, spec.Path, err)
		}
		return loadFITS(spec, b)
	}
	return loadCSV(spec, br)
}

func loadCSV(spec Spec, in io.Reader) (*Catalog, error) {
	file := spec.Path
	r := csv.NewReader(in)
	r.Comment = '#'
	r.ReuseRecord = true
	lineErr := func(line int, format string, args ...any) error {
		return fmt.Errorf("catalog %s: %s:%d: %s", spec.Name, file, line, fmt.Sprintf(format, args...))
	}
	header, err := r.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("catalog %s: %s is empty (want a CSV header row, or FITS)", spec.Name, file)
	}
	if err != nil {
		return nil, csvErr(spec, err)
	}
	header = slices.Clone(header)
	for i := range header {
		header[i] = strings.TrimSpace(header[i])
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	raCol, decCol, idCol, err := spec.columns(file, header)
	if err != nil {
		return nil, err
	}
	var (
		b    *builder
		keep []int // column indexes of the kept numeric columns
		vals []float64
	)
	for row := 1; ; row++ {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvErr(spec, err)
		}
		line, _ := r.FieldPos(0)
		if b == nil {
			if keep, err = csvColumns(spec, file, header, rec, raCol, decCol, idCol); err != nil {
				return nil, err
			}
			names := make([]string, len(keep))
			for i, k := range keep {
				names[i] = header[k]
			}
			b = newBuilder(spec, names, idCol >= 0)
			vals = make([]float64, len(keep))
		}
		ra, err := strconv.ParseFloat(strings.TrimSpace(rec[raCol]), 64)
		if err != nil {
			return nil, lineErr(line, "%s %q is not a number", header[raCol], rec[raCol])
		}
		dec, err := strconv.ParseFloat(strings.TrimSpace(rec[decCol]), 64)
		if err != nil {
			return nil, lineErr(line, "%s %q is not a number", header[decCol], rec[decCol])
		}
		for i, k := range keep {
			v := strings.TrimSpace(rec[k])
			if v == "" {
				vals[i] = math.NaN()
				continue
			}
			if vals[i], err = strconv.ParseFloat(v, 64); err != nil {
				return nil, lineErr(line, "%s %q is not a number", header[k], rec[k])
			}
		}
		id := ""
		if idCol >= 0 {
			if id = strings.TrimSpace(rec[idCol]); id == "" {
				return nil, lineErr(line, "empty id (%s)", header[idCol])
			}
		}
		if err := b.add(ra, dec, id, row, vals); err != nil {
			return nil, lineErr(line, "%v", err)
		}
	}
	if b == nil {
		b = newBuilder(spec, nil, idCol >= 0)
	}
	return b.build(), nil
}

func csvErr(spec Spec, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("catalog %s: %s:%d: %v", spec.Name, spec.Path, pe.Line, pe.Err)
	}
	return fmt.Errorf("catalog %s: %s: %w", spec.Name, spec.Path, err)
}

// csvColumns chooses the numeric columns to keep: those the spec lists,
// or every column other than ra, dec and id whose first value is a number
// or empty.
func csvColumns(spec Spec, file string, header, first []string, ra, dec, id int) ([]int, error) {
	var keep []int
	if spec.Cols != nil {
		for _, name := range spec.Cols {
			i := slices.Index(header, name)
			if i < 0 {
				return nil, fmt.Errorf("catalog %s: %s has no column %q (columns: %s)", spec.Name, file, name, strings.Join(header, ", "))
			}
			keep = append(keep, i)
		}
		return keep, nil
	}
	for i, v := range first {
		if i == ra || i == dec || i == id {
			continue
		}
		if v = strings.TrimSpace(v); v == "" {
			keep = append(keep, i)
			continue
		}
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			keep = append(keep, i)
		}
	}
	return keep, nil
}

func loadFITS(spec Spec, b []byte) (*Catalog, error) {
	file := spec.Path
	t, err := fits.DecodeTable(b)
	if err != nil {
		return nil, fmt.Errorf("catalog %s: %s: %w", spec.Name, file, err)
	}
	names := t.Names()
	raCol, decCol, idCol, err := spec.columns(file, names)
	if err != nil {
		return nil, err
	}
	for _, c := range []int{raCol, decCol} {
		if !t.Columns[c].Numeric() {
			return nil, fmt.Errorf("catalog %s: %s: column %s (TFORM %s) is not a number", spec.Name, file, names[c], t.Columns[c].Format)
		}
	}
	// A position column in radians says so in TUNIT.
	if !spec.Radians && strings.HasPrefix(strings.ToLower(t.Columns[raCol].Unit), "rad") {
		spec.Radians = true
	}
	var keep []int
	if spec.Cols != nil {
		for _, name := range spec.Cols {
			i := slices.Index(names, name)
			if i < 0 {
				return nil, fmt.Errorf("catalog %s: %s has no column %q (columns: %s)", spec.Name, file, name, strings.Join(names, ", "))
			}
			if !t.Columns[i].Numeric() {
				return nil, fmt.Errorf("catalog %s: %s: column %s (TFORM %s) is not a number", spec.Name, file, name, t.Columns[i].Format)
			}
			keep = append(keep, i)
		}
	} else {
		for i, c := range t.Columns {
			if i != raCol && i != decCol && i != idCol && c.Numeric() {
				keep = append(keep, i)
			}
		}
	}
	kept := make([]string, len(keep))
	for i, k := range keep {
		kept[i] = names[k]
	}
	bd := newBuilder(spec, kept, idCol >= 0)
	vals := make([]float64, len(keep))
	for row := range t.Rows {
		ra, _ := t.Float(row, raCol)
		dec, _ := t.Float(row, decCol)
		for i, k := range keep {
			vals[i], _ = t.Float(row, k)
		}
		id := ""
		if idCol >= 0 {
			if id, err = t.String(row, idCol); err != nil || id == "" {
				return nil, fmt.Errorf("catalog %s: %s: row %d: no id in column %s", spec.Name, file, row+1, names[idCol])
			}
		}
		if err := bd.add(ra, dec, id, row+1, vals); err != nil {
			return nil, fmt.Errorf("catalog %s: %s: row %d: %v", spec.Name, file, row+1, err)
		}
	}
	return bd.build(), nil
}

// isFITS reports whether b starts like a FITS file.
func isFITS(b []byte) bool { return bytes.HasPrefix(b, []byte("SIMPLE  ")) }
