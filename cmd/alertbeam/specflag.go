package main

import "strings"

// specFlag collects a repeatable flag whose values are specs that may hold
// commas themselves (xmatch:cat=hip,r=5; hip=hip2.csv,id=HIP; a CEL call
// math.least(a, b)): unlike multiFlag, each use is one value.
type specFlag []string

func (m *specFlag) String() string { return strings.Join(*m, " ") }

func (m *specFlag) Set(v string) error {
	if v = strings.TrimSpace(v); v != "" {
		*m = append(*m, v)
	}
	return nil
}
