package fits

import (
	"errors"
	"math"
	"testing"
)

// A table written by EncodeTable reads back column by column, with more
// rows than an image axis may have.
func TestTableRoundTrip(t *testing.T) {
	const n = MaxAxis + 3
	ids, ra := make([]int64, n), make([]float64, n)
	names := make([]string, n)
	for i := range n {
		ids[i], ra[i], names[i] = int64(i)*1e10, float64(i)/n*360, []string{"a", "HIP 1", ""}[i%3]
	}
	b, err := EncodeTable([]TableColumn{{Name: "id", Int64: ids}, {Name: "ra", Unit: "deg", Float64: ra}, {Name: "name", Strings: names}})
	if err != nil {
		t.Fatal(err)
	}
	if len(b)%BlockSize != 0 {
		t.Errorf("%d bytes, not whole blocks", len(b))
	}
	tb, err := DecodeTable(b)
	if err != nil {
		t.Fatal(err)
	}
	if tb.Rows != n || len(tb.Columns) != 3 || tb.Columns[1].Unit != "deg" || tb.Columns[2].Format != "5A" {
		t.Fatalf("%d rows, columns %+v", tb.Rows, tb.Columns)
	}
	if i, ok := tb.Column("RA"); !ok || i != 1 {
		t.Errorf("Column(RA) = %d, %v", i, ok)
	}
	for _, i := range []int{0, 1, 2, n / 2, n - 1} {
		id, ok := tb.Int(i, 0)
		r, err := tb.Float(i, 1)
		s, _ := tb.String(i, 2)
		if !ok || id != ids[i] || err != nil || r != ra[i] || s != names[i] {
			t.Errorf("row %d: %v %v %v %v %q", i, id, ok, r, err, s)
		}
	}
	if _, err := tb.Float(0, 2); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Float of a string column: %v", err)
	}
	if _, err := DecodeTable(b[:len(b)-BlockSize]); !errors.Is(err, ErrTruncated) {
		t.Errorf("truncated table: %v", err)
	}
	img, _ := Encode(Image{Width: 1, Height: 1, Pix: []float32{1}})
	if _, err := DecodeTable(img); !errors.Is(err, ErrUnsupported) {
		t.Errorf("image only: %v", err)
	}
}

// TNULL reads as NaN; TSCAL/TZERO scale stored integers.
func TestTableScaling(t *testing.T) {
	b, err := EncodeTable([]TableColumn{{Name: "x", Int64: []int64{5, -1}}})
	if err != nil {
		t.Fatal(err)
	}
	tb, err := DecodeTable(b)
	if err != nil {
		t.Fatal(err)
	}
	c := &tb.Columns[0]
	c.Scale, c.Zero, c.Null, c.HasNull = 0.5, 10, -1, true
	if v, _ := tb.Float(0, 0); v != 12.5 {
		t.Errorf("scaled = %v, want 12.5", v)
	}
	if v, _ := tb.Float(1, 0); !math.IsNaN(v) {
		t.Errorf("TNULL = %v, want NaN", v)
	}
}
