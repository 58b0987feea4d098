package fits

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Binary tables (FITS 4.0 §7.3, XTENSION = 'BINTABLE') hold catalogs: one
// row per source, one column per quantity. DecodeTable reads the first one
// in a file and gives typed access to its scalar columns; EncodeTable writes
// one, for tests and small catalogs. Variable-length arrays (P, Q) and
// complex columns are described but not read.

// Column describes one column of a binary table.
type Column struct {
	Name   string // TTYPEn; "" when the file names none
	Format string // TFORMn as written, e.g. "1D", "20A"
	Unit   string // TUNITn
	// Type is the TFORM data type letter: L logical, X bit, B uint8,
	// I int16, J int32, K int64, A characters, E float32, D float64,
	// C and M complex, P and Q array descriptors.
	Type   byte
	Repeat int // elements per row (characters, for A)
	Offset int // byte offset within a row
	// Scale and Zero (TSCALn, TZEROn) map stored integers to values:
	// value = Zero + Scale × stored.
	Scale, Zero float64
	// Null is TNULLn, the stored integer that means "no value", when
	// HasNull.
	Null    int64
	HasNull bool
}

// Numeric reports whether Float reads the column: one element of type B,
// I, J, K, E or D.
func (c Column) Numeric() bool {
	return c.Repeat == 1 && strings.IndexByte("BIJKED", c.Type) >= 0
}

// Table is a decoded binary table. Its rows are the file's bytes, read on
// demand.
type Table struct {
	Columns []Column
	Rows    int
	// Header holds the extension's non-structural cards (TTYPEn, TFORMn,
	// ... included).
	Header []Card
	rowLen int
	data   []byte
}

// Column returns the index of the column named name: an exact match, or
// else the first that matches ignoring case, as FITS column names are
// case-insensitive.
func (t *Table) Column(name string) (int, bool) {
	for i, c := range t.Columns {
		if c.Name == name {
			return i, true
		}
	}
	for i, c := range t.Columns {
		if strings.EqualFold(c.Name, name) {
			return i, true
		}
	}
	return -1, false
}

// Names lists the columns' names in order.
func (t *Table) Names() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Float reads a numeric column's value in a row, scaled; a TNULL integer
// and an IEEE NaN read as NaN. It panics if row or col is out of range;
// a column that is not Numeric is an error.
func (t *Table) Float(row, col int) (float64, error) {
	c := &t.Columns[col]
	if !c.Numeric() {
		return 0, fmt.Errorf("%w: column %q (TFORM %s) is not a numeric scalar", ErrUnsupported, c.Name, c.Format)
	}
	p := t.data[row*t.rowLen+c.Offset:]
	if iv, isInt := rawInt(c.Type, p); isInt {
		if c.HasNull && iv == c.Null {
			return math.NaN(), nil
		}
		return c.Zero + c.Scale*float64(iv), nil
	}
	var f float64
	if c.Type == 'E' {
		f = float64(math.Float32frombits(binary.BigEndian.Uint32(p)))
	} else {
		f = math.Float64frombits(binary.BigEndian.Uint64(p))
	}
	return c.Zero + c.Scale*f, nil
}

// Int reads an integer column (B, I, J, K, one element, unscaled) exactly,
// as an identifier should be read: ok is false for any other column and
// for a TNULL value.
func (t *Table) Int(row, col int) (int64, bool) {
	c := &t.Columns[col]
	if c.Repeat != 1 || c.Scale != 1 {
		return 0, false
	}
	iv, ok := rawInt(c.Type, t.data[row*t.rowLen+c.Offset:])
	if !ok || (c.HasNull && iv == c.Null) {
		return 0, false
	}
	// TZERO offsets an unsigned integer (2^15, 2^31, 2^63): only whole
	// offsets keep the value an integer.
	if c.Zero != 0 {
		if c.Zero != math.Trunc(c.Zero) || math.Abs(c.Zero) > 1<<62 {
			return 0, false
		}
		iv += int64(c.Zero)
	}
	return iv, true
}

// rawInt decodes the big-endian integer of TFORM type typ (B, I, J, K) at
// the start of p, unscaled; ok is false for any other type.
func rawInt(typ byte, p []byte) (v int64, ok bool) {
	switch typ {
	case 'B':
		return int64(p[0]), true
	case 'I':
		return int64(int16(binary.BigEndian.Uint16(p))), true
	case 'J':
		return int64(int32(binary.BigEndian.Uint32(p))), true
	case 'K':
		return int64(binary.BigEndian.Uint64(p)), true
	}
	return 0, false
}

// String reads a character column (A) with trailing blanks and NULs
// removed; any other scalar column is formatted as its value.
func (t *Table) String(row, col int) (string, error) {
	c := &t.Columns[col]
	if c.Type == 'A' {
		p := t.data[row*t.rowLen+c.Offset : row*t.rowLen+c.Offset+c.Repeat]
		if i := strings.IndexByte(string(p), 0); i >= 0 {
			p = p[:i]
		}
		return strings.TrimRight(string(p), " "), nil
	}
	if iv, ok := t.Int(row, col); ok {
		return strconv.FormatInt(iv, 10), nil
	}
	f, err := t.Float(row, col)
	if err != nil {
		return "", err
	}
	return strconv.FormatFloat(f, 'g', -1, 64), nil
}

// DecodeTable reads the first binary-table extension of a FITS file.
func DecodeTable(b []byte) (*Table, error) {
	if len(b) < CardSize || string(b[:8]) != "SIMPLE  " {
		return nil, ErrNotFITS
	}
	off, primary := 0, true
	for off < len(b) {
		h, next, err := parseHeader(b, off, primary)
		if err != nil {
			return nil, err
		}
		dataLen, err := h.dataLen(len(b) - next)
		if err != nil {
			return nil, err
		}
		if !primary && h.xtension == "BINTABLE" {
			return h.table(b[next : next+dataLen])
		}
		off, primary = next+blocks(dataLen), false
	}
	return nil, fmt.Errorf("%w: no BINTABLE extension", ErrUnsupported)
}

// table reads the column descriptions of a BINTABLE header.
func (h *hdu) table(data []byte) (*Table, error) {
	if h.naxis != 2 || h.bitpix != 8 || h.gcount != 1 {
		return nil, fmt.Errorf("%w: BINTABLE with BITPIX=%d NAXIS=%d GCOUNT=%d (want 8, 2, 1)", ErrBadHeader, h.bitpix, h.naxis, h.gcount)
	}
	t := &Table{Header: h.cards, rowLen: int(h.axes[0]), Rows: int(h.axes[1]), data: data}
	get := func(key string) (Card, bool) {
		for _, c := range h.cards {
			if c.Key == key {
				return c, true
			}
		}
		return Card{}, false
	}
	tf, ok := get("TFIELDS")
	n, isInt := tf.Value.(int64)
	if !ok || !isInt || n < 0 || n > 999 {
		return nil, fmt.Errorf("%w: BINTABLE without a valid TFIELDS", ErrBadHeader)
	}
	off := 0
	for i := 1; i <= int(n); i++ {
		k := strconv.Itoa(i)
		form, ok := get("TFORM" + k)
		fs, isStr := form.Value.(string)
		if !ok || !isStr {
			return nil, fmt.Errorf("%w: no TFORM%d", ErrBadHeader, i)
		}
		c := Column{Format: strings.TrimSpace(fs), Offset: off, Scale: 1}
		if err := c.parseForm(); err != nil {
			return nil, fmt.Errorf("%w: TFORM%d = %q: %v", ErrBadHeader, i, fs, err)
		}
		if v, ok := get("TTYPE" + k); ok {
			c.Name, _ = v.Value.(string)
			c.Name = strings.TrimSpace(c.Name)
		}
		if v, ok := get("TUNIT" + k); ok {
			c.Unit, _ = v.Value.(string)
			c.Unit = strings.TrimSpace(c.Unit)
		}
		if v, ok := get("TSCAL" + k); ok {
			if c.Scale, ok = number(v.Value); !ok {
				return nil, fmt.Errorf("%w: TSCAL%d = %v", ErrBadHeader, i, v.Value)
			}
		}
		if v, ok := get("TZERO" + k); ok {
			if c.Zero, ok = number(v.Value); !ok {
				return nil, fmt.Errorf("%w: TZERO%d = %v", ErrBadHeader, i, v.Value)
			}
		}
		if v, ok := get("TNULL" + k); ok {
			if c.Null, c.HasNull = v.Value.(int64); !c.HasNull {
				return nil, fmt.Errorf("%w: TNULL%d = %v", ErrBadHeader, i, v.Value)
			}
		}
		off += c.size()
		if off > t.rowLen {
			return nil, fmt.Errorf("%w: columns need %d bytes, NAXIS1 = %d", ErrBadHeader, off, t.rowLen)
		}
		t.Columns = append(t.Columns, c)
	}
	if len(data) < t.rowLen*t.Rows {
		return nil, fmt.Errorf("%w: %d data bytes, want %d", ErrTruncated, len(data), t.rowLen*t.Rows)
	}
	return t, nil
}

// parseForm reads "rTa": an optional repeat count, the type letter, and
// anything after it (ignored).
func (c *Column) parseForm() error {
	i := 0
	for i < len(c.Format) && c.Format[i] >= '0' && c.Format[i] <= '9' {
		i++
	}
	c.Repeat = 1
	if i > 0 {
		r, err := strconv.Atoi(c.Format[:i])
		if err != nil || r > MaxAxis*MaxAxis {
			return fmt.Errorf("bad repeat count")
		}
		c.Repeat = r
	}
	if i >= len(c.Format) || strings.IndexByte("LXBIJKAEDCMPQ", c.Format[i]) < 0 {
		return fmt.Errorf("unknown data type")
	}
	c.Type = c.Format[i]
	return nil
}

// size is the column's width in a row, in bytes.
func (c Column) size() int {
	switch c.Type {
	case 'X':
		return (c.Repeat + 7) / 8
	case 'L', 'B', 'A':
		return c.Repeat
	case 'I':
		return 2 * c.Repeat
	case 'J', 'E':
		return 4 * c.Repeat
	case 'K', 'D', 'C', 'P':
		return 8 * c.Repeat
	}
	return 16 * c.Repeat // M, Q
}

// TableColumn is one column for EncodeTable: exactly one of Float64 (TFORM
// 1D), Int64 (1K) and Strings (nA, n the longest string) holds its values.
type TableColumn struct {
	Name, Unit string
	Float64    []float64
	Int64      []int64
	Strings    []string
}

// EncodeTable writes a FITS file holding an empty primary HDU and one
// binary table with the given columns, which must have equal lengths.
func EncodeTable(cols []TableColumn) ([]byte, error) {
	rows := -1
	forms := make([]Column, len(cols))
	rowLen := 0
	for i, c := range cols {
		n, kinds := 0, 0
		f := Column{Repeat: 1, Offset: rowLen}
		if c.Float64 != nil {
			n, kinds, f.Type = len(c.Float64), kinds+1, 'D'
		}
		if c.Int64 != nil {
			n, kinds, f.Type = len(c.Int64), kinds+1, 'K'
		}
		if c.Strings != nil {
			n, kinds, f.Type = len(c.Strings), kinds+1, 'A'
			for _, s := range c.Strings {
				f.Repeat = max(f.Repeat, len(s))
			}
		}
		if kinds != 1 {
			return nil, fmt.Errorf("%w: column %q needs exactly one of Float64, Int64, Strings", ErrBadImage, c.Name)
		}
		if rows >= 0 && n != rows {
			return nil, fmt.Errorf("%w: column %q has %d rows, the first %d", ErrBadImage, c.Name, n, rows)
		}
		rows = n
		f.Format = strconv.Itoa(f.Repeat) + string(f.Type)
		forms[i] = f
		rowLen += f.size()
	}
	rows = max(rows, 0)
	out := appendCard(nil, "SIMPLE", "T", "conforms to FITS standard")
	out = appendCard(out, "BITPIX", "8", "")
	out = appendCard(out, "NAXIS", "0", "")
	out = appendCard(out, "EXTEND", "T", "")
	out = append(out, "END"...)
	out = padTo(out, 0, ' ')
	start := len(out)
	out = appendCard(out, "XTENSION", "'BINTABLE'", "binary table extension")
	out = appendCard(out, "BITPIX", "8", "")
	out = appendCard(out, "NAXIS", "2", "")
	out = appendCard(out, "NAXIS1", strconv.Itoa(rowLen), "bytes per row")
	out = appendCard(out, "NAXIS2", strconv.Itoa(rows), "rows")
	out = appendCard(out, "PCOUNT", "0", "")
	out = appendCard(out, "GCOUNT", "1", "")
	out = appendCard(out, "TFIELDS", strconv.Itoa(len(cols)), "")
	var err error
	for i, c := range cols {
		k := strconv.Itoa(i + 1)
		cards := []Card{{Key: "TTYPE" + k, Value: c.Name}, {Key: "TFORM" + k, Value: forms[i].Format}}
		if c.Unit != "" {
			cards = append(cards, Card{Key: "TUNIT" + k, Value: c.Unit})
		}
		for _, cd := range cards {
			if out, err = cd.appendTo(out); err != nil {
				return nil, fmt.Errorf("column %d: %w", i+1, err)
			}
		}
	}
	out = append(out, "END"...)
	out = padTo(out, start, ' ')
	start = len(out)
	row := make([]byte, rowLen)
	for r := range rows {
		for i, c := range cols {
			p := row[forms[i].Offset:]
			switch forms[i].Type {
			case 'D':
				binary.BigEndian.PutUint64(p, math.Float64bits(c.Float64[r]))
			case 'K':
				binary.BigEndian.PutUint64(p, uint64(c.Int64[r]))
			case 'A':
				n := copy(p[:forms[i].Repeat], c.Strings[r])
				for j := n; j < forms[i].Repeat; j++ {
					p[j] = ' '
				}
			}
		}
		out = append(out, row...)
	}
	return padTo(out, start, 0), nil
}
