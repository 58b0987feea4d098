// Package igwn reads the gravitational-wave alerts of LIGO, Virgo and KAGRA
// in IGWN's JSON format, as GCN distributes them on Kafka (topic
// igwn.gwalert), and keeps the table of live events a filter matches
// optical alerts against: each event's time and multi-order sky map, the
// latest notice of a superevent replacing the earlier ones, a RETRACTION
// removing it.
package igwn
