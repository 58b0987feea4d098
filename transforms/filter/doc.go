// Package filter selects the alerts a science case needs from a stream:
// single-packet filters written in Go or as expressions, a set of built-in
// cuts, combinators, a per-visit cap, and the Beam transform that runs them.
//
// # Filters in Go
//
// A filter is a plain Go function over a decoded alert (an *Alert, holding
// a *ztf.Alert or an *lsst.Alert) that says keep or drop:
//
//	func init() {
//		filter.Register("young-bright", "first seen within 2 days, brighter than 17 mag",
//			func(a *filter.Alert) (bool, error) {
//				c := a.ZTF.Candidate
//				if c.Jdstarthist == nil {
//					return false, filter.ErrMissing
//				}
//				return c.Jd-*c.Jdstarthist < 2 && c.Magpsf < 17, nil
//			}, "ztf")
//	}
//
// Register from an init function, as Beam registers DoFns: pipelines carry
// filter names, and every worker looks them up in its own registry. Names
// are lower-case letters, digits, '_' and '-' (they name output topics); a
// bad or repeated name panics at start-up. RegisterTransform registers a
// filter that publishes a modified alert (see TransformFunc), and
// RegisterFactory one that takes parameters. And, Or and Not combine
// filters; As names the result. A filter that returns an error, or panics,
// fails only the alert at hand (Filter.Apply recovers); an error wrapping
// ErrMissing means the alert lacks a value the filter needs, and drops it.
//
// # Specs
//
// Pipelines and the command line name filters by spec (see Build):
//
//	purity                                  a registered filter
//	rb:min=0.8                              with parameters ("rb-min0.8")
//	drop:fields=fp_hists+prv_candidates     a list parameter
//	candidate.rb > 0.8 && candidate.ndethist >= 2   a CEL expression ("expr-1a2b3c4d")
//	bright=candidate.magpsf < 17.0          any of these, naming its output "bright"
//
// # Built-in filters
//
// Each states its exact cut in its doc (Entries lists them):
//
//	rb:min=0.65        ZTF candidate.rb >= min; LSST diaSource.reliability >= min
//	drb:min=0.5        ZTF candidate.drb >= min
//	purity             ZTF rb >= 0.65 && nbad == 0 && fwhm <= 5 && elong <= 1.2 && |magdiff| <= 0.1
//	star:min=0.5,radius=30   ZTF sgscore1 >= min and distpsnr1 <= radius ["]; no PS1 source: not a star
//	bright:max=18.5    ZTF magpsf <= max; LSST 31.4 - 2.5 log10(|psfFlux|/nJy) <= max
//	positive           ZTF isdiffpos "t" or "1"; LSST psfFlux > 0
//	new                ZTF ndethist <= 1 and no prv_candidates detection; LSST no prvDiaSources,
//	                   diaObject absent or nDiaSources <= 1
//	history:gap=30     detections tonight span more than gap minutes, none on an earlier night
//	                   (ZTF: and jdstarthist, when present, is tonight); tonight is the UTC date
//	                   of jd (ZTF) or Rubin's dayObs (LSST)
//	asteroid:radius=5  ZTF ssnamenr set and ssdistnr <= radius ["]; LSST ssSource present
//	noasteroid:radius=5  the complement of asteroid
//	significance:min=5 LSST psfFlux/psfFluxErr > min; ZTF 1.0857/sigmapsf > min
//	program:ids=1      ZTF programid in ids ('+'-separated)
//	cutoutsnr:min=5    difference stamp |centre - median| / (1.4826 MAD) >= min (StampSNR)
//	nocutouts          keep all, without the three cutouts (a transform)
//	drop:fields=...    keep all, with the named nullable fields set to null (a transform)
//
// Value semantics, shared by the built-ins and expressions:
//   - Missing values. An Avro null, and in ZTF records a numeric -999 or an
//     ssnamenr of "null" (ZTF's sentinels), is missing. A cut that needs a
//     missing value neither keeps nor rejects the alert on its merits: it is
//     dropped and counted as missing (counter filter_NAME_missing), never
//     dead-lettered. In a conjunction a definite false still wins, as in
//     CEL ("false && missing" is false).
//   - Precision. Packet floats are float32. Thresholds compare in the
//     field's precision, so a magdiff that prints as 0.1 passes
//     "|magdiff| <= 0.1", as NumPy would have it; expressions see each
//     float32 as the double of its shortest decimal form, which gives the
//     same answers.
//
// # Expressions
//
// Expr compiles CEL against a survey's schema: see Expr and celtypes.go for
// the variables, the type mapping, and has() on missing values. A bad
// expression (unknown field, wrong type, not a bool) fails when the
// pipeline is built, naming the field; evaluation is side-effect free and
// limited to CostLimit.
//
// # The Beam transform
//
// Apply reads kafkaio.Records, decodes each once, runs every configured
// filter on it and returns one PCollection of kafkaio.Messages per filter
// (Outputs.Kept, by output name), the acknowledgements of dropped records
// (Outputs.Acks) and dead letters (Outputs.Dead). A kept alert keeps its
// original bytes unless its filter transformed it, in which case it is
// re-encoded with the reader schema (ZTF 4.02 container; LSST wire format
// with the reader's Rubin id). Messages are keyed by the alert id and go to
// a topic named after the output unless Config.Topics says otherwise.
//
// Acknowledgement rule: each record owes every output Config.Units ack
// units, and exactly one thing settles them: the kept message's write
// (the message carries Source and Units), an immediate kafkaio.AckOf in
// Outputs.Acks when the filter drops it (or it lacks a value, or the cap
// removes it), or the dead-letter message when the filter fails on it. A
// record that does not decode is one dead letter carrying the units of
// every output. So kafkaio.Commit with Units = Outputs.RecordUnits commits
// a record once every output is done with it, whichever way it went.
// Dead letters carry stage "filter/NAME" (the filter failed) or "filter"
// (the record does not decode) and the error.
//
// # Per-visit cap
//
// Config.CapPerVisit limits each output to N alerts per exposure (ZTF
// (jd, field), LSST diaSource.visit), keeping the highest S/N (Alert.SNR)
// and breaking ties by the lower id (Select); the rest are acknowledged,
// counted (filter_NAME_capped) and reported per visit as CapStats. Only
// (id, score, source) records wait, keyed by visit, in a gate that opens
// when the watermark passes the visit's event-time window; the kept alerts
// are then read back (Config.Reread) and filtered again, so the cap is
// exact however far alerts run ahead of the watermark (see Cap).
//
// # Live definitions
//
// Config.Definitions adds filters defined while a pipeline runs: records
// of a compacted Kafka topic, keyed by output name, whose values are
// Definitions (JSON: spec, owner, version; a tombstone removes the name).
// Each worker process follows the topic once (FollowDefinitions, on
// kafkaio.Follow) into a Live set, and every alert is filtered with one
// snapshot of it, taken as the alert is processed: a definition applies to
// the alerts processed after it is read. A definition that does not parse
// or check (DefinitionEnv.Check: an unknown built-in, CEL that does not
// type-check, a catalog or notice topic the run lacks) changes nothing; one
// named like a Config.Filters output replaces that filter while it stands.
// A definition's CapPerVisit caps it per visit as Cap does (its alerts wait
// as ids keyed by filter, version and visit, and are read back from Kafka).
// Every kept alert carries the headers HeaderName and HeaderVersion (0 for
// Config.Filters). The live filters together owe each record LiveShare
// outputs' units: each message they write for it carries one output's, and
// an immediate ack the rest, so a record commits only once all of them are
// written. PublishDefinition, ReadDefinitions, Standing and Try
// are the pieces of the command line's filters add, rm, list and try.
//
// # Testing filters
//
// Package filtertest builds alerts with chosen values and runs a spec
// through Apply on the direct runner, returning kept, dropped and
// dead-lettered ids; see its example.
package filter
