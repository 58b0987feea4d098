package picture

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/lsst"
	"github.com/alertbeam/alertbeam/schemas/ztf"
)

// Of decodes one packet, an Avro container file (ZTF's framing; LSST
// samples come so too) or a Confluent wire-format message whose schema id
// lookup resolves, and returns what its picture shows. The survey is the
// writer schema's namespace (ztf.* or lsst.*); the packet is read into
// alertbeam's structs through Avro schema resolution, so older writer
// versions work.
func Of(msg []byte, lookup func(id int) (avro.Schema, error)) (Alert, error) {
	var writer avro.Schema
	var datum []byte
	if bytes.HasPrefix(msg, []byte("Obj\x01")) {
		ct, err := framing.ParseContainer(msg)
		if err != nil {
			return Alert{}, err
		}
		if writer, err = framing.ParseWriterSchema(ct.Schema); err != nil {
			return Alert{}, err
		}
		datum = ct.Datum
	} else {
		id, d, err := framing.ParseWire(msg)
		if err != nil {
			return Alert{}, err
		}
		if writer, err = lookup(id); err != nil {
			return Alert{}, err
		}
		datum = d
	}
	survey := schemas.ZTF
	if n, ok := writer.(avro.NamedSchema); ok && strings.HasPrefix(n.FullName(), "lsst.") {
		survey = schemas.LSST
	}
	codec, err := framing.New(survey, nil)
	if err != nil {
		return Alert{}, err
	}
	if survey == schemas.LSST {
		var a lsst.Alert
		if err := codec.DecodeDatum(writer, datum, &a); err != nil {
			return Alert{}, fmt.Errorf("picture: %w", err)
		}
		return OfLSST(&a), nil
	}
	var a ztf.Alert
	if err := codec.DecodeDatum(writer, datum, &a); err != nil {
		return Alert{}, fmt.Errorf("picture: %w", err)
	}
	return OfZTF(&a), nil
}
