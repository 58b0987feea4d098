package archive

import (
	"encoding/hex"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/schemas"
	alertmodel "github.com/alertbeam/alertbeam/schemas/alert" // the tests have a type named alert
	"github.com/alertbeam/alertbeam/schemas/framing"
)

// tempDir holds temporary files, outside every survey directory so that no
// night glob (or Verify) ever sees one.
const tempDir = "_temp"

// nightLayout is the format of night directory names.
const nightLayout = "20060102"

// noProgram is the program of LSST alerts, whose directories have none.
const noProgram = alertmodel.NoProgram

// nightDir is the directory of a night (and program, for ZTF) under the root.
func nightDir(survey, night string, program int) string {
	if program == noProgram {
		return survey + "/" + night
	}
	return fmt.Sprintf("%s/%s/programid%d", survey, night, program)
}

// fileStem starts every final file name of a directory: the directory's
// coordinates again, so a file copied out of the tree still says what it
// holds.
func fileStem(survey, night string, program int) string {
	if program == noProgram {
		return survey + "_" + night
	}
	return fmt.Sprintf("%s_%s_programid%d", survey, night, program)
}

// fpLen is how much of the writer schema fingerprint names a file.
const fpLen = 16

// finalName is the name of file seq of a schema in a directory. It depends
// on nothing else: two writers that try to create the same seq collide on
// the name, which is what makes the commit protocol safe.
func finalName(dir, stem, fp string, seq int) string {
	return fmt.Sprintf("%s/%s_%s_%06d.avro", dir, stem, fp[:fpLen], seq)
}

var finalRE = regexp.MustCompile(`_([0-9a-f]{16})_([0-9]{6,})\.avro$`)

// parseFinal returns the fingerprint prefix and sequence number of a final
// file name, ok false for any other name.
func parseFinal(name string) (fp string, seq int, ok bool) {
	m := finalRE.FindStringSubmatch(path.Base(name))
	if m == nil {
		return "", 0, false
	}
	seq, err := strconv.Atoi(m[2])
	return m[1], seq, err == nil
}

// identity is where an alert belongs, with its night as a directory name.
type identity struct {
	ID      int64
	Time    time.Time // observation time, UTC
	Night   string    // YYYYMMDD: ZTF UTC date of jd, LSST dayObs
	Program int       // ZTF programid; noProgram for LSST
}

// errImplausible marks alerts that decode but cannot belong to a real night
// or program.
var errImplausible = alertmodel.ErrImplausible

// decodeIdentity decodes the identity of a datum written with writer, as
// routing does.
func decodeIdentity(c *framing.Codec, writer avro.Schema, datum []byte) (identity, error) {
	id, err := alertmodel.Identify(c, writer, datum)
	return identity{ID: id.ID, Time: id.Time, Night: id.Night.Format(nightLayout), Program: id.Program}, err
}

// writerInfo is a writer schema as archive headers carry it.
type writerInfo struct {
	// Text is the schema as the message carried it (ZTF header, registry
	// entry), or, when hamba/avro rejects it (real ZTF schemas declare
	// defaults that do not match their unions), the same text without
	// those defaults. Defaults play no part in decoding and are not part
	// of the canonical form, so the schema is the same, and now every
	// Avro reader (hamba's included) reads the file.
	Text []byte
	FP   string // hex SHA-256 of the canonical form
	ID   int    // LSST registry id; 0 for ZTF
}

func newWriterInfo(raw []byte, parsed avro.Schema, id int) (*writerInfo, error) {
	text := raw
	if _, err := avro.ParseBytesWithCache(raw, "", &avro.SchemaCache{}); err != nil {
		if text, err = schemas.StripInvalidDefaults(raw); err != nil {
			return nil, fmt.Errorf("archive: writer schema: %w", err)
		}
	}
	fp := parsed.Fingerprint()
	return &writerInfo{Text: text, FP: hex.EncodeToString(fp[:]), ID: id}, nil
}

// parseNight checks a YYYYMMDD night name.
func parseNight(night string) error {
	if _, err := time.Parse(nightLayout, night); err != nil || len(night) != len(nightLayout) {
		return fmt.Errorf("archive: night %q is not YYYYMMDD", night)
	}
	return nil
}

// isFinal reports whether an object name is an archive data file (not a
// temporary or staging file).
func isFinal(name string) bool {
	return strings.HasSuffix(name, ".avro") && !strings.HasPrefix(name, tempDir+"/") && !strings.HasPrefix(name, stagingDir+"/")
}
