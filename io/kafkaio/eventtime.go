package kafkaio

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/alert"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// The surveys' event-time policies, EventTimeZTF and EventTimeLSST: a
// record's event time is the observation time inside its packet (ZTF
// candidate.jd, LSST diaSource.midpointMjdTai), the time per-exposure
// windows need. LSST writers are found among the shipped Rubin schema ids
// (no registry is at hand in a policy); a packet that does not identify
// falls back to the record's timestamp, as Read does for any policy error.
// They are built in, not registered, so that every worker has them
// whatever it imports.
var surveyTimes = map[string]EventTimeFunc{
	EventTimeZTF:  observationTime(schemas.ZTF),
	EventTimeLSST: observationTime(schemas.LSST),
}

func observationTime(survey string) EventTimeFunc {
	var once sync.Once
	var codec *framing.Codec
	var cerr error
	return func(r Record) (time.Time, error) {
		once.Do(func() { codec, cerr = framing.New(survey, nil) })
		if cerr != nil {
			return time.Time{}, cerr
		}
		if survey == schemas.LSST {
			return lsstTime(codec, r.Value)
		}
		d, err := codec.Unframe(context.Background(), r.Value)
		if err != nil {
			return time.Time{}, err
		}
		id, err := alert.Identify(codec, d.Writer, d.Bytes)
		return id.Time, err
	}
}

// lsstTime identifies a wire-format packet whose schema id is one of the
// shipped Rubin versions.
func lsstTime(codec *framing.Codec, msg []byte) (time.Time, error) {
	id, datum, err := framing.ParseWire(msg)
	if err != nil {
		return time.Time{}, err
	}
	cat := schemas.Default()
	v, ok := cat.LSSTByRegistryID(id)
	if !ok {
		return time.Time{}, fmt.Errorf("kafkaio: schema id %d is no shipped LSST version", id)
	}
	writer, err := cat.Schema(v)
	if err != nil {
		return time.Time{}, err
	}
	ident, err := alert.Identify(codec, writer, datum)
	return ident.Time, err
}
