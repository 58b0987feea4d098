package igwn

import (
	"slices"
	"sync"
	"time"
)

// Events is the table of live gravitational-wave events, safe for
// concurrent use.
type Events struct {
	mu     sync.RWMutex
	byID   map[string]Notice
	ids    []string     // byID's keys, sorted: Match runs per alert, Apply per notice
	notify func(Notice) // called after each applied notice, for logs
}

// NewEvents returns an empty table.
func NewEvents() *Events { return &Events{byID: map[string]Notice{}} }

// Apply takes in a notice: a retraction removes its superevent, any other
// replaces what the table had of it.
func (e *Events) Apply(n Notice) {
	e.mu.Lock()
	if n.AlertType == Retraction {
		delete(e.byID, n.SupereventID)
		if i, ok := slices.BinarySearch(e.ids, n.SupereventID); ok {
			e.ids = slices.Delete(e.ids, i, i+1)
		}
	} else {
		if i, ok := slices.BinarySearch(e.ids, n.SupereventID); !ok {
			e.ids = slices.Insert(e.ids, i, n.SupereventID)
		}
		e.byID[n.SupereventID] = n
	}
	notify := e.notify
	e.mu.Unlock()
	if notify != nil {
		notify(n)
	}
}

// Len is the number of live events.
func (e *Events) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.byID)
}

// Match is an optical alert's position in one event's sky map.
type Match struct {
	SupereventID string
	Level        float64 // credible level at the position, 0 to 1
	Density      float64 // probability per steradian
}

// Match returns the event, of those whose time lies in [t − after,
// t + before] (so that t, an optical observation, is at most before ahead
// of the event and at most after behind it), in whose sky map (ra, dec)
// lies inside the credible region cl (0 to 1), the one with the lowest
// level (ties: the smaller superevent id). False if there is none.
func (e *Events) Match(ra, dec float64, t time.Time, before, after time.Duration, cl float64) (Match, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var best Match
	found := false
	for _, id := range e.ids {
		n := e.byID[id]
		if t.Before(n.Time.Add(-before)) || t.After(n.Time.Add(after)) {
			continue
		}
		p, ok := n.Map.At(ra, dec)
		if !ok || p.Level > cl {
			continue
		}
		if !found || p.Level < best.Level {
			best, found = Match{SupereventID: id, Level: p.Level, Density: p.Density}, true
		}
	}
	return best, found
}
