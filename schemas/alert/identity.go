package alert

import (
	"errors"
	"fmt"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// NoProgram is the program of LSST alerts, which have none.
const NoProgram = -1

// ErrImplausible marks alerts that decode but cannot belong to a real night
// or program; they are dead-lettered, never filed under a nonsense night.
var ErrImplausible = errors.New("implausible alert")

// Identity is where an alert belongs: routing, the archive and replays all
// place alerts by it.
type Identity struct {
	ID      int64     // candid or diaSourceId
	Time    time.Time // observation time, UTC
	Night   time.Time // ZTF: the UTC date of jd; LSST: dayObs
	Program int       // ZTF programid; NoProgram for LSST
	Survey  string
}

// Topic is the alert's per-night topic.
func (id Identity) Topic() string {
	if id.Survey == schemas.LSST {
		return lsstTopic(id.Night)
	}
	return ztfTopic(id.Night, id.Program)
}

// ztfKey and lsstKey hold the few fields identifying decodes: never the
// cutouts or the history.
type ztfKey struct {
	Candid    int64 `avro:"candid"`
	Candidate struct {
		Jd        float64 `avro:"jd"`
		Programid int     `avro:"programid"`
	} `avro:"candidate"`
}

type lsstKey struct {
	DiaSourceID int64 `avro:"diaSourceId"`
	DiaSource   struct {
		MidpointMjdTai float64 `avro:"midpointMjdTai"`
	} `avro:"diaSource"`
}

// Identify decodes an alert's identity from a datum written with writer.
// Decoding errors are *framing.Error; an identity outside ZTF's programs
// (0 engineering, 1 public, 2 partnership, 3 Caltech) or observed outside
// 2017–2100 is returned with an ErrImplausible error.
func Identify(c *framing.Codec, writer avro.Schema, datum []byte) (Identity, error) {
	id := Identity{Survey: c.Survey()}
	if id.Survey == schemas.ZTF {
		var k ztfKey
		if err := c.DecodeDatum(writer, datum, &k); err != nil {
			return id, err
		}
		id.ID, id.Time, id.Night, id.Program = k.Candid, JDTime(k.Candidate.Jd), ZTFNight(k.Candidate.Jd), k.Candidate.Programid
		if id.Program < 0 || id.Program > 3 {
			return id, fmt.Errorf("%w: candid %d: programid %d", ErrImplausible, id.ID, id.Program)
		}
	} else {
		var k lsstKey
		if err := c.DecodeDatum(writer, datum, &k); err != nil {
			return id, err
		}
		mjd := k.DiaSource.MidpointMjdTai
		id.ID, id.Time, id.Night, id.Program = k.DiaSourceID, MJDTAITime(mjd), LSSTDayObs(mjd), NoProgram
	}
	if y := id.Time.Year(); y < 2017 || y > 2100 {
		return id, fmt.Errorf("%w: id %d: observation time %s outside 2017–2100", ErrImplausible, id.ID, id.Time.Format(time.RFC3339))
	}
	return id, nil
}
