package main

import (
	"flag"
	"os"

	"github.com/alertbeam/alertbeam/io/kafkaio"
)

// securityFlags are the Kafka security settings every Kafka subcommand
// takes. Rubin's stream: --security-protocol SASL_SSL --sasl-mechanism
// SCRAM-SHA-512 --username USER (password from $ALERTBEAM_KAFKA_PASSWORD).
type securityFlags struct {
	protocol, mechanism, username, password, caFile *string
}

func addSecurityFlags(fs *flag.FlagSet) *securityFlags {
	return &securityFlags{
		protocol:  fs.String("security-protocol", "PLAINTEXT", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
		mechanism: fs.String("sasl-mechanism", "", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)"),
		username:  fs.String("username", "", "SASL user name"),
		password:  fs.String("password", "", "SASL password (default: $ALERTBEAM_KAFKA_PASSWORD; flags show in process lists)"),
		caFile:    fs.String("ca-file", "", "PEM file of CAs to trust for SSL (default: the system's)"),
	}
}

func (f *securityFlags) security() kafkaio.Security {
	pw := *f.password
	if pw == "" {
		pw = os.Getenv("ALERTBEAM_KAFKA_PASSWORD")
	}
	s := kafkaio.Security{Protocol: *f.protocol, Mechanism: *f.mechanism, Username: *f.username, Password: pw, CAFile: *f.caFile}
	if s.Protocol == "PLAINTEXT" {
		s.Protocol = ""
	}
	return s
}
