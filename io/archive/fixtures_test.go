package archive

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/alertbeam/alertbeam/internal/registrytest"
	"github.com/alertbeam/alertbeam/io/kafkaio"
	"github.com/alertbeam/alertbeam/io/sim"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/samples"
)

func init() {
	register.Function1x2(withEventTime)
	register.DoFn2x1[kafkaio.Record, func(string), error](&digestFn{})
	register.Emitter1[string]()
	register.DoFn3x1[context.Context, kafkaio.Record, func(kafkaio.Record), error](&failOnceFn{})
	register.Emitter1[kafkaio.Record]()
	register.DoFn3x1[context.Context, kafkaio.Ack, func(kafkaio.Ack), error](&failAckOnceFn{})
	register.Emitter1[kafkaio.Ack]()
	register.Function1x1(ackOffset)
	register.Function1x1(deadOffset)
}

// alert is one test input with what the archive must keep of it.
type alert struct {
	ID      int64
	Night   string
	Program int
	Value   []byte    // the message as it travels on Kafka
	Datum   []byte    // its Avro datum
	FP      string    // writer schema fingerprint (canonical form), hex
	Time    time.Time // observation time
	Source  string    // "real" or "sim"
}

// digest is what a test compares per alert: id, datum bytes, writer schema.
func (a alert) digest() string {
	return fmt.Sprintf("%d %x %s", a.ID, sha256.Sum256(a.Datum), a.FP[:fpLen])
}

// rekeyZTF returns a ZTF datum with another top-level candid. candid is the
// fourth field of every ZTF alert schema, after three strings, so the patch
// needs no schema, keeping the writer schema and every other byte.
func rekeyZTF(datum []byte, candid int64) ([]byte, error) {
	pos := 0
	for range 3 {
		n, k := binary.Varint(datum[pos:])
		if k <= 0 || n < 0 || pos+k+int(n) > len(datum) {
			return nil, fmt.Errorf("rekey: bad string at byte %d", pos)
		}
		pos += k + int(n)
	}
	_, k := binary.Varint(datum[pos:])
	if k <= 0 {
		return nil, fmt.Errorf("rekey: bad candid at byte %d", pos)
	}
	out := append([]byte{}, datum[:pos]...)
	out = binary.AppendVarint(out, candid)
	return append(out, datum[pos+k:]...), nil
}

// rekeyLSST patches diaSourceId, the first field of every LSST alert.
func rekeyLSST(t testing.TB, datum []byte, id int64) []byte {
	_, k := binary.Varint(datum)
	if k <= 0 {
		t.Fatal("rekey: bad diaSourceId")
	}
	return append(binary.AppendVarint(nil, id), datum[k:]...)
}

func mustIdentity(t testing.TB, c *framing.Codec, msg []byte) (framing.Datum, identity) {
	t.Helper()
	d, err := c.Unframe(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	id, err := decodeIdentity(c, d.Writer, d.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return d, id
}

func newAlert(t testing.TB, c *framing.Codec, msg []byte, source string) alert {
	d, id := mustIdentity(t, c, msg)
	fp := d.Writer.Fingerprint()
	return alert{ID: id.ID, Night: id.Night, Program: id.Program, Value: msg, Datum: d.Bytes, FP: hex.EncodeToString(fp[:]), Time: id.Time, Source: source}
}

// ztfAlerts is the ZTF test input: each real shared packet (writer schemas
// 3.2 and 3.3, nights of 2018 and 2019) re-keyed into copies, and generated
// 4.02 alerts over two nights and several programs.
func ztfAlerts(t testing.TB, copiesPerSample, visits, perVisit int) []alert {
	t.Helper()
	c, err := framing.NewZTF()
	if err != nil {
		t.Fatal(err)
	}
	var out []alert
	for si, f := range []string{"2019_01_10_739260766315010006.avro", "472263571115115000.avro"} {
		msg := samples.Read(t, "data", "ztf", f)
		ct, err := framing.ParseContainer(msg)
		if err != nil {
			t.Fatal(err)
		}
		_, base := mustIdentity(t, c, msg)
		for i := range copiesPerSample {
			datum, err := rekeyZTF(ct.Datum, base.ID+int64(si*100000+i))
			if err != nil {
				t.Fatal(err)
			}
			// Framed as ZTF frames it: the raw header schema, invalid
			// defaults and all.
			v, err := framing.AppendContainer(nil, framing.Container{Schema: ct.Schema, Codec: ct.Codec, Datum: datum})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, newAlert(t, c, v, "real"))
		}
	}
	for ni, night := range []time.Time{time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)} {
		cfg := sim.Defaults(sim.SurveyZTF)
		cfg.Seed, cfg.Night, cfg.Visits, cfg.AlertsPerVisit = int64(7+ni), night, visits, perVisit
		out = append(out, generated(t, c, cfg)...)
	}
	return out
}

// lsstAlerts is the LSST test input: Rubin's v10.0 and v11.1 sample alerts
// re-keyed (wire format with ids 1000 and 1101) and generated alerts.
func lsstAlerts(t testing.TB, copiesPerSample, visits, perVisit int) ([]alert, string) {
	t.Helper()
	c, srv := registrytest.LSST(t)
	var out []alert
	for si, s := range []struct {
		file string
		id   int
	}{{"fakeAlert-v10_0.avro", 1000}, {"fakeAlert-v11_1.avro", 1101}} {
		ct, err := framing.ParseContainer(samples.Read(t, "data", "lsst", s.file))
		if err != nil {
			t.Fatal(err)
		}
		for i := range copiesPerSample {
			datum := rekeyLSST(t, ct.Datum, int64(1_000_000_000+si*100000+i))
			out = append(out, newAlert(t, c, framing.AppendWire(nil, s.id, datum), "real"))
		}
	}
	cfg := sim.Defaults(sim.SurveyLSST)
	cfg.Seed, cfg.Night, cfg.Visits, cfg.AlertsPerVisit = 3, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), visits, perVisit
	return append(out, generated(t, c, cfg)...), srv.URL()
}

// generated is every alert cfg generates, encoded with c (kind "sim").
func generated(t testing.TB, c *framing.Codec, cfg sim.Config) []alert {
	t.Helper()
	all, err := sim.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []alert
	for _, a := range all {
		packet, _ := a.Packet()
		v, err := c.Encode(packet)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, newAlert(t, c, v, "sim"))
	}
	return out
}

// records turns alerts into Kafka records of one partition, offsets in order.
func records(alerts []alert) []kafkaio.Record {
	out := make([]kafkaio.Record, len(alerts))
	for i, a := range alerts {
		out[i] = kafkaio.Record{
			Source:    kafkaio.Source{Topic: "ingest", Partition: 0, Offset: int64(i), Prev: int64(i) - 1},
			Key:       []byte(strconv.FormatInt(a.ID, 10)),
			Value:     a.Value,
			Timestamp: a.Time,
		}
	}
	return out
}

// withEventTime stamps a record with its Timestamp, as kafkaio.Read does
// with an event-time policy.
func withEventTime(r kafkaio.Record) (beam.EventTime, kafkaio.Record) {
	return beam.EventTime(r.Timestamp.UnixMilli()), r
}

// digestFn renders a replayed record the way alert.digest does, from its
// re-framed value, so the test compares datum bytes and writer schemas.
type digestFn struct{ Survey string }

func (fn *digestFn) ProcessElement(r kafkaio.Record, emit func(string)) error {
	d, err := digestOf(fn.Survey, r)
	if err != nil {
		return err
	}
	emit(d)
	return nil
}

func digestOf(survey string, r kafkaio.Record) (string, error) {
	c, err := framing.New(survey, nil)
	if err != nil {
		return "", err
	}
	var datum, schemaText []byte
	if survey == schemas.ZTF {
		ct, err := framing.ParseContainer(r.Value)
		if err != nil {
			return "", err
		}
		datum, schemaText = ct.Datum, ct.Schema
	} else {
		id, d, err := framing.ParseWire(r.Value)
		if err != nil {
			return "", err
		}
		datum = d
		v := schemas.Version{Survey: schemas.LSST, Version: fmt.Sprintf("%d.%d", id/100, id%100)}
		files, err := schemas.Default().Files(v)
		if err != nil {
			return "", err
		}
		s, err := schemas.ParseSet(files)
		if err != nil {
			return "", err
		}
		schemaText = []byte(s.String())
	}
	w, err := framing.ParseWriterSchema(schemaText)
	if err != nil {
		return "", err
	}
	id, err := decodeIdentity(c, w, datum)
	if err != nil {
		return "", err
	}
	fp := w.Fingerprint()
	if string(r.Key) != strconv.FormatInt(id.ID, 10) {
		return "", fmt.Errorf("key %s is not the id %d", r.Key, id.ID)
	}
	return fmt.Sprintf("%d %x %s", id.ID, sha256.Sum256(datum), hex.EncodeToString(fp[:])[:fpLen]), nil
}

func ackOffset(a kafkaio.Ack) int64 { return a.Offset*10 + int64(a.Units) }

func deadOffset(m kafkaio.Message) int64 { return m.Source.Offset }

// failOnceFn fails on the record at Offset the first time any run sees it
// (Marker records that it has), then passes everything: a crash mid-write,
// and the restart after it.
type failOnceFn struct {
	Marker string
	Offset int64
}

func (fn *failOnceFn) ProcessElement(_ context.Context, r kafkaio.Record, emit func(kafkaio.Record)) error {
	if err := failOnce(fn.Marker, r.Offset == fn.Offset); err != nil {
		return err
	}
	emit(r)
	return nil
}

// failAckOnceFn fails on the ack of Offset the first time: a crash after
// some commits succeeded and before the rest ran.
type failAckOnceFn struct {
	Marker string
	Offset int64
}

func (fn *failAckOnceFn) ProcessElement(_ context.Context, a kafkaio.Ack, emit func(kafkaio.Ack)) error {
	if err := failOnce(fn.Marker, a.Offset == fn.Offset); err != nil {
		return err
	}
	emit(a)
	return nil
}

func failOnce(marker string, hit bool) error {
	if !hit {
		return nil
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil // failed before: this is the restart
	}
	f.Close()
	return fmt.Errorf("injected failure (marker %s)", marker)
}

func digests(alerts []alert) []any {
	out := make([]any, len(alerts))
	for i, a := range alerts {
		out[i] = a.digest()
	}
	return out
}

func ids(alerts []alert) []int64 {
	out := make([]int64, len(alerts))
	for i, a := range alerts {
		out[i] = a.ID
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func nights(alerts []alert) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range alerts {
		if !seen[a.Night] {
			seen[a.Night] = true
			out = append(out, a.Night)
		}
	}
	sort.Strings(out)
	return out
}
