package filter_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/transforms/filter"
)

func defRecord(name, value string) kafkaio.Record {
	r := kafkaio.Record{Key: []byte(name)}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// Definitions are taken in by name; one that does not parse or check
// changes nothing; a tombstone removes its name.
func TestLiveAppliesDefinitions(t *testing.T) {
	l := filter.NewLive(filter.DefinitionEnv{Survey: "ztf"})
	steps := []struct {
		name, value string
		err         string // a substring of the rejection, or "" to accept
		want        string // the set afterwards: name@version, sorted
	}{
		{"b", `{"spec": "candidate.rb > 0.7", "owner": "bob", "version": 1}`, "", "b@1"},
		{"a", `{"spec": "purity", "version": 1}`, "", "a@1,b@1"},
		{"b", `{"spec": "candidate.rbb > 0.7", "version": 2}`, "no field rbb", "a@1,b@1"},
		{"b", `{"spec": "nosuch:x=1", "version": 2}`, `no filter named "nosuch"`, "a@1,b@1"},
		{"b", `{"spec": "candidate.rb > 0.9", "version": 0}`, "versions start at 1", "a@1,b@1"},
		{"b", `{"spec": "rb:min=0.9", "version": 2, "colour": "red"}`, "unknown field", "a@1,b@1"},
		{"b", `{"spec": "other=purity", "version": 2}`, `names its output "other"`, "a@1,b@1"},
		{"b", `{"spec": "purity", "version": 2, "cap_per_visit": -1}`, "negative cap_per_visit", "a@1,b@1"},
		{"b", `{"spec": "gw:cl=90", "version": 2}`, "--gw-topic", "a@1,b@1"},
		{"Bad", `{"spec": "purity", "version": 1}`, "invalid name", "a@1,b@1"},
		{"b", `{"spec": "b=rb:min=0.9", "version": 2}`, "", "a@1,b@2"},
		{"b", "", "", "a@1"},
		{"zz", "", "", "a@1"}, // a tombstone of nothing
	}
	for i, s := range steps {
		err := l.Apply(defRecord(s.name, s.value))
		switch {
		case s.err == "" && err != nil:
			t.Fatalf("step %d (%s): %v", i, s.value, err)
		case s.err != "" && (err == nil || !strings.Contains(err.Error(), s.err)):
			t.Fatalf("step %d (%s): error %v, want one saying %q", i, s.value, err, s.err)
		}
		var got []string
		for _, lf := range l.Filters() {
			got = append(got, fmt.Sprintf("%s@%d", lf.Name, lf.Definition.Version))
			if lf.Filter.Name() != lf.Name {
				t.Fatalf("live filter %s is named %s", lf.Name, lf.Filter.Name())
			}
		}
		if strings.Join(got, ",") != s.want {
			t.Fatalf("step %d: live set %v, want %s", i, got, s.want)
		}
	}
	if l.Records() != int64(len(steps)) {
		t.Fatalf("%d records taken in, want %d", l.Records(), len(steps))
	}
}

// The status of a record says what a run makes of it, as Apply decides.
func TestDefinitionStatus(t *testing.T) {
	env := filter.DefinitionEnv{Survey: "ztf"}
	for _, tc := range []struct{ value, status string }{
		{`{"spec": "purity", "version": 3, "owner": "alice"}`, filter.StatusAccepted},
		{`{"spec": "candidate.nope > 1", "version": 3, "owner": "alice"}`, filter.StatusRejected},
		{"", filter.StatusRemoved},
	} {
		st := env.Status(defRecord("a", tc.value), time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC))
		if st.Status != tc.status || st.Name != "a" || (tc.value != "" && (st.Version != 3 || st.Owner != "alice")) {
			t.Fatalf("%s: %+v, want %s", tc.value, st, tc.status)
		}
		if (st.Error != "") != (tc.status == filter.StatusRejected) {
			t.Fatalf("%s: error %q", tc.value, st.Error)
		}
	}
}

// A live filter may not publish to the run's own topics.
func TestDefinitionsRefuseTheRunsTopics(t *testing.T) {
	d := filter.Definitions{Topic: "defs", TopicPrefix: "", Reserved: []string{"defs", "status", "ztf_in"}, ReservedPattern: "ztf_2026.*",
		Static: []string{"purity"}}
	def := filter.Definition{Spec: "purity", Version: 1}
	for name, refused := range map[string]bool{"defs": true, "ztf_in": true, "ztf_20261204_programid1": true, "bright": false, "xztf_2026": false, "purity": false} {
		if err := d.Refuses(name, def); (err != nil) != refused {
			t.Errorf("%s: %v, want refused %v", name, err, refused)
		}
	}
	// A cap may not be put on one of the run's own filters.
	def.CapPerVisit = 20
	if err := d.Refuses("purity", def); err == nil || d.Refuses("bright", def) != nil {
		t.Errorf("a capped definition: purity %v (want refused), bright %v (want accepted)", err, d.Refuses("bright", def))
	}
	d.TopicPrefix = "live."
	if err := d.Refuses("defs", filter.Definition{Spec: "purity", Version: 1}); err != nil {
		t.Errorf("with a prefix, defs publishes to live.defs: %v", err)
	}
}
