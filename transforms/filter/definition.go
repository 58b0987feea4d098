package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// Headers every kept alert carries: the output's filter and the version of
// its definition that kept the alert (0 for a filter given on the command
// line, a definition's own version for one from the definitions topic).
const (
	HeaderName    = "filter.name"
	HeaderVersion = "filter.version"
)

// Definition is a filter defined at run time: the value of a record on the
// definitions topic (Definitions), whose key is the filter's output name. A
// record with no value (a tombstone) removes the filter of its key.
//
//	{"spec": "candidate.rb > 0.8", "owner": "alice", "version": 3, "created": "2026-12-04T02:00:00Z"}
type Definition struct {
	// Spec is a filter spec as --filter takes it (Build): a built-in with
	// parameters or a CEL expression. "OUT=" is allowed only if OUT is
	// the record's key.
	Spec string `json:"spec"`
	// Owner says who to ask about the filter.
	Owner string `json:"owner,omitempty"`
	// CapPerVisit, when positive, keeps at most that many alerts per
	// visit, the highest S/N first, as --cap-per-visit does: the alerts
	// wait, as ids, until their visit is decided.
	CapPerVisit int `json:"cap_per_visit,omitempty"`
	// Version numbers the definitions of one name, from 1; kept alerts
	// carry it in HeaderVersion.
	Version int64 `json:"version"`
	// Created is when the definition was published (filters add).
	Created time.Time `json:"created,omitzero"`
}

// ParseDefinition reads a definitions-topic record: the output name from
// its key, and its definition, nil for a tombstone. It checks the record's
// form, not the spec (see DefinitionEnv.Check).
func ParseDefinition(r kafkaio.Record) (string, *Definition, error) {
	name := string(r.Key)
	if err := ValidName(name); err != nil {
		return name, nil, fmt.Errorf("filter: definition key: %w", err)
	}
	if r.Value == nil {
		return name, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(r.Value))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		return name, nil, fmt.Errorf("filter: definition of %s is not the JSON of a definition: %w", name, err)
	}
	if strings.TrimSpace(d.Spec) == "" {
		return name, nil, fmt.Errorf("filter: definition of %s has no spec", name)
	}
	if d.Version < 1 {
		return name, nil, fmt.Errorf("filter: definition of %s has version %d (versions start at 1)", name, d.Version)
	}
	if d.CapPerVisit < 0 {
		return name, nil, fmt.Errorf("filter: definition of %s has a negative cap_per_visit", name)
	}
	return name, &d, nil
}

// Encode is the definition's record value.
func (d Definition) Encode() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		panic(err) // strings, numbers and a time always marshal
	}
	return b
}

// DefinitionEnv is what a running filter graph can run: a definition is
// accepted only if it builds for the survey and finds what it reads.
type DefinitionEnv struct {
	Survey   string
	Catalogs []string // catalog specs loaded (Config.Catalogs)
	GW       bool     // a notice topic is followed (Config.GW)
}

// Check builds a definition's filter, named name, or says why the running
// graph cannot run it: a spec that does not build (an unknown built-in, a
// CEL expression that does not type-check), a catalog or notice topic the
// run lacks.
func (env DefinitionEnv) Check(name string, d Definition) (*Filter, error) {
	spec := strings.TrimSpace(d.Spec)
	if m := namedRE.FindStringSubmatch(spec); m != nil && m[1] != name {
		return nil, fmt.Errorf("filter: definition of %s names its output %q in its spec; drop the %s= or use it as the key", name, m[1], m[1])
	}
	f, err := Build(spec, env.Survey)
	if err != nil {
		return nil, err
	}
	f = f.As(name, f.doc)
	if err := CheckCatalogs([]*Filter{f}, env.Catalogs); err != nil {
		return nil, err
	}
	if usesGW([]*Filter{f}) && !env.GW {
		return nil, fmt.Errorf("filter: %s is a gw filter, and this run follows no notice topic (--gw-topic)", name)
	}
	return f, nil
}

// Default topics of the live-definition workflow (alertbeam filters).
const (
	DefaultDefinitionsTopic = "alertbeam-filters"
	DefaultStatusTopic      = "alertbeam-filters-status"
)

// What a run made of a definition (DefinitionStatus.Status).
const (
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
	StatusRemoved  = "removed"
)

// DefinitionStatus is what a filter run reports, on its status topic, of
// each definitions-topic record it read: the value of a record keyed by
// the filter's name.
type DefinitionStatus struct {
	Name    string `json:"name"`
	Version int64  `json:"version,omitempty"`
	Owner   string `json:"owner,omitempty"`
	Status  string `json:"status"`          // StatusAccepted, StatusRejected or StatusRemoved
	Error   string `json:"error,omitempty"` // why it was rejected
	// Partition and Offset locate the definition's record.
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	// Checked is when the run read it: an accepted definition took effect
	// then, for the alerts processed after it.
	Checked time.Time `json:"checked"`
}

// Status checks one definitions-topic record as Live.Apply does and says
// what the run makes of it.
func (env DefinitionEnv) Status(r kafkaio.Record, now time.Time) DefinitionStatus {
	name, d, err := ParseDefinition(r)
	st := DefinitionStatus{Name: name, Partition: r.Partition, Offset: r.Offset, Checked: now.UTC()}
	if err == nil && d != nil {
		st.Version, st.Owner = d.Version, d.Owner
		_, err = env.Check(name, *d)
	}
	switch {
	case err != nil:
		st.Status, st.Error = StatusRejected, err.Error()
	case d == nil:
		st.Status = StatusRemoved
	default:
		st.Status = StatusAccepted
	}
	return st
}
