package fits

import (
	"encoding/binary"
	"fmt"
	"math"
)

// hdu is what the reader learned from one header.
type hdu struct {
	bitpix   int64
	naxis    int64
	axes     []int64
	xtension string
	pcount   int64
	gcount   int64
	bscale   float64
	bzero    float64
	cards    []Card
}

// dataLen is the data size in bytes without padding (FITS 4.0 eq. 2), or
// ErrTooLarge when it exceeds limit (the bytes left in the input), which
// also keeps the products from overflowing.
func (h *hdu) dataLen(limit int) (int, error) {
	if h.naxis == 0 || h.gcount == 0 {
		return 0, nil
	}
	lim := int64(limit)
	tooLarge := fmt.Errorf("%w: data larger than the %d bytes that follow the header", ErrTruncated, limit)
	n := int64(1)
	for _, a := range h.axes {
		if a == 0 {
			return 0, nil
		}
		if n > lim/a {
			return 0, tooLarge
		}
		n *= a
	}
	size := h.bitpix
	if size < 0 {
		size = -size
	}
	size /= 8
	n += h.pcount
	if n > lim/size || n*size > lim/h.gcount {
		return 0, tooLarge
	}
	return int(n * size * h.gcount), nil
}

// parseHeader reads the header starting at off and returns it with the
// offset of the data that follows.
func parseHeader(b []byte, off int, primary bool) (*hdu, int, error) {
	h := &hdu{gcount: 1, bscale: 1}
	seen := map[string]bool{}
	i := 0
	for ; ; i++ {
		if i >= MaxHeaderCards {
			return nil, 0, fmt.Errorf("%w: more than %d header cards", ErrTooLarge, MaxHeaderCards)
		}
		p := off + i*CardSize
		if p+CardSize > len(b) {
			return nil, 0, fmt.Errorf("%w: header has no END card", ErrTruncated)
		}
		raw := b[p : p+CardSize]
		if string(raw[:8]) == "END     " {
			break
		}
		c, err := parseCard(raw)
		if err != nil {
			return nil, 0, fmt.Errorf("card %d: %w", i+1, err)
		}
		if err := h.mandatory(i, c, primary); err != nil {
			return nil, 0, err
		}
		if c.Value != nil && isStructural(c.Key) {
			if seen[c.Key] {
				return nil, 0, fmt.Errorf("%w: duplicate %s", ErrBadHeader, c.Key)
			}
			seen[c.Key] = true
			if err := h.structural(c); err != nil {
				return nil, 0, err
			}
			continue
		}
		h.cards = append(h.cards, c)
	}
	first := "XTENSION"
	if primary {
		first = "SIMPLE"
	}
	for _, k := range []string{first, "BITPIX", "NAXIS"} {
		if !seen[k] {
			return nil, 0, fmt.Errorf("%w: no %s value", ErrBadHeader, k)
		}
	}
	if int64(len(h.axes)) != h.naxis {
		return nil, 0, fmt.Errorf("%w: NAXIS=%d but %d NAXISn cards", ErrBadHeader, h.naxis, len(h.axes))
	}
	end := off + (i+1)*CardSize
	return h, off + blocks(end-off), nil
}

// mandatory checks the order FITS prescribes for the first cards of an HDU.
func (h *hdu) mandatory(i int, c Card, primary bool) error {
	want := ""
	switch {
	case i == 0 && primary:
		want = "SIMPLE"
	case i == 0:
		want = "XTENSION"
	case i == 1:
		want = "BITPIX"
	case i == 2:
		want = "NAXIS"
	case int64(i) >= 3 && int64(i) < 3+h.naxis:
		want = fmt.Sprintf("NAXIS%d", i-2)
	default:
		return nil
	}
	if c.Key != want {
		if i == 0 && primary {
			return ErrNotFITS
		}
		return fmt.Errorf("%w: card %d is %q, want %s", ErrBadHeader, i+1, c.Key, want)
	}
	return nil
}

func (h *hdu) structural(c Card) error {
	bad := func() error {
		return fmt.Errorf("%w: %s = %v", ErrBadHeader, c.Key, c.Value)
	}
	iv, isInt := c.Value.(int64)
	switch c.Key {
	case "SIMPLE":
		if c.Value != true {
			return fmt.Errorf("%w: SIMPLE = %v", ErrNotFITS, c.Value)
		}
	case "XTENSION":
		s, ok := c.Value.(string)
		if !ok {
			return bad()
		}
		h.xtension = s
	case "BITPIX":
		if !isInt {
			return bad()
		}
		switch iv {
		case 8, 16, 32, 64, -32, -64:
		default:
			return bad()
		}
		h.bitpix = iv
	case "NAXIS":
		if !isInt || iv < 0 || iv > 999 {
			return bad()
		}
		h.naxis = iv
	case "EXTEND":
		if _, ok := c.Value.(bool); !ok {
			return bad()
		}
	case "PCOUNT", "GCOUNT":
		if !isInt || iv < 0 || iv > math.MaxInt32 {
			return bad()
		}
		if c.Key == "PCOUNT" {
			h.pcount = iv
		} else {
			h.gcount = iv
		}
	case "BSCALE", "BZERO":
		f, ok := number(c.Value)
		if !ok {
			return bad()
		}
		if c.Key == "BSCALE" {
			h.bscale = f
		} else {
			h.bzero = f
		}
	default: // NAXISn, BLANK, GROUPS
		if rest := c.Key[len("NAXIS"):]; len(c.Key) > 5 && c.Key[:5] == "NAXIS" && rest != "" {
			if !isInt || iv < 0 {
				return bad()
			}
			// A binary table's NAXIS2 counts rows, which run to millions;
			// dataLen still bounds it by the bytes that follow.
			if iv > MaxAxis && !(h.xtension == "BINTABLE" && c.Key == "NAXIS2") {
				return fmt.Errorf("%w: %s = %d", ErrTooLarge, c.Key, iv)
			}
			h.axes = append(h.axes, iv)
		}
	}
	return nil
}

func number(v any) (float64, bool) {
	switch t := v.(type) {
	case int64:
		return float64(t), true
	case float64:
		return t, true
	}
	return 0, false
}

func (h *hdu) image(data []byte) (Image, error) {
	if h.naxis != 2 {
		return Image{}, fmt.Errorf("%w: NAXIS = %d, want 2", ErrUnsupported, h.naxis)
	}
	if h.bitpix != -32 {
		return Image{}, fmt.Errorf("%w: BITPIX = %d, want -32", ErrUnsupported, h.bitpix)
	}
	if h.pcount != 0 || h.gcount != 1 {
		return Image{}, fmt.Errorf("%w: PCOUNT/GCOUNT on an image", ErrUnsupported)
	}
	w, ht := int(h.axes[0]), int(h.axes[1])
	n := w * ht
	// Require the pixels themselves but not the final block's padding:
	// some writers omit it and the image is still whole.
	if len(data) < 4*n {
		return Image{}, fmt.Errorf("%w: %d data bytes, want %d", ErrTruncated, len(data), 4*n)
	}
	pix := make([]float32, n)
	for i := range pix {
		pix[i] = math.Float32frombits(binary.BigEndian.Uint32(data[4*i:]))
	}
	if h.bscale != 1 || h.bzero != 0 {
		for i, p := range pix {
			pix[i] = float32(h.bzero + h.bscale*float64(p))
		}
	}
	return Image{Width: w, Height: ht, Pix: pix, Header: h.cards}, nil
}
