package fits

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Card is one header keyword record.
//
// Value is nil (a commentary card such as COMMENT or HISTORY, or a keyword
// with an undefined value), string, bool, int64 or float64. Encode also
// accepts int, int32 and float32 and writes them as the wider type; Decode
// always returns the four canonical types.
type Card struct {
	Key     string
	Value   any
	Comment string
}

// Cards with these keywords describe the data layout; Encode writes them
// itself, so a caller-supplied copy would contradict it.
var structural = map[string]bool{
	"SIMPLE": true, "BITPIX": true, "NAXIS": true, "EXTEND": true, "END": true,
	"XTENSION": true, "PCOUNT": true, "GCOUNT": true, "BSCALE": true, "BZERO": true,
	"BLANK": true, "GROUPS": true,
}

func isStructural(key string) bool {
	if structural[key] {
		return true
	}
	if rest, ok := strings.CutPrefix(key, "NAXIS"); ok {
		_, err := strconv.Atoi(rest)
		return err == nil
	}
	return false
}

// commentary keywords carry free text in columns 9-80 and no value.
func isCommentary(key string) bool {
	return key == "COMMENT" || key == "HISTORY" || key == ""
}

func validKey(key string) error {
	if len(key) > 8 {
		return fmt.Errorf("keyword longer than 8 characters")
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("keyword has %q; FITS allows A-Z 0-9 - _", c)
		}
	}
	return nil
}

func validText(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return fmt.Errorf("byte %#x is not printable ASCII", s[i])
		}
	}
	return nil
}

// formatValue renders a value the way the fixed format wants it: strings
// quoted and padded to at least 8 characters, everything else bare.
func formatValue(v any) (string, bool, error) {
	switch t := v.(type) {
	case string:
		if err := validText(t); err != nil {
			return "", false, err
		}
		q := strings.ReplaceAll(t, "'", "''")
		if len(q) < 8 {
			q += strings.Repeat(" ", 8-len(q))
		}
		return "'" + q + "'", true, nil
	case bool:
		if t {
			return "T", false, nil
		}
		return "F", false, nil
	case int:
		return strconv.FormatInt(int64(t), 10), false, nil
	case int32:
		return strconv.FormatInt(int64(t), 10), false, nil
	case int64:
		return strconv.FormatInt(t, 10), false, nil
	case float32:
		return formatFloat(float64(t))
	case float64:
		return formatFloat(t)
	}
	return "", false, fmt.Errorf("value of type %T; use string, bool, int64 or float64", v)
}

func formatFloat(f float64) (string, bool, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "", false, fmt.Errorf("FITS headers cannot hold %v", f)
	}
	// Shortest representation that parses back to the same float64; the
	// decimal point or exponent is what makes a reader see a real, not an
	// integer.
	s := strconv.FormatFloat(f, 'G', -1, 64)
	if !strings.ContainsAny(s, ".E") {
		s += ".0"
	} else if i := strings.IndexByte(s, 'E'); i >= 0 && !strings.Contains(s[:i], ".") {
		s = s[:i] + ".0" + s[i:]
	}
	return s, false, nil
}

func (c Card) appendTo(b []byte) ([]byte, error) {
	if err := validKey(c.Key); err != nil {
		return b, fmt.Errorf("%w: %v", ErrBadCard, err)
	}
	if isStructural(c.Key) {
		return b, fmt.Errorf("%w: %s is written by the encoder", ErrBadCard, c.Key)
	}
	if err := validText(c.Comment); err != nil {
		return b, fmt.Errorf("%w: comment: %v", ErrBadCard, err)
	}
	if isCommentary(c.Key) {
		if c.Value != nil {
			return b, fmt.Errorf("%w: %q cards carry text in Comment, not a value", ErrBadCard, c.Key)
		}
		if len(c.Comment) > CardSize-8 {
			return b, fmt.Errorf("%w: text longer than %d characters", ErrBadCard, CardSize-8)
		}
		line := fmt.Sprintf("%-8s%s", c.Key, c.Comment)
		return appendPadded(b, line), nil
	}
	val := ""
	if c.Value != nil {
		v, _, err := formatValue(c.Value)
		if err != nil {
			return b, fmt.Errorf("%w: %v", ErrBadCard, err)
		}
		val = v
	}
	line, err := cardLine(c.Key, val, c.Comment)
	if err != nil {
		return b, fmt.Errorf("%w: %v", ErrBadCard, err)
	}
	return appendPadded(b, line), nil
}

// appendCard writes one of the encoder's own cards, whose contents are known
// to fit.
func appendCard(b []byte, key, val, comment string) []byte {
	line, err := cardLine(key, val, comment)
	if err != nil {
		panic(err) // the encoder's own cards always fit
	}
	return appendPadded(b, line)
}

// cardLine lays out "KEYWORD = value / comment". Fixed format puts numbers
// and logicals right-justified ending in column 30 and strings starting in
// column 11; a value too long for that still starts in column 11 (free
// format), which every reader accepts.
func cardLine(key, val, comment string) (string, error) {
	var sb strings.Builder
	sb.Grow(CardSize)
	fmt.Fprintf(&sb, "%-8s= ", key)
	if strings.HasPrefix(val, "'") || len(val) >= 20 {
		sb.WriteString(val)
		if len(val) < 20 && comment != "" {
			sb.WriteString(strings.Repeat(" ", 20-len(val)))
		}
	} else {
		fmt.Fprintf(&sb, "%20s", val)
	}
	if comment != "" {
		sb.WriteString(" / ")
		sb.WriteString(comment)
	}
	if sb.Len() > CardSize {
		return "", fmt.Errorf("card %q does not fit in %d characters", key, CardSize)
	}
	return sb.String(), nil
}

func appendPadded(b []byte, line string) []byte {
	b = append(b, line...)
	for i := len(line); i < CardSize; i++ {
		b = append(b, ' ')
	}
	return b
}

// parseCard reads one 80-byte card. Keywords without the "= " value
// indicator (COMMENT, HISTORY, blank and any other) become commentary cards
// whose text is in Comment.
func parseCard(raw []byte) (Card, error) {
	if err := validText(string(raw)); err != nil {
		return Card{}, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	key := strings.TrimRight(string(raw[:8]), " ")
	if err := validKey(key); err != nil {
		return Card{}, fmt.Errorf("%w: %q: %v", ErrBadHeader, raw[:8], err)
	}
	if string(raw[8:10]) != "= " || isCommentary(key) {
		return Card{Key: key, Comment: strings.TrimRight(string(raw[8:]), " ")}, nil
	}
	v, comment, err := parseValue(string(raw[10:]))
	if err != nil {
		return Card{}, fmt.Errorf("%w: %s: %v", ErrBadHeader, key, err)
	}
	return Card{Key: key, Value: v, Comment: comment}, nil
}

func parseValue(s string) (any, string, error) {
	t := strings.TrimLeft(s, " ")
	if strings.HasPrefix(t, "'") {
		var sb strings.Builder
		i := 1
		for {
			if i >= len(t) {
				return nil, "", fmt.Errorf("unterminated string")
			}
			if t[i] == '\'' {
				if i+1 < len(t) && t[i+1] == '\'' {
					sb.WriteByte('\'')
					i += 2
					continue
				}
				break
			}
			sb.WriteByte(t[i])
			i++
		}
		// Trailing blanks in a FITS string are not significant; leading
		// ones are.
		return strings.TrimRight(sb.String(), " "), afterValue(t[i+1:]), nil
	}
	tok, rest, _ := strings.Cut(t, "/")
	tok = strings.TrimSpace(tok)
	comment := ""
	if strings.Contains(t, "/") {
		comment = strings.TrimSpace(rest)
	}
	switch {
	case tok == "":
		return nil, comment, nil
	case tok == "T":
		return true, comment, nil
	case tok == "F":
		return false, comment, nil
	}
	if i, err := strconv.ParseInt(tok, 10, 64); err == nil {
		return i, comment, nil
	}
	// FITS allows a D exponent for double precision; Go parses only E.
	ft := strings.Map(func(r rune) rune {
		if r == 'D' || r == 'd' {
			return 'E'
		}
		return r
	}, tok)
	if f, err := strconv.ParseFloat(ft, 64); err == nil && !strings.ContainsAny(ft, "xXpP_nNiI") {
		return f, comment, nil
	}
	return nil, "", fmt.Errorf("cannot parse value %q", tok)
}

// afterValue extracts the comment that may follow a quoted string.
func afterValue(s string) string {
	_, c, ok := strings.Cut(s, "/")
	if !ok {
		return ""
	}
	return strings.TrimSpace(c)
}
