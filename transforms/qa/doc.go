// Package qa runs aggregate quality checks over an alert stream: checks
// that judge an exposure as a whole, which no single-packet filter can.
//
//   - Rate: count the alerts of every exposure (or of every CCD or readout
//     quadrant of one) and act on groups above a threshold: an absolute
//     count, or a multiple of the running median of recent exposures. A bad
//     subtraction floods a stream with thousands of bogus alerts at once.
//   - Spatial correlation: within one exposure, find clumps of candidates
//     close together and candidates along a line (a bleed trail along a
//     CCD column beside a saturated star, a satellite streak along a great
//     circle), and act on them.
//
// A check rejects a flagged group (its alerts are dropped and
// acknowledged), throttles it (rate only: a fixed sample stays), or only
// flags it. Every flagged group is reported once as a Flag, and as one
// JSON record on the QA topic.
//
// Apply is the Beam transform; FindGroups, RateConfig.Threshold, Median and
// Sample are its plain-Go core.
//
// # The --qa spec
//
// ParseSpec reads the command line's --qa flag: checks separated by ',',
// each a name, '=' and options separated by ':'. A check left out is off.
//
//	rate=3x                          reject exposures with more than 3x the running median of alerts
//	rate=5000:throttle=100           exposures with more than 5000 alerts keep their 100 of highest S/N
//	rate=4x:by=quadrant:min=50:flag  report readout quadrants with more than 4x the median and more than 50
//	spatial                          reject clumps and lines with the defaults below
//	spatial=k=5:r=20                 reject more than 5 candidates linked within 20 arcsec
//	spatial=line=off:flag            report clumps only
//	rate=3x,spatial=k=5:r=20         both
//
// Rate options (a threshold is required):
//
//	N | Fx            threshold: a count, or F times the running median (F may be fractional: 2.5x)
//	reject | flag     action (default reject)
//	throttle=K        action: keep K alerts of the group, drop the rest
//	pick=snr|hash     what a throttle keeps: highest S/N, ties by lower id (default); or lowest
//	                  splitmix64(id), a fixed pseudo-random sample
//	by=exposure|ccd|quadrant  what is counted (default exposure). A ZTF exposure is one field
//	                  at one jd, so per exposure is per field; ccd is a ZTF CCD (4 quadrants),
//	                  quadrant a ZTF readout quadrant (rcid); for Rubin both are the detector
//	min=N             never flag a group of N alerts or fewer (default 0)
//	history=N         exposures the running median covers (default 10), each contributing
//	                  its group counts; it needs min(3, N) earlier exposures to judge at all
//	span=DURATION     and looks back no further than this (default 30m; Go duration syntax)
//
// Spatial options:
//
//	k=N          a clump is more than N candidates (default 5) ...
//	r=ARCSEC     ... each within r of another member: friends of friends (default 10)
//	line=N|off   a line is more than N candidates (default 8) ...
//	width=ARCSEC ... within width of one great circle (default 1) ...
//	gap=ARCSEC   ... no more than gap apart along it (default 120)
//	reject | flag  action (default reject)
//
// Distances are arcseconds (a trailing "arcsec" is accepted). Errors say
// which option is wrong and what would be right. An empty spec turns QA
// off.
//
// # Windows and triggers
//
// Every record is decoded once, partially (the alert id and the triggering
// detection, never the history or the cutouts), and re-timestamped with
// its observation time: ZTF candidate.jd, LSST diaSource.midpointMjdTai
// (TAI converted to UTC). Its small Point (id, position, readout unit and
// pixel, S/N) is grouped by exposure key (alert.Visit.Key) in fixed
// event-time windows of Config.Window (default 1 minute), with the trigger
// AfterEndOfWindow, a late firing for every late pane, Config.AllowedLateness
// and discarding panes. All alerts of an exposure share one observation
// time, so an exposure never straddles windows; the window only decides
// when its group closes: when the watermark passes the window's end. Read
// the stream with an observation-time event-time policy (or a MaxDelay
// above the delivery delay), or records re-timestamped behind the
// watermark are late.
//
// The on-time pane of an exposure runs the spatial check and counts the
// rate groups. A relative threshold needs the counts of earlier exposures:
// each count is sent to its own window's decision and, as history, to each
// window within the span after it, timestamped at that window's end, so
// that no copy holds back the watermark of the windows before it (a
// sliding window would hold the decision back by the whole span). A
// window's rate decision takes, for each of its exposures, the median of
// the group counts of the History exposures before it (by observation
// time, then key) within the span.
//
// # Joining decisions back
//
// Only small records are shuffled, and packets are never held in the
// pipeline. Each alert's id and Source go, keyed by exposure, to a gate (a
// stateful ParDo in the global window) with an event-time timer at the end
// of the exposure's window. The lists of ids to drop (spatial groups from
// the exposure's on-time pane; rate groups after the window's rate
// decision, where members and verdicts meet in a CoGroupByKey) go to the
// same gate. Every grouping on the way holds the watermark back until its
// output is out, so when the timer fires every on-time alert and every
// decision of the window has reached the gate, on any runner, whatever the
// order of arrival and however far alerts run ahead of the watermark. The
// gate acknowledges (with Config.Units) exactly the ids listed, and sends
// the others, in batches, to Config.Reread, which reads them back from
// where they already are: Kafka by offset (pipelines.RereadKafka) or the
// archive by file and index (pipelines.RereadArchive). So every record ends
// up exactly once in Outputs.Kept, Outputs.Acks or Outputs.Dead (a record that does not
// decode, or a kept one that can no longer be read back, is
// dead-lettered, stage "qa"), and the caller's offset commits stay exact.
// An alert a check only flags stays in Kept. A record delivered twice is
// judged by its id: both copies go the same way.
//
// Why not a side input: Beam's way of joining a per-window decision to
// the main input is a side input, and on Dataflow and Flink a side-input
// ParDo holds back main-input elements until their window's side input is
// ready. Prism (Beam v2.77, the direct runner) does not: it runs such a
// ParDo when the side input's watermark has caught up with the main
// input's, giving elements whose window is still open an empty side input,
// so alerts that ran ahead of the watermark would pass undecided. Holding
// the packets instead (a GroupByKey or state) would keep a window of them,
// up to 1.5 GB for one Rubin visit, in the runner. Re-reading costs a
// second read of each kept packet, which Kafka serves from its page cache.
//
// # Late alerts
//
// An exposure is decided once, when the watermark passes its window, from
// the alerts that reached it by then. An alert that comes later passes QA
// unjudged, at once: its exposure's gate has opened, so the timer it sets
// is already due. Its exposure's decision listed only the ids it dropped,
// and a late alert is in no list: it neither changes the exposure's count
// nor joins a cluster, even when the exposure was rejected.
//
//   - Within the allowed lateness its small record still reaches the
//     exposure's window, whose late pane reports it, as a Flag with Check
//     "late", Action "pass" and the number of late alerts in the pane (a
//     runner may fire one pane per late alert; prism does), on the QA topic
//     too, so an operator sees what went through.
//   - After the allowed lateness Beam drops its small record from the
//     expired window, so nothing reports it; the alert itself still passes
//     (the gate is in the global window and never drops anything).
//
// Passing late alerts (failing open) rather than guessing keeps the
// outcome the same on every runner: only listed ids are ever dropped.
//
// # Spatial index
//
// FindGroups projects an exposure onto the gnomonic tangent plane at its
// mean position and hashes the points into a square grid whose cell is the
// search radius (r for clumps, gap for lines). Neighbours within r are then
// the points of at most 3x3 cells, so friends of friends and line growing
// are linear in the points for a fixed density; candidate pairs are
// confirmed with exact spherical distances. A grid rather than HEALPix:
// one exposure covers at most ~50 square degrees, where the tangent plane
// distorts distances by under 1% (ZTF's corners are 5 degrees out); the
// gnomonic projection maps great circles onto straight lines, which is
// what finding satellite streaks needs; and a grid's cell can match any
// radius exactly, where HEALPix offers only powers-of-two resolutions and
// disc queries over a varying number of pixels. HEALPix earns its keep
// indexing the whole sky across exposures (a catalogue crossmatch), which
// this check never does.
//
// Lines grow from pairs of free points no more than gap apart, closest
// pairs first, extending at each end by the nearest point beyond it within
// the line's width; a line of more than Line points is settled (refitted,
// stray points dropped, every point within the width and connected by gaps
// of at most gap added) and taken, and pieces of one line are merged.
// Clumps are found among the points no line took. A group is a bleed trail
// when it is straight, on one readout unit, and along one pixel column
// (its x spread, at the group's own pixel scale, within two widths); a
// streak when it is straight otherwise; a clump if not straight. The result
// depends only on the set of points, never on their arrival order.
//
// # Runners
//
// Apply uses only what every portable runner supports: fixed windows with
// a late-firing trigger, GroupByKey, CoGroupByKey, and a stateful ParDo
// with an event-time timer. The tests run it on prism, with alerts ahead
// of the watermark (the generated nights release the next window's first
// visit before closing a window; pipelines TestFilterWithQA reads a
// bounded topic, so every alert is ahead).
//
// # QA records
//
// Each Flag goes to the QA topic as one JSON record keyed by the group's
// key, e.g. (one line each):
//
//	{"check":"rate","kind":"exposure","key":"ztf/2461368.6286458/341","exposure":"ztf/2461368.6286458/341",
//	 "time":"2026-11-24T03:05:15Z","count":3000,"threshold":2000,"median":1000,"action":"reject","kept":0}
//	{"check":"spatial","kind":"bleed-trail","key":"ztf/2461368.6260417/592",...,"count":20,"threshold":8,
//	 "action":"reject","kept":0,"geometry":{"members":[...],"centre":{"ra":150.1,"dec":2.5},
//	 "radius_arcsec":32,"ends":[{...},{...}],"length_arcsec":64,"width_arcsec":0.3,"units":[32]}}
//
// # Cost
//
// On the development machine (2 shared cores): FindGroups takes ~20-35 ms
// for a Rubin visit of 10,000 candidates, ~1 ms for a ZTF exposure of
// 1,000, ~12 ms for a ZTF rate spike of 10,000 and ~0.6 s for a Rubin
// spike of 50,000 (denser fields cost more: line growing looks at every
// pair within the gap); the partial decode takes 15-30 µs per ZTF packet,
// cutouts and all; a throttle's choice among 10,000 alerts ~3 ms. On
// prism, with the generated nights' alerts running ahead of the watermark,
// the last alert of a ZTF exposure (~1,000) leaves QA, read back from the
// embedded broker, a median ~0.1 s (at most ~0.3 s) after the stream moves
// the watermark past its window, and flags ~0.05 s after; for a Rubin
// visit of 10,000 alerts ~2.1-2.4 s, most of it reading the visit back
// while the generator in the same process makes the next one. Reading back
// alone (kafkaio BenchmarkFetch, 50 KB alerts, batches of ~450) runs at
// 9,000-15,000 alerts/s on the development machine. Run go test -bench .
// in this package and in io/kafkaio to measure.
package qa
