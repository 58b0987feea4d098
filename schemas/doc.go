// Package schemas holds alertbeam's Avro schemas for ZTF and LSST alerts and the
// catalogue that turns them into parsed hamba/avro schemas.
//
// Versions are data, not code: every version is a folder of .avsc files under
// avsc/<survey>/<version>/ (embedded in the binary), and a folder with the same
// layout on disk can add versions at run time (Catalogue.AddDir), so a new LSST
// minor version is a file drop.
package schemas
