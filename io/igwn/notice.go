package igwn

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alertbeam/alertbeam/io/skymap"
)

// Alert types of IGWN notices.
const (
	EarlyWarning = "EARLYWARNING"
	Preliminary  = "PRELIMINARY"
	Initial      = "INITIAL"
	Update       = "UPDATE"
	Retraction   = "RETRACTION"
)

// Notice is one IGWN alert, with what a filter needs of it.
type Notice struct {
	SupereventID string
	AlertType    string
	Created      time.Time // time_created
	// The rest is set unless AlertType is Retraction.
	Time        time.Time // event.time, the merger or burst time
	FAR         float64   // event.far, Hz
	Significant bool
	Map         *skymap.Map
}

// ErrNotice is wrapped by every error about a notice that cannot be used.
var ErrNotice = errors.New("igwn: bad notice")

// wire is the JSON of a notice, as much of it as is read.
type wire struct {
	SupereventID string `json:"superevent_id"`
	AlertType    string `json:"alert_type"`
	TimeCreated  string `json:"time_created"`
	Event        *struct {
		Time        string  `json:"time"`
		FAR         float64 `json:"far"`
		Significant bool    `json:"significant"`
		Skymap      string  `json:"skymap"`
	} `json:"event"`
}

// Parse reads a notice. Every problem is an error wrapping ErrNotice that
// says what is wrong, for the dead-letter topic.
func Parse(b []byte) (Notice, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return Notice{}, fmt.Errorf("%w: not JSON: %v", ErrNotice, err)
	}
	if w.SupereventID == "" {
		return Notice{}, fmt.Errorf("%w: no superevent_id", ErrNotice)
	}
	n := Notice{SupereventID: w.SupereventID, AlertType: w.AlertType}
	if w.TimeCreated != "" {
		t, err := time.Parse(time.RFC3339Nano, w.TimeCreated)
		if err != nil {
			return Notice{}, fmt.Errorf("%w: %s: time_created %q: %v", ErrNotice, n.SupereventID, w.TimeCreated, err)
		}
		n.Created = t
	}
	switch w.AlertType {
	case Retraction:
		return n, nil
	case EarlyWarning, Preliminary, Initial, Update:
	default:
		return Notice{}, fmt.Errorf("%w: %s: alert_type %q (want EARLYWARNING, PRELIMINARY, INITIAL, UPDATE or RETRACTION)",
			ErrNotice, n.SupereventID, w.AlertType)
	}
	if w.Event == nil {
		return Notice{}, fmt.Errorf("%w: %s: %s notice without an event", ErrNotice, n.SupereventID, w.AlertType)
	}
	t, err := time.Parse(time.RFC3339Nano, w.Event.Time)
	if err != nil {
		return Notice{}, fmt.Errorf("%w: %s: event.time %q: %v", ErrNotice, n.SupereventID, w.Event.Time, err)
	}
	n.Time, n.FAR, n.Significant = t, w.Event.FAR, w.Event.Significant
	raw, err := base64.StdEncoding.DecodeString(w.Event.Skymap)
	if err != nil {
		return Notice{}, fmt.Errorf("%w: %s: event.skymap is not base64: %v", ErrNotice, n.SupereventID, err)
	}
	if len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b { // gzip'd FITS
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err == nil {
			raw, err = io.ReadAll(io.LimitReader(zr, 1<<30))
		}
		if err != nil {
			return Notice{}, fmt.Errorf("%w: %s: event.skymap: %v", ErrNotice, n.SupereventID, err)
		}
	}
	if n.Map, err = skymap.Decode(raw); err != nil {
		return Notice{}, fmt.Errorf("%w: %s: event.skymap: %v", ErrNotice, n.SupereventID, err)
	}
	return n, nil
}

// Encode writes a notice in IGWN's JSON with the given multi-order sky map
// file (nil for a retraction): for tests and for replaying an event.
func Encode(id, alertType string, eventTime time.Time, mapFITS []byte) []byte {
	w := map[string]any{
		"superevent_id": id,
		"alert_type":    alertType,
		"time_created":  time.Now().UTC().Format(time.RFC3339),
		"event":         nil,
	}
	if alertType != Retraction {
		w["event"] = map[string]any{
			"time":        eventTime.UTC().Format(time.RFC3339Nano),
			"far":         1e-10,
			"significant": true,
			"instruments": []string{"H1", "L1", "V1"},
			"group":       "CBC",
			"skymap":      base64.StdEncoding.EncodeToString(mapFITS),
		}
	}
	b, _ := json.Marshal(w)
	return b
}
