package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/alertbeam/alertbeam/io/picture"
	"github.com/alertbeam/alertbeam/schemas"
	"github.com/alertbeam/alertbeam/schemas/framing"
	"github.com/alertbeam/alertbeam/schemas/registry"
)

func init() {
	register(&command{
		name:    "show",
		summary: "print alert packets (Avro container files or wire-format messages) as JSON, or draw them as PNGs",
		usage: ` FILE...

Each FILE is one packet: a ZTF-style Avro object container file, or a Confluent
wire-format message (0x00, schema id, Avro datum) whose schema id is looked up in
--registry, or in the schemas shipped with alertbeam (Rubin ids 1000, 1101, ...).
Byte fields (cutouts) are summarised by size and SHA-256, never dumped.

With --png DIR, each packet is drawn instead, as DIR/<file name>.png: the
three cutouts side by side (science, template, difference; asinh stretch
between the 0.5th and 99.5th percentiles, NaN pixels magenta, pixel (0,0) at
the bottom left; "north up, east left" only when the stamp's WCS says so)
and the light curve from the alert's history in AB magnitudes, brighter up:
per band colour, detections with 1σ error bars, upper limits of
non-detections as open triangles (ZTF diffmaglim; LSST forced photometry
below S/N 5), LSST forced photometry of S/N 5 and more as open squares.

Examples:
  alertbeam show ../shared/data/ztf/472263571115115000.avro
  alertbeam show --png /tmp/pictures ../shared/data/ztf/*.avro ../shared/data/lsst/*.avro`,
		setup: func(fs *flag.FlagSet) func(context.Context, *env) error {
			reg := fs.String("registry", "", "schema registry URL for wire-format messages (default: the shipped schemas)")
			compact := fs.Bool("compact", false, "one JSON object per line instead of indented JSON")
			pngDir := fs.String("png", "", "draw each packet as `DIR`/<file name>.png (cutouts and light curve) instead of printing it;\n"+
				"DIR is created if missing")
			return func(ctx context.Context, e *env) error {
				if len(e.args) == 0 {
					return errors.New("name at least one packet file (see --help)")
				}
				lookup, err := schemaLookup(ctx, *reg)
				if err != nil {
					return err
				}
				if *pngDir != "" {
					return drawPackets(e, *pngDir, e.args, lookup)
				}
				for _, p := range e.args {
					msg, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					v, err := decodeForShow(ctx, msg, lookup)
					if err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
					var out []byte
					if *compact {
						out, err = json.Marshal(v)
					} else {
						out, err = json.MarshalIndent(v, "", "  ")
					}
					if err != nil {
						return fmt.Errorf("%s: %w", p, err)
					}
					fmt.Fprintln(e.stdout, string(out))
				}
				return nil
			}
		},
	})
}

// drawPackets writes each packet's picture into dir, named after the
// packet's file, and says where.
func drawPackets(e *env, dir string, paths []string, lookup func(int) (avro.Schema, error)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, p := range paths {
		msg, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		a, err := picture.Of(msg, lookup)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		out := filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))+".png")
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		markers, err := picture.Encode(f, a)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", out, err)
		}
		detections := 0
		for _, m := range markers {
			if m.Kind.Detected() {
				detections++
			}
		}
		fmt.Fprintf(e.stdout, "%s: %s (%d detections, %d other light-curve points)\n", p, out, detections, len(markers)-detections)
	}
	return nil
}

// schemaLookup resolves wire-format schema ids: through a registry when one is
// named, else from the shipped catalogue by Rubin's id convention.
func schemaLookup(ctx context.Context, url string) (func(int) (avro.Schema, error), error) {
	if url != "" {
		cl, err := registry.NewClient(url)
		if err != nil {
			return nil, err
		}
		return func(id int) (avro.Schema, error) { return cl.Schema(ctx, id) }, nil
	}
	return func(id int) (avro.Schema, error) {
		if v, ok := schemas.Default().LSSTByRegistryID(id); ok {
			return schemas.Default().Schema(v)
		}
		return nil, fmt.Errorf("schema id %d is not a shipped version (pass --registry)", id)
	}, nil
}

// decodeForShow decodes a packet with its own writer schema into generic
// values, so every field is shown as written, and summarises byte fields.
func decodeForShow(_ context.Context, msg []byte, lookup func(int) (avro.Schema, error)) (any, error) {
	var schema avro.Schema
	var datum []byte
	header := map[string]any{}
	if bytes.HasPrefix(msg, []byte("Obj\x01")) {
		ct, err := framing.ParseContainer(msg)
		if err != nil {
			return nil, err
		}
		if schema, err = framing.ParseWriterSchema(ct.Schema); err != nil {
			return nil, err
		}
		datum = ct.Datum
		header["framing"] = "avro container (codec " + ct.Codec + ")"
	} else {
		id, d, err := framing.ParseWire(msg)
		if err != nil {
			return nil, err
		}
		if schema, err = lookup(id); err != nil {
			return nil, err
		}
		datum = d
		header["framing"] = fmt.Sprintf("confluent wire format (schema id %d)", id)
	}
	if n, ok := schema.(avro.NamedSchema); ok {
		header["schema"] = n.FullName()
	}
	header["bytes"] = len(msg)
	var v any
	if err := framing.API.Unmarshal(schema, datum, &v); err != nil {
		return nil, fmt.Errorf("decoding: %w", err)
	}
	return map[string]any{"_packet": header, "alert": summarise(v)}, nil
}

// summarise replaces byte strings with their size and digest, and flattens
// hamba's {"type": value} union wrappers for readability.
func summarise(v any) any {
	switch t := v.(type) {
	case []byte:
		sum := sha256.Sum256(t)
		s := map[string]any{"bytes": len(t), "sha256": hex.EncodeToString(sum[:8])}
		if bytes.HasPrefix(t, []byte{0x1f, 0x8b}) {
			s["format"] = "gzip"
		}
		return s
	case map[string]any:
		if len(t) == 1 {
			for k, inner := range t {
				if isAvroTypeName(k) {
					return summarise(inner)
				}
			}
		}
		out := make(map[string]any, len(t))
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			out[k] = summarise(t[k])
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i := range t {
			out[i] = summarise(t[i])
		}
		return out
	default:
		return v
	}
}

func isAvroTypeName(k string) bool {
	switch k {
	case "null", "boolean", "int", "long", "float", "double", "bytes", "string", "array", "map":
		return true
	}
	return false
}
